package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// blobs draws k isotropic Gaussian groups of n points in d dimensions. Centres are random
// directions scaled to `sep`, so in high dimension they are nearly equidistant; the spread is 1.
func blobs(k, n, d int, sep float64, seed uint64) (*Points, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, k)
	for c := range centres {
		v := make([]float64, d)
		norm := 0.0
		for j := range v {
			v[j] = rng.NormFloat64()
			norm += v[j] * v[j]
		}
		for j := range v {
			v[j] *= sep / math.Sqrt(norm)
		}
		centres[c] = v
	}
	p := &Points{N: k * n, D: d, X: make([]float64, 0, k*n*d)}
	truth := make([]int, 0, k*n)
	// Interleave the groups so that no algorithm can profit from input order.
	for i := range n {
		_ = i
		for c := range k {
			for j := range d {
				p.X = append(p.X, centres[c][j]+rng.NormFloat64())
			}
			truth = append(truth, c)
		}
	}
	return p, truth
}

// purity is the share of points whose cluster's majority truth label is their own.
func purity(labels, truth []int) float64 {
	counts := map[[2]int]int{}
	for i := range labels {
		counts[[2]int{labels[i], truth[i]}]++
	}
	majority := map[int]int{}
	for key, n := range counts {
		majority[key[0]] = max(majority[key[0]], n)
	}
	total := 0
	for _, n := range majority {
		total += n
	}
	return float64(total) / float64(len(labels))
}

func TestPurityHelper(t *testing.T) {
	if got := purity([]int{0, 0, 1, 1}, []int{5, 5, 6, 6}); got != 1 {
		t.Fatalf("perfect clustering purity %v", got)
	}
	if got := purity([]int{0, 0, 0, 0}, []int{5, 5, 6, 6}); got != 0.5 {
		t.Fatalf("one cluster over two groups purity %v", got)
	}
}
