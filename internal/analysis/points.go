// Package analysis studies the probes the system could not attribute: it groups them with K-means
// (K chosen by the paper's silhouette rule), summarises each group's payload fields, lays them out
// in 2-D with t-SNE and draws the pictures an analyst looks at (paper §4.3, App. N).
package analysis

import (
	"errors"
	"fmt"
	"math"
)

// Points is a dense row-major set of N vectors of dimension D. The analysis works in float64 so
// that sums over tens of thousands of 128-d vectors stay exact enough to be reproducible.
type Points struct {
	N, D int
	X    []float64
}

// Row returns vector i (a view, not a copy).
func (p *Points) Row(i int) []float64 { return p.X[i*p.D : (i+1)*p.D] }

// PointsFromFloat32 copies rows into a Points; all rows must have the same non-zero length and
// finite values.
func PointsFromFloat32(rows [][]float32) (*Points, error) { return pointsFrom(rows) }

// PointsFromFloat64 copies rows into a Points; all rows must have the same non-zero length and
// finite values.
func PointsFromFloat64(rows [][]float64) (*Points, error) { return pointsFrom(rows) }

func pointsFrom[T float32 | float64](rows [][]T) (*Points, error) {
	if len(rows) == 0 {
		return nil, errors.New("analysis: no vectors")
	}
	d := len(rows[0])
	if d == 0 {
		return nil, errors.New("analysis: vectors have dimension 0")
	}
	p := &Points{N: len(rows), D: d, X: make([]float64, 0, len(rows)*d)}
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("analysis: vector %d has dimension %d, want %d", i, len(r), d)
		}
		for j, v := range r {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("analysis: vector %d component %d is not finite", i, j)
			}
			p.X = append(p.X, f)
		}
	}
	return p, nil
}

// sqDist is the squared Euclidean distance; unrolled because it is the inner loop of K-means,
// silhouettes and the t-SNE neighbour search.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// parallelFor runs body over [0,n) split into contiguous chunks, one per worker. Results must be
// written to per-index slots so that the outcome does not depend on scheduling.
func parallelFor(n, workers int, body func(lo, hi int)) {
	if workers < 1 {
		workers = 1
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			body(0, n)
		}
		return
	}
	done := make(chan struct{}, workers)
	chunk := (n + workers - 1) / workers
	started := 0
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		started++
		go func(lo, hi int) {
			body(lo, hi)
			done <- struct{}{}
		}(lo, hi)
	}
	for range started {
		<-done
	}
}
