package analysis

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestKMeansSeparatesBlobs(t *testing.T) {
	p, truth := blobs(5, 200, 128, 12, 7)
	res, err := KMeans(p, KMeansConfig{K: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := purity(res.Labels, truth); got < 0.99 {
		t.Fatalf("purity %.3f on well-separated blobs, want >= 0.99", got)
	}
	for c, n := range res.Sizes {
		if n != 200 {
			t.Errorf("cluster %d has %d points, want 200", c, n)
		}
	}
}

func TestKMeansOverlappingBlobsStillMostlyPure(t *testing.T) {
	// Centres 6σ from the origin in 2-D in random directions overlap a little.
	p, truth := blobs(4, 250, 2, 6, 3)
	res, err := KMeans(p, KMeansConfig{K: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := purity(res.Labels, truth)
	t.Logf("purity %.3f", got)
	if got < 0.8 { // measured 0.853 with these seeds
		t.Fatalf("purity %.3f, want >= 0.8", got)
	}
}

func TestKMeansDeterministicAcrossWorkers(t *testing.T) {
	p, _ := blobs(6, 100, 16, 3, 11)
	a, err := KMeans(p, KMeansConfig{K: 6, Seed: 42, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := KMeans(p, KMeansConfig{K: 6, Seed: 42, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different worker count: results differ")
	}
	for c := 1; c < len(a.Sizes); c++ {
		if a.Sizes[c] > a.Sizes[c-1] {
			t.Fatalf("clusters not numbered by decreasing size: %v", a.Sizes)
		}
	}
}

func TestKMeansEdgeCases(t *testing.T) {
	p, _ := PointsFromFloat64([][]float64{{0, 0}, {0, 0}, {0, 0}, {1, 1}})
	res, err := KMeans(p, KMeansConfig{K: 3, Seed: 1})
	if err != nil {
		t.Fatalf("duplicate points: %v", err)
	}
	if len(res.Labels) != 4 || res.K != 3 {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.Labels[3] == res.Labels[0] {
		t.Fatalf("distinct point shares a cluster with the duplicates: %v", res.Labels)
	}
	for _, tc := range []struct {
		name string
		p    *Points
		k    int
		want string
	}{
		{"no points", nil, 2, "no points"},
		{"K zero", p, 0, "K >= 1"},
		{"K above N", p, 5, "K=5 on 4 points"},
	} {
		_, err := KMeans(tc.p, KMeansConfig{K: tc.k})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPointsValidation(t *testing.T) {
	nan := float32(0)
	nan = nan / nan
	for _, tc := range []struct {
		name string
		rows [][]float32
		want string
	}{
		{"empty", nil, "no vectors"},
		{"zero dim", [][]float32{{}}, "dimension 0"},
		{"ragged", [][]float32{{1, 2}, {1}}, "vector 1 has dimension 1"},
		{"nan", [][]float32{{1, nan}}, "not finite"},
	} {
		_, err := PointsFromFloat32(tc.rows)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSilhouetteKnownValues(t *testing.T) {
	// Two pairs on a line: {0,1} and {10,11}. For x=0: a=1, b=mean(10,11)=10.5, s=1-1/10.5.
	p, _ := PointsFromFloat64([][]float64{{0}, {1}, {10}, {11}})
	s, err := Silhouette(p, []int{0, 0, 1, 1}, 2, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1 - 1/10.5, 1 - 1/9.5, 1 - 1/9.5, 1 - 1/10.5}
	for i := range want {
		if d := s.Values[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Errorf("silhouette[%d] = %v, want %v", i, s.Values[i], want[i])
		}
	}
	// A singleton cluster scores 0.
	s, err = Silhouette(p, []int{0, 0, 0, 1}, 2, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Values[3] != 0 {
		t.Errorf("singleton silhouette %v, want 0", s.Values[3])
	}
}

func TestSampleIndices(t *testing.T) {
	a := SampleIndices(1000, 100, 5)
	b := SampleIndices(1000, 100, 5)
	if !reflect.DeepEqual(a, b) || len(a) != 100 {
		t.Fatalf("sample not reproducible or wrong size: %d", len(a))
	}
	for i := 1; i < len(a); i++ {
		if a[i] <= a[i-1] {
			t.Fatal("sample not strictly ascending")
		}
	}
	if c := SampleIndices(1000, 100, 6); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same sample")
	}
	if all := SampleIndices(50, 100, 5); len(all) != 50 {
		t.Fatalf("small set not kept whole: %d", len(all))
	}
}

func TestSilhouetteRuleRecoversK(t *testing.T) {
	for _, k := range []int{4, 7} {
		p, truth := blobs(k, 120, 128, 40, uint64(100+k))
		res, err := Cluster(p, ClusterConfig{Seed: 9, SilhouetteSample: 400})
		if err != nil {
			t.Fatal(err)
		}
		if res.K != k {
			t.Errorf("blobs K=%d: rule chose %d (scores %+v)", k, res.K, res.Scores)
		}
		if got := purity(res.Labels, truth); got < 0.99 {
			t.Errorf("blobs K=%d: purity %.3f", k, got)
		}
		if len(res.Scores) != 8 || res.Scores[0].K != 3 || res.Scores[7].K != 10 {
			t.Errorf("search table %+v, want K=3..10", res.Scores)
		}
		t.Logf("K=%d scores: %+v", k, res.Scores)
	}
}

func TestClusterFixedKAndTooFewPoints(t *testing.T) {
	p, _ := blobs(3, 30, 4, 10, 1)
	res, err := Cluster(p, ClusterConfig{K: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.K != 5 || res.Chosen != "fixed" {
		t.Fatalf("override ignored: K=%d chosen=%q", res.K, res.Chosen)
	}
	small, _ := PointsFromFloat64([][]float64{{0}, {1}, {2}})
	if _, err := Cluster(small, ClusterConfig{}); err == nil {
		t.Fatal("3 points cannot support a K search in 3..10")
	}
}

// plainLloyd is the textbook algorithm, to check that the bounds never change an assignment.
func plainLloyd(p *Points, cent []float64, k, maxIter int) []int {
	d := p.D
	labels := make([]int, p.N)
	for i := range labels {
		labels[i] = -1
	}
	for range maxIter {
		changed := false
		for i := range p.N {
			best, bestD := 0, sqDist(p.Row(i), cent[:d])
			for c := 1; c < k; c++ {
				if dd := sqDist(p.Row(i), cent[c*d:(c+1)*d]); dd < bestD {
					best, bestD = c, dd
				}
			}
			if labels[i] != best {
				labels[i], changed = best, true
			}
		}
		if !changed {
			break
		}
		sums := make([]float64, k*d)
		counts := make([]int, k)
		for i, c := range labels {
			counts[c]++
			for j, v := range p.Row(i) {
				sums[c*d+j] += v
			}
		}
		for c := range k {
			for j := range d {
				if counts[c] > 0 {
					cent[c*d+j] = sums[c*d+j] / float64(counts[c])
				}
			}
		}
	}
	return labels
}

func TestBoundedLloydMatchesPlainLloyd(t *testing.T) {
	// Overlapping groups, so that many points change cluster over many iterations.
	p, _ := blobs(6, 150, 8, 2.5, 17)
	for seed := range uint64(5) {
		for _, k := range []int{3, 6, 9} {
			init := kmeansPlusPlus(p, k, rand.New(rand.NewPCG(seed, 9)))
			want := plainLloyd(p, append([]float64(nil), init...), k, 300)
			got := lloydFrom(p, append([]float64(nil), init...), k, 300)
			if !reflect.DeepEqual(got.Labels, want) {
				t.Fatalf("seed %d K=%d: bounded Lloyd differs from plain Lloyd", seed, k)
			}
			if got.Iter < 3 {
				t.Errorf("seed %d K=%d converged in %d iterations; the case is too easy", seed, k, got.Iter)
			}
		}
	}
}
