package simulate

import (
	"cmp"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Templates per org (Config.TemplatesPerOrg). Real orgs run anything from
// one configuration per service to a handful (software versions, scan
// modules, path lists); a world where every org has k templates shows how
// much attribution relies on an org sending few distinct payloads. Extra
// templates are derived from the org's own, without randomness, so that
// the same k gives the same templates in every world: a derived template
// differs from its base in one field, as a new version of a tool would.

// setTemplatesPerOrg gives every org profile exactly k templates in each
// service it has; each service's emitter derives the extra ones
// (probe.Template.Derive). A follow-up a kept template names may have been
// dropped: it is then not sent (templateByName finds none).
func (c *catalog) setTemplatesPerOrg(k int) {
	for _, org := range c.orgNames {
		op := c.orgs[org]
		for svc := range op.templates {
			op.templates[svc] = resizeTemplates(op.templates[svc], k,
				func(t probe.Template) float64 { return t.Weight() },
				func(base probe.Template, j int) probe.Template { return base.Derive(j) })
		}
	}
}

// resizeTemplates keeps the k heaviest of vs (file order among equals) or
// adds derived ones until there are k; the j-th derived one (j = 1, 2, ...)
// comes from vs[(j-1) mod len(vs)]. An empty vs (a service the org does
// not use) stays empty.
func resizeTemplates[V any](vs []V, k int, weight func(V) float64, derive func(base V, j int) V) []V {
	if len(vs) == 0 {
		return vs
	}
	if len(vs) >= k {
		idx := make([]int, len(vs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(weight(vs[b]), weight(vs[a])) })
		idx = idx[:k]
		slices.Sort(idx)
		out := make([]V, k)
		for i, j := range idx {
			out[i] = vs[j]
		}
		return out
	}
	out := slices.Clone(vs)
	for j := 1; len(out) < k; j++ {
		out = append(out, derive(vs[(j-1)%len(vs)], j))
	}
	return out
}
