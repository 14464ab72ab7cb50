package analysis

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
)

// KMeansConfig controls one K-means fit. The defaults mirror the artifact's
// KMeans(init='k-means++', n_init=10, max_iter=300).
type KMeansConfig struct {
	K        int
	Restarts int    // independent k-means++ initialisations; the lowest inertia wins (default 10)
	MaxIter  int    // Lloyd iterations per restart (default 300)
	Seed     uint64 // every restart derives its stream from Seed and its index
	Workers  int    // restarts run in parallel; 0 = GOMAXPROCS. The result does not depend on it.
}

func (c KMeansConfig) withDefaults() KMeansConfig {
	if c.Restarts <= 0 {
		c.Restarts = 10
	}
	if c.MaxIter <= 0 {
		c.MaxIter = 300
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// KMeansResult is a clustering. Clusters are numbered by decreasing size (ties: the cluster whose
// first member comes first), so cluster 0 is always the largest and numbering is reproducible.
type KMeansResult struct {
	K         int
	Labels    []int       // cluster of each point
	Centroids [][]float64 // K centroids in the input space
	Sizes     []int
	Inertia   float64 // sum of squared distances to the assigned centroid
	Iter      int     // Lloyd iterations of the winning restart
}

// KMeans clusters p into cfg.K groups with k-means++ seeding and Lloyd iterations until no point
// changes cluster (or MaxIter). Same input and seed give the same result on any machine.
func KMeans(p *Points, cfg KMeansConfig) (*KMeansResult, error) {
	cfg = cfg.withDefaults()
	if p == nil || p.N == 0 {
		return nil, errors.New("analysis: k-means on no points")
	}
	if cfg.K < 1 {
		return nil, fmt.Errorf("analysis: k-means needs K >= 1, got %d", cfg.K)
	}
	if cfg.K > p.N {
		return nil, fmt.Errorf("analysis: k-means with K=%d on %d points", cfg.K, p.N)
	}
	runs := make([]*KMeansResult, cfg.Restarts)
	next := make(chan int, cfg.Restarts)
	for r := range cfg.Restarts {
		next <- r
	}
	close(next)
	done := make(chan struct{})
	workers := min(cfg.Workers, cfg.Restarts)
	for range workers {
		go func() {
			for r := range next {
				rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b6d65616e73^uint64(r)))
				runs[r] = lloyd(p, cfg.K, cfg.MaxIter, rng)
			}
			done <- struct{}{}
		}()
	}
	for range workers {
		<-done
	}
	best := runs[0]
	for _, r := range runs[1:] {
		if r.Inertia < best.Inertia {
			best = r
		}
	}
	best.canonicalise()
	return best, nil
}

// kmeansPlusPlus is the greedy variant (2+ln K candidates per step, keep the one that lowers the
// potential most), which is what scikit-learn runs and is markedly more robust than plain k-means++.
func kmeansPlusPlus(p *Points, k int, rng *rand.Rand) []float64 {
	cent := make([]float64, k*p.D)
	first := rng.IntN(p.N)
	copy(cent[:p.D], p.Row(first))
	closest := make([]float64, p.N)
	pot := 0.0
	for i := range p.N {
		closest[i] = sqDist(p.Row(i), cent[:p.D])
		pot += closest[i]
	}
	trials := 2 + int(math.Log(float64(k)))
	cand := make([]float64, p.N)
	bestCand := make([]float64, p.N)
	for c := 1; c < k; c++ {
		bestIdx, bestPot := -1, math.Inf(1)
		for range trials {
			idx := sampleByWeight(closest, pot, rng)
			row := p.Row(idx)
			s := 0.0
			for i := range p.N {
				cand[i] = min(closest[i], sqDist(p.Row(i), row))
				s += cand[i]
			}
			if s < bestPot {
				bestPot, bestIdx = s, idx
				copy(bestCand, cand)
			}
		}
		copy(cent[c*p.D:(c+1)*p.D], p.Row(bestIdx))
		copy(closest, bestCand)
		pot = bestPot
	}
	return cent
}

// sampleByWeight draws an index with probability weight[i]/total; with all weights zero (fewer
// distinct points than K) it falls back to a uniform draw.
func sampleByWeight(weight []float64, total float64, rng *rand.Rand) int {
	if total <= 0 {
		return rng.IntN(len(weight))
	}
	r := rng.Float64() * total
	acc := 0.0
	for i, w := range weight {
		acc += w
		if r < acc {
			return i
		}
	}
	for i := len(weight) - 1; i >= 0; i-- {
		if weight[i] > 0 {
			return i
		}
	}
	return len(weight) - 1
}

// lloyd runs Lloyd's iterations with Hamerly's bounds: each point keeps an upper bound on the
// distance to its centre and a lower bound on the distance to any other, and only points whose
// bounds overlap are measured again. The assignments are those of plain Lloyd; the work after the
// first few iterations drops to a fraction.
func lloyd(p *Points, k, maxIter int, rng *rand.Rand) *KMeansResult {
	return lloydFrom(p, kmeansPlusPlus(p, k, rng), k, maxIter)
}

