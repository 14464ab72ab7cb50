package evidence

import (
	"cmp"
	"slices"
)

// Contribution is what one piece of evidence added to an outcome's
// utility: its value in the row times the weight the combiner learnt for
// it. Positive effects speak for the outcome, negative ones against it.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	Effect  float64 `json:"effect"`
}

// CandidateContributions are the non-zero effects on a candidate
// organisation's utility, strongest first (the bias, which every candidate
// shares, left out).
func (m *Combiner) CandidateContributions(c *Candidate) []Contribution {
	return contributions(c.F[:], m.W[:], ClassFeatureNames[:], fBias)
}

// UnknownContributions are the non-zero effects on the "unknown" outcome's
// utility, strongest first (bias left out).
func (m *Combiner) UnknownContributions(r *Row) []Contribution {
	return contributions(r.Unknown[:], m.V[:], UnknownFeatureNames[:], gBias)
}

func contributions(f, w []float64, names []string, bias int) []Contribution {
	var out []Contribution
	for i, v := range f {
		if i == bias || v == 0 || w[i] == 0 {
			continue
		}
		out = append(out, Contribution{Feature: names[i], Value: v, Effect: v * w[i]})
	}
	slices.SortStableFunc(out, func(a, b Contribution) int {
		return cmp.Compare(abs(b.Effect), abs(a.Effect))
	})
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
