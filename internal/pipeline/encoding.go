package pipeline

import (
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// encoding is a series encoded with a layout: one image per distinct
// image its inputs encode to, in the order of the first probe that has it.
// Predicting the images in that order asks the classifier the same
// distinct questions in the same order as predicting every probe would, so
// the answers are the same.
type encoding struct {
	s     *Series
	local []int32 // input → index in imgs (-1: the series does not use it)
	// byPos is the inputs' byPos when encoded: a later reveal renumbers
	// the inputs, and this encoding keeps reading the numbers it used.
	byPos []uint32
	imgs  [][]uint8
	keys  []feature.ImageKey
}

// encodeSeries encodes s's distinct inputs with l. Inputs that differ in
// what l does not read (another field, a per-connection value) share an
// image. It reads the per-connection values again when l encodes one
// (Series.reads): the only error.
func encodeSeries(l *feature.Layout, s *Series) (*encoding, error) {
	if err := s.readsLayout(l); err != nil {
		return nil, err
	}
	e := &encoding{s: s, local: make([]int32, len(s.in.list)), byPos: s.in.byPos}
	for i := range e.local {
		e.local[i] = -1
	}
	byKey := map[feature.ImageKey]int32{}
	scratch := make([]uint8, l.Pixels())
	var buf probe.Fields
	for _, r := range s.recs.all() {
		in := s.in.of(r)
		if e.local[in] >= 0 {
			continue
		}
		p := s.in.probeInto(in, buf)
		buf = p.Fields
		l.Encode(p, scratch)
		k := feature.KeyOf(scratch)
		j, ok := byKey[k]
		if !ok {
			j = int32(len(e.imgs))
			byKey[k] = j
			e.imgs = append(e.imgs, slices.Clone(scratch))
			e.keys = append(e.keys, k)
		}
		e.local[in] = j
	}
	return e, nil
}

// row is the index in imgs of probe i's image.
func (e *encoding) row(i int) int32 { return e.local[inputAt(e.byPos, e.s.recs.at(i))] }

// img is probe i's image.
func (e *encoding) img(i int) []uint8 { return e.imgs[e.row(i)] }

// key is probe i's image digest.
func (e *encoding) key(i int) feature.ImageKey { return e.keys[e.row(i)] }

// perProbe spreads values per image (parallel to imgs) over the probes.
func (e *encoding) perProbe(v []int) []int {
	out := make([]int, e.s.Len())
	for i := range out {
		out[i] = v[e.row(i)]
	}
	return out
}