func lloydFrom(p *Points, cent []float64, k, maxIter int) *KMeansResult {
	d := p.D
	labels := make([]int, p.N)
	upper := make([]float64, p.N)
	lower := make([]float64, p.N)
	nearest := func(i int) {
		row := p.Row(i)
		b1, b2, c1 := math.Inf(1), math.Inf(1), 0
		for c := range k {
			dd := sqDist(row, cent[c*d:(c+1)*d])
			if dd < b1 {
				b2, b1, c1 = b1, dd, c
			} else if dd < b2 {
				b2 = dd
			}
		}
		labels[i], upper[i], lower[i] = c1, math.Sqrt(b1), math.Sqrt(b2)
	}
	for i := range p.N {
		nearest(i)
	}
	sums := make([]float64, k*d)
	counts := make([]int, k)
	old := make([]float64, k*d)
	moved := make([]float64, k)
	half := make([]float64, k)
	iter := 0
	for iter < maxIter {
		iter++
		// Update step.
		taken := map[int]bool{}
		copy(old, cent)
		clear(sums)
		clear(counts)
		for i := range p.N {
			c := labels[i]
			counts[c]++
			s := sums[c*d : (c+1)*d]
			for j, v := range p.Row(i) {
				s[j] += v
			}
		}
		for c := range k {
			if counts[c] == 0 {
				// An emptied cluster takes the point worst served by its centre, so K stays K.
				far := -1
				for i := range upper {
					if !taken[i] && (far < 0 || upper[i] > upper[far]) {
						far = i
					}
				}
				taken[far] = true
				copy(cent[c*d:(c+1)*d], p.Row(far))
				continue
			}
			inv := 1 / float64(counts[c])
			for j := range d {
				cent[c*d+j] = sums[c*d+j] * inv
			}
		}
		maxMove, secondMove, maxC := 0.0, 0.0, -1
		for c := range k {
			moved[c] = math.Sqrt(sqDist(cent[c*d:(c+1)*d], old[c*d:(c+1)*d]))
			if moved[c] > maxMove {
				secondMove, maxMove, maxC = maxMove, moved[c], c
			} else if moved[c] > secondMove {
				secondMove = moved[c]
			}
		}
		for c := range k {
			half[c] = math.Inf(1)
			for o := range k {
				if o != c {
					half[c] = min(half[c], math.Sqrt(sqDist(cent[c*d:(c+1)*d], cent[o*d:(o+1)*d]))/2)
				}
			}
		}
		// Assignment step.
		changed := 0
		for i := range p.N {
			a := labels[i]
			upper[i] += moved[a]
			if a == maxC {
				lower[i] -= secondMove
			} else {
				lower[i] -= maxMove
			}
			bound := max(half[a], lower[i])
			if upper[i] <= bound {
				continue
			}
			upper[i] = math.Sqrt(sqDist(p.Row(i), cent[a*d:(a+1)*d]))
			if upper[i] <= bound {
				continue
			}
			nearest(i)
			if labels[i] != a {
				changed++
			}
		}
		if changed == 0 {
			break
		}
	}
	res := &KMeansResult{K: k, Labels: labels, Iter: iter}
	// Centres of the final assignment, so Centroids and Inertia describe Labels exactly.
	clear(sums)
	clear(counts)
	for i := range p.N {
		c := labels[i]
		counts[c]++
		for j, v := range p.Row(i) {
			sums[c*d+j] += v
		}
	}
	for c := range k {
		if counts[c] > 0 {
			for j := range d {
				cent[c*d+j] = sums[c*d+j] / float64(counts[c])
			}
		}
	}
	for i := range p.N {
		res.Inertia += sqDist(p.Row(i), cent[labels[i]*d:(labels[i]+1)*d])
	}
	res.Centroids = make([][]float64, k)
	for c := range k {
		res.Centroids[c] = append([]float64(nil), cent[c*d:(c+1)*d]...)
	}
	return res
}

func (r *KMeansResult) canonicalise() {
	k := r.K
	sizes := make([]int, k)
	firstSeen := make([]int, k)
	for c := range firstSeen {
		firstSeen[c] = math.MaxInt
	}
	for i, c := range r.Labels {
		sizes[c]++
		if firstSeen[c] == math.MaxInt {
			firstSeen[c] = i
		}
	}
	order := make([]int, k)
	for c := range order {
		order[c] = c
	}
	sort.SliceStable(order, func(a, b int) bool {
		if sizes[order[a]] != sizes[order[b]] {
			return sizes[order[a]] > sizes[order[b]]
		}
		return firstSeen[order[a]] < firstSeen[order[b]]
	})
	newID := make([]int, k)
	cents := make([][]float64, k)
	r.Sizes = make([]int, k)
	for n, old := range order {
		newID[old] = n
		cents[n] = r.Centroids[old]
		r.Sizes[n] = sizes[old]
	}
	for i, c := range r.Labels {
		r.Labels[i] = newID[c]
	}
	r.Centroids = cents
}
