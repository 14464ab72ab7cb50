package analysis

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// neighbourAgreement is the share of (point, neighbour) pairs among each point's k nearest 2-D
// neighbours that carry the same truth label: 1 when every group stays a separate island.
func neighbourAgreement(y [][2]float64, truth []int, k int) float64 {
	same, total := 0, 0
	d := make([]int, len(y))
	for i := range y {
		for j := range d {
			d[j] = j
		}
		dist := func(j int) float64 {
			dx, dy := y[i][0]-y[j][0], y[i][1]-y[j][1]
			return dx*dx + dy*dy
		}
		sort.Slice(d, func(a, b int) bool { return dist(d[a]) < dist(d[b]) })
		got := 0
		for _, j := range d {
			if j == i {
				continue
			}
			if truth[j] == truth[i] {
				same++
			}
			total++
			if got++; got == k {
				break
			}
		}
	}
	return float64(same) / float64(total)
}

// separation is the smallest distance between two groups' 2-D centroids divided by the largest
// group radius (RMS distance to its centroid): > 2 means the islands do not touch.
func separation(y [][2]float64, truth []int, k int) float64 {
	cx, cy, n := make([]float64, k), make([]float64, k), make([]float64, k)
	for i, p := range y {
		cx[truth[i]] += p[0]
		cy[truth[i]] += p[1]
		n[truth[i]]++
	}
	for c := range k {
		cx[c] /= n[c]
		cy[c] /= n[c]
	}
	radius := make([]float64, k)
	for i, p := range y {
		c := truth[i]
		radius[c] += (p[0]-cx[c])*(p[0]-cx[c]) + (p[1]-cy[c])*(p[1]-cy[c])
	}
	maxR := 0.0
	for c := range k {
		maxR = max(maxR, sqrt(radius[c]/n[c]))
	}
	minD := -1.0
	for a := range k {
		for b := a + 1; b < k; b++ {
			d := sqrt((cx[a]-cx[b])*(cx[a]-cx[b]) + (cy[a]-cy[b])*(cy[a]-cy[b]))
			if minD < 0 || d < minD {
				minD = d
			}
		}
	}
	return minD / maxR
}

func TestNeighbourAgreementHelper(t *testing.T) {
	y := [][2]float64{{0, 0}, {0, 1}, {10, 0}, {10, 1}}
	if got := neighbourAgreement(y, []int{0, 0, 1, 1}, 1); got != 1 {
		t.Fatalf("separated pairs: %v", got)
	}
	if got := neighbourAgreement(y, []int{0, 1, 0, 1}, 1); got != 0 {
		t.Fatalf("crossed pairs: %v", got)
	}
}

func TestTSNEExactKeepsBlobsApart(t *testing.T) {
	p, truth := blobs(5, 80, 50, 12, 21)
	y, err := TSNE(p, TSNEConfig{Seed: 1, Iterations: 500})
	if err != nil {
		t.Fatal(err)
	}
	agree, sep := neighbourAgreement(y, truth, 10), separation(y, truth, 5)
	t.Logf("exact: 10-NN agreement %.4f, separation %.2f", agree, sep)
	if agree < 0.99 || sep < 2 {
		t.Fatalf("blobs mixed in 2-D: agreement %.4f separation %.2f", agree, sep)
	}
	// A control: the same layout scored against shuffled labels must look mixed.
	shuffled := make([]int, len(truth))
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(len(truth)) {
		shuffled[i] = truth[j]
	}
	if neighbourAgreement(y, shuffled, 10) > 0.5 {
		t.Fatal("agreement metric does not react to wrong labels")
	}
}

func TestTSNEBarnesHutKeepsBlobsApart(t *testing.T) {
	n, iters := 400, 600
	if testing.Short() {
		n, iters = 250, 400
	}
	p, truth := blobs(6, n, 128, 14, 22)
	y, err := TSNE(p, TSNEConfig{Seed: 1, Iterations: iters, ExactMax: 100})
	if err != nil {
		t.Fatal(err)
	}
	agree, sep := neighbourAgreement(y, truth, 10), separation(y, truth, 6)
	t.Logf("Barnes-Hut on %d points: 10-NN agreement %.4f, separation %.2f", p.N, agree, sep)
	if agree < 0.99 || sep < 2 {
		t.Fatalf("blobs mixed in 2-D: agreement %.4f separation %.2f", agree, sep)
	}
}

