package evidence

import (
	"fmt"
	"strings"
	"testing"
)

// TestNetworkRuleNamesTheOrganisationOfALabelledSlash24: an IP whose
// evidence stays below θ is named after the organisation that holds (at
// least three quarters of) the labelled IPs of its /24, and only then.
func TestNetworkRuleNamesTheOrganisationOfALabelledSlash24(t *testing.T) {
	const k = 2 // classes 0 and 1 known; 2 is a no-org label
	cmb := &Combiner{K: k, Theta: 0.5, NetworkShare: DefaultNetworkShare}
	cmb.V[gBias] = 5 // unknown outweighs any organisation: θ is never reached
	// a payload the organisation's scanners send among many others: some
	// evidence for it, far from θ
	shared := digest("a payload everybody sends")
	probe := []Probe{{Service: "http", Digest: shared}}

	cases := []struct {
		name      string
		neighbour []int // classes of the labelled neighbours in 198.51.100.0/24
		self      int   // the IP's own label (-2: none)
		share     float64
		want      int
	}{
		{"three of three", []int{0, 0, 0}, -2, DefaultNetworkShare, 0},
		{"six of seven, the seventh another org", []int{0, 0, 0, 0, 0, 0, 1}, -2, DefaultNetworkShare, 0},
		{"two of two is not enough", []int{0, 0}, -2, DefaultNetworkShare, k},
		{"a no-org label counts against", []int{0, 0, 0, k}, -2, DefaultNetworkShare, k},
		{"unattributed neighbours do not count", []int{Unattributed, Unattributed, Unattributed}, -2, DefaultNetworkShare, k},
		{"listed with no org: label memory decides", []int{0, 0, 0}, k, DefaultNetworkShare, k},
		{"models saved before the rule", []int{0, 0, 0}, -2, 0, k},
		{"the network alone, no payload of the organisation", []int{1, 1, 1}, -2, DefaultNetworkShare, k},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, pay := NewMemory(k), NewPayloads()
			pay.Add("http", shared, addr("203.0.113.1"), 0)
			for i := range 20 {
				pay.Add("http", shared, addr(fmt.Sprintf("192.0.2.%d", i+1)), Unattributed)
			}
			for i, c := range tc.neighbour {
				mem.Add(addr(fmt.Sprintf("198.51.100.%d", 10+i)), c)
			}
			ip := addr("198.51.100.200")
			if tc.self != -2 {
				mem.Add(ip, tc.self)
			}
			row := Build(ip, probe, mem, pay)
			m := *cmb
			m.NetworkShare = tc.share
			v := m.Decide(&row, m.Theta)
			if v.Class != tc.want {
				t.Fatalf("class %d, want %d (verdict %+v)", v.Class, tc.want, v)
			}
			if tc.want == k {
				if v.ByNetwork {
					t.Fatalf("unknown, yet by network: %+v", v)
				}
				return
			}
			if !v.ByNetwork || v.Network != tc.want || v.Prob >= m.Theta || !strings.Contains(v.Evidence, EvidenceNeighbourhood) {
				t.Fatalf("verdict %+v: want by network, below θ, with neighbourhood evidence", v)
			}
		})
	}
}

// TestNetworkRuleInTheValidationCurve: the rule names an innocent-looking
// validation scanner at every threshold, which the curve shows as an
// unattributed scanner attributed; it is not counted as over-attribution θ
// causes, since no θ removes it (θ would be pushed to its strictest for
// nothing).
func TestNetworkRuleInTheValidationCurve(t *testing.T) {
	mem, pay := NewMemory(1), NewPayloads()
	for i := range 3 {
		mem.Add(addr(fmt.Sprintf("198.51.100.%d", 10+i)), 0)
	}
	pay.Add("http", digest("x"), addr("203.0.113.1"), 0)
	row := Build(addr("198.51.100.200"), []Probe{{Service: "http", Digest: digest("x")}}, mem, pay)
	cmb := &Combiner{K: 1, NetworkShare: DefaultNetworkShare}
	cmb.V[gBias] = 5
	for _, p := range cmb.OperatingCurve([]Example{{Row: row, Label: Unattributed}}) {
		if p.UnattributedAttributed != 1 || p.InnocentAttributed != 0 {
			t.Fatalf("θ %.2f: unattributed attributed %.2f (want 1), innocent attributed by θ %.2f (want 0)", p.Theta, p.UnattributedAttributed, p.InnocentAttributed)
		}
	}
	cmb.NetworkShare = 0
	if p := cmb.OperatingCurve([]Example{{Row: row, Label: Unattributed}})[0]; p.UnattributedAttributed != 0 {
		t.Fatalf("without the rule: unattributed attributed %.2f", p.UnattributedAttributed)
	}
}

