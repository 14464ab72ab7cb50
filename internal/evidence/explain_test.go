package evidence

import "testing"

// TestContributionsNameEachEffect: effects are value × weight, strongest
// first by magnitude, with the bias and absent evidence left out.
func TestContributionsNameEachEffect(t *testing.T) {
	m := &Combiner{K: 2}
	m.W[fBias], m.W[fPayOwn], m.W[fNb24Lab], m.W[fNNMean] = 5, 4, -3, 2
	var c Candidate
	c.F[fBias], c.F[fPayOwn], c.F[fNb24Lab], c.F[fNNMean], c.F[fCIDR] = 1, 0.5, 1, 0.25, 1
	got := m.CandidateContributions(&c)
	want := []Contribution{{"nb24_labelled", 1, -3}, {"payload_owned", 0.5, 2}, {"classifier_mean", 0.25, 0.5}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("contribution %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	var r Row
	r.Unknown[gBias], r.Unknown[gPayUnattr] = 1, 0.5
	m.V[gBias], m.V[gPayUnattr] = 1, 6
	if u := m.UnknownContributions(&r); len(u) != 1 || u[0].Feature != "payload_unattributed" || u[0].Effect != 3 {
		t.Errorf("unknown contributions %+v: want payload_unattributed +3 only", u)
	}
}