func TestTSNEDeterministic(t *testing.T) {
	p, _ := blobs(3, 150, 20, 8, 5)
	cfg := TSNEConfig{Seed: 3, Iterations: 120, ExactMax: 10, Workers: 1}
	a, err := TSNE(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 3
	b, _ := TSNE(p, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Barnes-Hut layout depends on the worker count")
	}
	cfg.RandomInit = true
	c1, _ := TSNE(p, cfg)
	c2, _ := TSNE(p, cfg)
	if !reflect.DeepEqual(c1, c2) {
		t.Fatal("random init not reproducible for a seed")
	}
	cfg.Seed = 4
	if c3, _ := TSNE(p, cfg); reflect.DeepEqual(c1, c3) {
		t.Fatal("random init ignores the seed")
	}
}

func TestTSNEDuplicatesAndTinySets(t *testing.T) {
	rows := make([][]float64, 60)
	for i := range rows {
		rows[i] = []float64{float64(i % 3), 0, 1} // only 3 distinct points, 20 copies each
	}
	p, _ := PointsFromFloat64(rows)
	for _, exactMax := range []int{1000, 10} {
		y, err := TSNE(p, TSNEConfig{Seed: 1, Iterations: 200, ExactMax: exactMax})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range y {
			if v[0] != v[0] || v[1] != v[1] {
				t.Fatalf("exactMax %d: NaN at %d", exactMax, i)
			}
		}
	}
	small, _ := PointsFromFloat64([][]float64{{0}, {1}, {2}})
	if _, err := TSNE(small, TSNEConfig{}); err == nil {
		t.Fatal("3 points accepted")
	}
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

// knnSets returns each point's k nearest neighbours (brute force).
func knnSets(n, k int, dist func(i, j int) float64) [][]int {
	out := make([][]int, n)
	idx := make([]int, n)
	for i := range n {
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return dist(i, idx[a]) < dist(i, idx[b]) })
		for _, j := range idx {
			if j != i {
				out[i] = append(out[i], j)
				if len(out[i]) == k {
					break
				}
			}
		}
	}
	return out
}

// TestTSNEPreservesNeighbourhoodsOfAGrid embeds a flat 30×30 grid (20×20 with -short) rotated into 40 dimensions: a
// layout whose true 2-D picture is known. Most of each point's nearest neighbours in 40-d must be
// among its nearest neighbours in the embedding, for the exact and the Barnes–Hut gradient.
func TestTSNEPreservesNeighbourhoodsOfAGrid(t *testing.T) {
	const dim, k = 40, 8
	side := 30
	if testing.Short() {
		side = 20
	}
	rng := rand.New(rand.NewPCG(5, 5))
	// Two random orthonormal directions span the plane of the grid.
	u, v := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		u[j], v[j] = rng.NormFloat64(), rng.NormFloat64()
	}
	normalise := func(a []float64) {
		s := 0.0
		for _, x := range a {
			s += x * x
		}
		for j := range a {
			a[j] /= math.Sqrt(s)
		}
	}
	normalise(u)
	dot := 0.0
	for j := range dim {
		dot += u[j] * v[j]
	}
	for j := range dim {
		v[j] -= dot * u[j]
	}
	normalise(v)
	p := &Points{N: side * side, D: dim}
	for a := range side {
		for b := range side {
			for j := range dim {
				p.X = append(p.X, float64(a)*u[j]+float64(b)*v[j]+0.01*rng.NormFloat64())
			}
		}
	}
	truth := knnSets(p.N, k, func(i, j int) float64 { return sqDist(p.Row(i), p.Row(j)) })
	for _, tc := range []struct {
		name     string
		exactMax int
	}{{"exact", 1000}, {"barnes-hut", 100}} {
		y, err := TSNE(p, TSNEConfig{Seed: 1, Iterations: 500, ExactMax: tc.exactMax})
		if err != nil {
			t.Fatal(err)
		}
		got := knnSets(p.N, k, func(i, j int) float64 {
			dx, dy := y[i][0]-y[j][0], y[i][1]-y[j][1]
			return dx*dx + dy*dy
		})
		kept := 0
		for i := range truth {
			in := map[int]bool{}
			for _, j := range got[i] {
				in[j] = true
			}
			for _, j := range truth[i] {
				if in[j] {
					kept++
				}
			}
		}
		score := float64(kept) / float64(p.N*k)
		t.Logf("%s: %.3f of the %d nearest neighbours kept", tc.name, score, k)
		if score < 0.85 { // measured 0.961 exact, 0.951 Barnes–Hut
			t.Errorf("%s: only %.3f of the nearest neighbours kept", tc.name, score)
		}
	}
}

// Identical payloads give identical projections: a Barnes–Hut run where most points coincide
// must keep them together, keep the rest apart, and stay finite.
func TestTSNEBarnesHutHeavyDuplicates(t *testing.T) {
	p, truth := blobs(3, 100, 16, 12, 8)
	for i := range p.N {
		if truth[i] == 0 { // group 0 becomes 100 copies of one vector
			copy(p.Row(i), p.Row(0))
		}
	}
	y, err := TSNE(p, TSNEConfig{Seed: 1, Iterations: 300, ExactMax: 50})
	if err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if math.IsNaN(y[i][0]) || math.IsNaN(y[i][1]) {
			t.Fatalf("NaN at %d", i)
		}
		if truth[i] == 0 && y[i] != y[0] {
			t.Fatalf("copies of one vector drifted apart: %v vs %v", y[i], y[0])
		}
	}
	if a := neighbourAgreement(y, truth, 5); a < 0.99 {
		t.Fatalf("groups mixed: agreement %.3f", a)
	}
}
