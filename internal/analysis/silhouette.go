package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
)

// SilhouetteSample holds silhouette values for a subset of the points (all of them when the set
// is small). Like scikit-learn's silhouette_score(sample_size=...), both a(i) and b(i) are measured
// within the subset, so the cost is O(s²·D) whatever N is.
type SilhouetteSample struct {
	Index  []int     // indices into the clustered points, ascending
	Values []float64 // silhouette of Index[j]
	Mean   float64
}

// SampleIndices returns all of 0..n-1 when n <= max (or max <= 0), otherwise max distinct indices
// drawn with the seed, sorted ascending.
func SampleIndices(n, max int, seed uint64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if max <= 0 || n <= max {
		return idx
	}
	rng := rand.New(rand.NewPCG(seed, 0x73696c68))
	for i := range max {
		j := i + rng.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:max]
	sort.Ints(idx)
	return idx
}

// Silhouette computes exact silhouettes (Euclidean) of the points in sample, using only those
// points. A point alone in its cluster within the sample scores 0, as in scikit-learn.
func Silhouette(p *Points, labels []int, k int, sample []int) (*SilhouetteSample, error) {
	if len(labels) != p.N {
		return nil, fmt.Errorf("analysis: %d labels for %d points", len(labels), p.N)
	}
	if k < 2 {
		return nil, fmt.Errorf("analysis: silhouette needs K >= 2, got %d", k)
	}
	for _, i := range sample {
		if i < 0 || i >= p.N || labels[i] < 0 || labels[i] >= k {
			return nil, fmt.Errorf("analysis: bad sample index or label at point %d", i)
		}
	}
	s := len(sample)
	size := make([]int, k)
	for _, i := range sample {
		size[labels[i]]++
	}
	vals := make([]float64, s)
	parallelFor(s, runtime.GOMAXPROCS(0), func(lo, hi int) {
		sum := make([]float64, k)
		for a := lo; a < hi; a++ {
			clear(sum)
			ia := sample[a]
			ra := p.Row(ia)
			for _, ib := range sample {
				if ib == ia {
					continue
				}
				sum[labels[ib]] += math.Sqrt(sqDist(ra, p.Row(ib)))
			}
			own := labels[ia]
			if size[own] <= 1 {
				vals[a] = 0
				continue
			}
			in := sum[own] / float64(size[own]-1)
			out := math.Inf(1)
			for c := range k {
				if c != own && size[c] > 0 {
					out = min(out, sum[c]/float64(size[c]))
				}
			}
			if math.IsInf(out, 1) {
				vals[a] = 0
				continue
			}
			if den := max(in, out); den > 0 {
				vals[a] = (out - in) / den
			}
		}
	})
	mean := 0.0
	for _, v := range vals {
		mean += v
	}
	if s > 0 {
		mean /= float64(s)
	}
	return &SilhouetteSample{Index: append([]int(nil), sample...), Values: vals, Mean: mean}, nil
}
