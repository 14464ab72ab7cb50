package analysis

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
)

// OrgVector is one probe's projection and the org it belongs to (labelled) or was attributed to.
type OrgVector struct {
	Org    string
	Vector []float32
}

// KnownClassInput feeds the paper's Fig. 2: unknown-class probes that the system attributed to a
// known org, and the labelled probes of known orgs.
type KnownClassInput struct {
	Labelled   []OrgVector
	Attributed []OrgVector
}

// KnownViewConfig bounds the view.
type KnownViewConfig struct {
	MaxOrgs   int // orgs shown, those with the most attributed probes first (default 5, as the paper colours 5)
	MaxPerOrg int // labelled probes drawn per org, a seeded sample (default 1000; 5 orgs × 1000 is as much as a figure can show)
	TSNE      TSNEConfig
}

// minViewPoints is the fewest probes a t-SNE view is drawn for (tsne.go
// needs 4).
const minViewPoints = 4

func (c KnownViewConfig) withDefaults() KnownViewConfig {
	if c.MaxOrgs <= 0 {
		c.MaxOrgs = 5
	}
	if c.MaxPerOrg <= 0 {
		c.MaxPerOrg = 1000
	}
	return c
}

// OrgCount says how many points of an org the view shows.
type OrgCount struct {
	Org        string `json:"org"`
	Labelled   int    `json:"labelled_probes"`
	Attributed int    `json:"attributed_unknown_probes"`
}

// KnownClassView embeds, in one t-SNE, the attributed unknown-class probes of the MaxOrgs orgs
// that received the most of them, together with (a sample of) those orgs' labelled probes. The
// attributed probes come back with Highlight set. A view with nothing attributed is empty, not an
// error.
func KnownClassView(in KnownClassInput, cfg KnownViewConfig) ([]ViewPoint, []OrgCount, error) {
	cfg = cfg.withDefaults()
	attributed := map[string]int{}
	for _, a := range in.Attributed {
		attributed[a.Org]++
	}
	if len(attributed) == 0 {
		return nil, nil, nil
	}
	orgs := make([]string, 0, len(attributed))
	for o := range attributed {
		orgs = append(orgs, o)
	}
	slices.SortFunc(orgs, func(a, b string) int {
		if c := cmp.Compare(attributed[b], attributed[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if len(orgs) > cfg.MaxOrgs {
		orgs = orgs[:cfg.MaxOrgs]
	}
	shown := map[string]int{}
	for i, o := range orgs {
		shown[o] = i
	}
	byOrg := make([][]int, len(orgs))
	for i, l := range in.Labelled {
		if k, ok := shown[l.Org]; ok {
			byOrg[k] = append(byOrg[k], i)
		}
	}
	counts := make([]OrgCount, len(orgs))
	var rows [][]float32
	var pts []ViewPoint
	for k, idx := range byOrg {
		if len(idx) > cfg.MaxPerOrg {
			rng := rand.New(rand.NewPCG(cfg.TSNE.Seed, uint64(k)+0x6f7267))
			rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
			idx = idx[:cfg.MaxPerOrg]
			slices.Sort(idx)
		}
		counts[k] = OrgCount{Org: orgs[k], Labelled: len(idx)}
		for _, i := range idx {
			rows = append(rows, in.Labelled[i].Vector)
			pts = append(pts, ViewPoint{Group: orgs[k]})
		}
	}
	for _, a := range in.Attributed {
		if k, ok := shown[a.Org]; ok {
			counts[k].Attributed++
			rows = append(rows, a.Vector)
			pts = append(pts, ViewPoint{Group: a.Org, Highlight: true})
		}
	}
	if len(rows) < minViewPoints {
		// t-SNE of a handful of points says nothing; the counts still do.
		return nil, counts, nil
	}
	p, err := PointsFromFloat32(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("known-class view: %w", err)
	}
	y, err := TSNE(p, cfg.TSNE)
	if err != nil {
		return nil, nil, err
	}
	for i := range pts {
		pts[i].X, pts[i].Y = y[i][0], y[i][1]
	}
	return pts, counts, nil
}