// TestNoOrgNetworkOverridesTheThreshold: an unlisted IP in a /24 whose
// labelled IPs are (two thirds or more) scanners of no known organisation
// is unknown even when its payload evidence reaches θ; without the rule
// (models saved before it) the payload names the organisation.
func TestNoOrgNetworkOverridesTheThreshold(t *testing.T) {
	const k = 1
	mem, pay := NewMemory(k), NewPayloads()
	d := digest("the organisation's payload")
	for i := range 5 {
		pay.Add("http", d, addr(fmt.Sprintf("203.0.113.%d", i+1)), 0)
	}
	mem.Add(addr("167.94.138.10"), k)
	mem.Add(addr("167.94.138.11"), k)
	ip := addr("167.94.138.200")
	row := Build(ip, []Probe{{Service: "http", Digest: d}}, mem, pay)
	cmb := Combiner{K: k, Theta: 0.5, NetworkShare: DefaultNetworkShare, NoOrgNetworkShare: DefaultNoOrgNetworkShare}
	cmb.W[fPayMax] = 10
	if v := cmb.Decide(&row, cmb.Theta); v.Class != k || v.Network != k || v.BestProb < cmb.Theta {
		t.Fatalf("in a no-org /24: %+v, want unknown although the best probability reaches θ", v)
	}
	if p := cmb.OperatingCurve([]Example{{Row: row, Label: Unattributed}})[0]; p.InnocentAttributed != 0 {
		t.Fatalf("the curve attributes it at θ %.2f", p.Theta)
	}
	cmb.NoOrgNetworkShare = 0
	if v := cmb.Decide(&row, cmb.Theta); v.Class != 0 {
		t.Fatalf("without the rule: %+v, want the organisation", v)
	}
	mem.Add(ip, 0) // listed: label memory decides
	row = Build(ip, []Probe{{Service: "http", Digest: d}}, mem, pay)
	cmb.NoOrgNetworkShare = DefaultNoOrgNetworkShare
	if v := cmb.Decide(&row, cmb.Theta); v.Class != 0 || v.Evidence == "" {
		t.Fatalf("listed in a no-org /24: %+v, want its label", v)
	}
}

// TestNetworkRuleLowerBarNeedsOwnedPayload: one labelled IP of a /24 (and
// no other organisation's) names an IP below θ only when the IP's own
// payload is one the organisation owns; a payload everybody sends is not
// enough, nor is a /24 that two organisations share.
func TestNetworkRuleLowerBarNeedsOwnedPayload(t *testing.T) {
	const k = 2
	owned, shared := digest("a payload mostly the organisation sends"), digest("a payload everybody sends")
	cases := []struct {
		name      string
		neighbour []int
		payload   [32]byte
		bar       float64
		want      int
	}{
		{"one of one, an owned payload", []int{0}, owned, DefaultNetworkShareOwned, 0},
		{"one of one, a shared payload", []int{0}, shared, DefaultNetworkShareOwned, k},
		{"one each of two organisations", []int{0, 1}, owned, DefaultNetworkShareOwned, k},
		{"models saved before the lower bar", []int{0}, owned, 0, k},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, pay := NewMemory(k), NewPayloads()
			for i := range 3 {
				pay.Add("http", owned, addr(fmt.Sprintf("203.0.113.%d", i+1)), 0)
			}
			pay.Add("http", owned, addr("192.0.2.1"), Unattributed)
			pay.Add("http", shared, addr("203.0.113.1"), 0)
			for i := range 20 {
				pay.Add("http", shared, addr(fmt.Sprintf("192.0.2.%d", i+1)), Unattributed)
			}
			for i, c := range tc.neighbour {
				mem.Add(addr(fmt.Sprintf("198.51.100.%d", 10+i)), c)
			}
			row := Build(addr("198.51.100.200"), []Probe{{Service: "http", Digest: tc.payload}}, mem, pay)
			cmb := Combiner{K: k, Theta: 0.5, NetworkShare: DefaultNetworkShare, NetworkShareOwned: tc.bar}
			cmb.V[gBias] = 5 // θ is never reached
			v := cmb.Decide(&row, cmb.Theta)
			if v.Class != tc.want || v.ByNetwork != (tc.want < k) {
				t.Fatalf("verdict %+v, want class %d", v, tc.want)
			}
		})
	}
}

// TestSlash16AloneNamesNobody: an organisation whose only evidence is its
// labelled IPs elsewhere in the IP's /16 is not named, however probable
// the weights make it; the most probable organisation with evidence of the
// IP's own is, when it reaches θ. Models saved before the rule still name
// the /16's organisation.
func TestSlash16AloneNamesNobody(t *testing.T) {
	const k = 2
	mem, pay := NewMemory(k), NewPayloads()
	for i := range 4 {
		mem.Add(addr(fmt.Sprintf("198.51.7.%d", 10+i)), 1) // org 1's /24 beside the IP's
	}
	owned := digest("org 0's own payload")
	for i := range 3 {
		pay.Add("http", owned, addr(fmt.Sprintf("203.0.113.%d", i+1)), 0)
	}
	cmb := Combiner{K: k, OwnEvidence: true}
	cmb.W[fNb16Lab] = 5
	cmb.W[fPayAnyOwn] = 3.5
	cmb.V[gBias] = -5
	const theta = 0.3

	withPayload := Build(addr("198.51.100.200"), []Probe{{Service: "http", Digest: owned}}, mem, pay)
	if v := cmb.Decide(&withPayload, theta); v.Class != 0 || v.Best != 0 || v.BestProb < theta {
		t.Fatalf("own payload of org 0, /16 of org 1: %+v, want org 0", v)
	}
	alone := Build(addr("198.51.100.201"), []Probe{{Service: "http", Digest: digest("nobody's")}}, mem, pay)
	if v := cmb.Decide(&alone, theta); v.Class != k || v.Best != -1 {
		t.Fatalf("only the /16 of org 1: %+v, want unknown", v)
	}
	old := cmb
	old.OwnEvidence = false
	if v := old.Decide(&withPayload, theta); v.Class != 1 {
		t.Fatalf("models saved before the rule: %+v, want org 1 (the /16's weight)", v)
	}
}
