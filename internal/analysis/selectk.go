package analysis

import (
	"errors"
	"fmt"
)

// ClusterConfig chooses K and fits the final clustering.
type ClusterConfig struct {
	K                int    // > 0: use this K and skip the search
	KMin, KMax       int    // search range, default 3..10 (paper App. N)
	Restarts         int    // k-means++ restarts per K (default 10)
	MaxIter          int    // Lloyd iterations per restart (default 300)
	SilhouetteSample int    // silhouettes on at most this many points (default 2000; <0 = all)
	Seed             uint64 // drives k-means++ and the silhouette sample
	Workers          int    // 0 = GOMAXPROCS; results do not depend on it
}

func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.KMin <= 0 {
		c.KMin = 3
	}
	if c.KMax <= 0 {
		c.KMax = 10
	}
	if c.SilhouetteSample == 0 {
		c.SilhouetteSample = 2000
	}
	return c
}

// KScore is one row of the silhouette rule's table.
type KScore struct {
	K                 int     `json:"k"`
	ClustersAboveMean int     `json:"clusters_above_mean"` // clusters whose best member silhouette > MeanSilhouette
	Ratio             float64 `json:"ratio"`               // ClustersAboveMean / K
	MeanSilhouette    float64 `json:"mean_silhouette"`
	Inertia           float64 `json:"inertia"`
}

// Clustering is the outcome of Cluster: the chosen fit and, unless K was fixed, the search table.
type Clustering struct {
	*KMeansResult
	Chosen      string            `json:"chosen"` // "silhouette rule" or "fixed"
	Scores      []KScore          `json:"scores,omitempty"`
	Sampled     int               `json:"silhouette_points"` // points the silhouettes were measured on
	Silhouettes *SilhouetteSample `json:"-"`
}

// SilhouetteRule scores one clustering by the paper's App. N rule: the share of clusters whose best
// member silhouette exceeds the mean silhouette of all (sampled) points.
func SilhouetteRule(labels []int, k int, s *SilhouetteSample) KScore {
	best := make([]float64, k)
	seen := make([]bool, k)
	for j, i := range s.Index {
		c := labels[i]
		if !seen[c] || s.Values[j] > best[c] {
			best[c], seen[c] = s.Values[j], true
		}
	}
	above := 0
	for c := range k {
		if seen[c] && best[c] > s.Mean {
			above++
		}
	}
	return KScore{K: k, ClustersAboveMean: above, Ratio: float64(above) / float64(k), MeanSilhouette: s.Mean}
}

// Cluster runs K-means for every K in KMin..KMax (clipped to what the number of points allows) and
// keeps the K with the largest silhouette-rule ratio, the smallest K on ties; with cfg.K > 0 it
// fits that K only. The artifact hard-codes K per service and has no silhouette code (docs/paper-faithful.md
// §6), so the rule follows the paper's text; the tie-break is ours because the ratio often
// saturates at 1.
func Cluster(p *Points, cfg ClusterConfig) (*Clustering, error) {
	cfg = cfg.withDefaults()
	if p == nil || p.N == 0 {
		return nil, errors.New("analysis: nothing to cluster")
	}
	km := KMeansConfig{Restarts: cfg.Restarts, MaxIter: cfg.MaxIter, Seed: cfg.Seed, Workers: cfg.Workers}
	sample := SampleIndices(p.N, cfg.SilhouetteSample, cfg.Seed)
	if cfg.K > 0 {
		km.K = cfg.K
		res, err := KMeans(p, km)
		if err != nil {
			return nil, err
		}
		out := &Clustering{KMeansResult: res, Chosen: "fixed", Sampled: len(sample)}
		if cfg.K >= 2 {
			if s, err := Silhouette(p, res.Labels, res.K, sample); err == nil {
				out.Silhouettes = s
				sc := SilhouetteRule(res.Labels, res.K, s)
				sc.Inertia = res.Inertia
				out.Scores = []KScore{sc}
			}
		}
		return out, nil
	}
	if cfg.KMin > cfg.KMax {
		return nil, fmt.Errorf("analysis: empty K range %d..%d", cfg.KMin, cfg.KMax)
	}
	// A silhouette needs 2 <= K <= s-1 on the s sampled points.
	kMax := min(cfg.KMax, len(sample)-1)
	kMin := max(cfg.KMin, 2)
	if kMin > kMax {
		return nil, fmt.Errorf("analysis: %d points are too few to choose K in %d..%d", p.N, cfg.KMin, cfg.KMax)
	}
	var best *Clustering
	var scores []KScore
	for k := kMin; k <= kMax; k++ {
		km.K = k
		res, err := KMeans(p, km)
		if err != nil {
			return nil, err
		}
		s, err := Silhouette(p, res.Labels, k, sample)
		if err != nil {
			return nil, err
		}
		sc := SilhouetteRule(res.Labels, k, s)
		sc.Inertia = res.Inertia
		scores = append(scores, sc)
		// Compare ratios as fractions so no rounding can break a tie.
		if best == nil || sc.ClustersAboveMean*best.K > best.Scores[0].ClustersAboveMean*k {
			best = &Clustering{KMeansResult: res, Chosen: "silhouette rule", Sampled: len(sample), Silhouettes: s, Scores: []KScore{sc}}
		}
	}
	best.Scores = scores
	return best, nil
}
