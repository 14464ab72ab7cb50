package pipeline

import (
	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// encoding is a series encoded with a layout: one image per distinct input
// the series uses, in the order of its first probe. Predicting the images
// in that order asks the classifier the same distinct questions in the same
// order as predicting every probe would, so the answers are the same.
type encoding struct {
	s     *Series
	local []int32 // input → index in imgs (-1: the series does not use it)
	imgs  [][]uint8
	keys  []feature.ImageKey
}

// encodeSeries encodes s's distinct inputs with l.
func encodeSeries(l *feature.Layout, s *Series) *encoding {
	e := &encoding{s: s, local: make([]int32, len(s.in.probes))}
	for i := range e.local {
		e.local[i] = -1
	}
	var order []uint32
	for _, r := range s.recs {
		if e.local[r.in] < 0 {
			e.local[r.in] = int32(len(order))
			order = append(order, r.in)
		}
	}
	n := l.Pixels()
	backing := make([]uint8, len(order)*n)
	e.imgs = make([][]uint8, len(order))
	e.keys = make([]feature.ImageKey, len(order))
	for j, in := range order {
		e.imgs[j] = backing[j*n : (j+1)*n : (j+1)*n]
		l.Encode(s.in.probes[in], e.imgs[j])
		e.keys[j] = feature.KeyOf(e.imgs[j])
	}
	return e
}

// row is the index in imgs of probe i's image.
func (e *encoding) row(i int) int32 { return e.local[e.s.recs[i].in] }

// img is probe i's image.
func (e *encoding) img(i int) []uint8 { return e.imgs[e.row(i)] }

// key is probe i's image digest.
func (e *encoding) key(i int) feature.ImageKey { return e.keys[e.row(i)] }

// perProbe spreads values per image (parallel to imgs) over the probes.
func (e *encoding) perProbe(v []int) []int {
	out := make([]int, len(e.s.recs))
	for i := range out {
		out[i] = v[e.row(i)]
	}
	return out
}
