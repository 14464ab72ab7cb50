package evidence

import (
	"crypto/sha256"
	"encoding/json"
	"math"
	"net/netip"
	"testing"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func digest(s string) Digest { return sha256.Sum256([]byte(s)) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 } // float32 probabilities

func TestMemoryListsNeighboursAndNetworks(t *testing.T) {
	m := NewMemory(2) // classes 0, 1 known; 2 = labelled no-org
	m.Add(addr("192.0.2.1"), 0)
	m.Add(addr("192.0.2.2"), 0)
	m.Add(addr("192.0.2.3"), 1)
	m.Add(addr("192.0.2.4"), Unattributed)
	m.Add(addr("192.0.2.4"), 1) // a label learnt later replaces "seen unlabelled"
	m.Add(addr("192.0.2.1"), 1) // a second label does not move an IP
	m.Add(addr("192.0.7.9"), 2)
	m.AddCIDR(netip.MustParsePrefix("198.51.100.0/24"), 1)

	if c, ok := m.Listed(addr("192.0.2.1")); !ok || c != 0 {
		t.Fatalf("192.0.2.1 listed as %d %v, want 0", c, ok)
	}
	if c, ok := m.Listed(addr("::ffff:192.0.2.4")); !ok || c != 1 {
		t.Fatalf("mapped 192.0.2.4 listed as %d %v, want 1 (relabelled)", c, ok)
	}
	if _, ok := m.Listed(addr("192.0.2.99")); ok || m.Seen(addr("192.0.2.99")) {
		t.Fatal("an unseen IP is listed or seen")
	}
	// From 192.0.2.1's point of view: itself left out, one more of class 0,
	// two of class 1 in the /24; the /16 adds the no-org one.
	n24, n16 := m.Neighbourhood(addr("192.0.2.1"))
	if n24.ByClass[0] != 1 || n24.ByClass[1] != 2 || n24.Labelled != 3 || n24.All != 3 {
		t.Fatalf("/24 neighbours %+v", n24)
	}
	if n16.ByClass[2] != 1 || n16.Labelled != 4 {
		t.Fatalf("/16 neighbours %+v", n16)
	}
	if c, ok := m.CIDR(addr("198.51.100.77")); !ok || c != 1 {
		t.Fatalf("CIDR lookup %d %v", c, ok)
	}
	if _, ok := m.CIDR(addr("198.51.101.1")); ok {
		t.Fatal("CIDR lookup outside the network")
	}
	// A clone learns alone.
	c := m.Clone()
	c.Add(addr("203.0.113.5"), 0)
	c.AddCIDR(netip.MustParsePrefix("203.0.113.0/24"), 0)
	if m.Seen(addr("203.0.113.5")) {
		t.Fatal("clone wrote into the original")
	}
	if _, ok := m.CIDR(addr("203.0.113.9")); ok {
		t.Fatal("clone's network leaked into the original")
	}
}

func TestBuildMeasuresEveryKindOfEvidence(t *testing.T) {
	m := NewMemory(2)
	m.Add(addr("192.0.2.1"), 0) // the IP judged, listed as org 0
	m.Add(addr("192.0.2.2"), 0)
	m.Add(addr("192.0.2.3"), Unattributed)
	m.Add(addr("192.0.9.1"), 1)
	pay := NewPayloads()
	own, shared := digest("org-0 own payload"), digest("zgrab2 default")
	for i, c := range []int{0, 0, 0, Unattributed} { // 3 of 4 senders are org 0
		pay.Add("http", own, addr("203.0.113."+string(rune('1'+i))), c)
	}
	pay.Add("http", own, addr("203.0.113.1"), 0) // the same sender again counts once
	for i, c := range []int{1, Unattributed, Unattributed, Unattributed} {
		pay.Add("tls", shared, addr("203.0.114."+string(rune('1'+i))), c)
	}
	if s := pay.Senders("http", own); s[0] != 3 || s[Unattributed] != 1 {
		t.Fatalf("senders %v", s)
	}
	probes := []Probe{
		{Service: "http", Digest: own, Probs: []float32{0.7, 0.1, 0.2}},
		{Service: "tls", Digest: shared, Probs: []float32{0.1, 0.5, 0.4}},
		{Service: "tls", Digest: digest("never seen"), Probs: []float32{0.2, 0.2, 0.6}},
		{Service: "dns", Digest: digest("no classifier")}, // no probabilities
	}
	r := Build(addr("192.0.2.1"), probes, m, pay)
	if !r.Seen || len(r.Candidates) != 2 {
		t.Fatalf("row %+v", r)
	}
	c0, c1 := r.Candidates[0].F, r.Candidates[1].F
	// org 0: listed; payload share 3/(4+1) on 1 of 4 probes; owns it; the
	// classifier's mean 1.0/4; top on 1 of 4; one /24 neighbour of 0 among
	// one labelled (+1) and two remembered (+1), among two labelled and
	// three remembered in the /16; best in one of three services probed.
	want0 := map[int]float64{fBias: 1, fListed: 1, fPayMean: 0.6 / 4, fPayMax: 0.6, fPayOwn: 0.25, fPayAnyOwn: 1,
		fNNMean: 1.0 / 4, fNNTop: 0.25, fNb24Lab: 0.5, fNb24All: 1.0 / 3, fNb16Lab: 1.0 / 3, fNb16All: 0.25,
		fNb24Count: math.Log(2) / math.Log(256), fSvcShare: 1.0 / 3}
	for f, v := range want0 {
		if !near(c0[f], v) {
			t.Errorf("org 0 %s = %v, want %v", ClassFeatureNames[f], c0[f], v)
		}
	}
	// org 1: one of four senders of the shared payload (1/5), not owned;
	// the classifier's top for that probe; its /16 neighbour only.
	want1 := map[int]float64{fListed: 0, fPayMean: 0.2 / 4, fPayMax: 0.2, fPayOwn: 0, fPayAnyOwn: 0, fNNTop: 0.25,
		fNNUnseen: 0, fNb24Lab: 0, fNb16Lab: 1.0 / 3, fSvcShare: 1.0 / 3, fNNMean: 0.8 / 4}
	for f, v := range want1 {
		if !near(c1[f], v) {
			t.Errorf("org 1 %s = %v, want %v", ClassFeatureNames[f], c1[f], v)
		}
	}
	u := r.Unknown
	wantU := map[int]float64{gBias: 1, gPayUnattr: (1.0/5 + 3.0/5) / 4, gUnseen: 0.5, gNNUnknown: 1.2 / 4,
		gNb24Unattr: 1.0 / 3, gListedUnknown: 0, gProbes: math.Log(5) / math.Log(1000)}
	for f, v := range wantU {
		if !near(u[f], v) {
			t.Errorf("unknown %s = %v, want %v", UnknownFeatureNames[f], u[f], v)
		}
	}
	// A new IP with nothing to go on has no candidate.
	if r := Build(addr("203.0.200.1"), nil, m, pay); r.Seen || len(r.Candidates) != 0 {
		t.Fatalf("empty row %+v", r)
	}
}

// world builds examples of three kinds: listed members (half of them
// sending only a generic tool's payload), new members that send their
// org's own payload (with unattributed hidden members sending it too), and
// innocent scanners sending the generic payload.
func world(t *testing.T) (*Memory, *Payloads, []Example) {
	t.Helper()
	m := NewMemory(2)
	pay := NewPayloads()
	own := []Digest{digest("org0"), digest("org1")}
	shared := digest("generic")
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}) }
	n := 0
	for c := range 2 {
		for range 40 {
			pay.Add("http", own[c], ip(n), c)
			n++
		}
		for range 8 { // hidden members
			pay.Add("http", own[c], ip(n), Unattributed)
			n++
		}
		pay.Add("http", shared, ip(n), c)
		n++
	}
	for range 200 {
		pay.Add("http", shared, ip(n), Unattributed)
		n++
	}
	var ex []Example
	for i := range 40 { // listed, returning members; some only run the generic tool
		c := i % 2
		a := addr("192.0.2." + itoa(i+1))
		m.Add(a, c)
		d := own[c]
		if i >= 20 {
			d = shared
		}
		ex = append(ex, Example{Row: Build(a, []Probe{{Service: "http", Digest: d}}, m, pay), Label: c})
	}
	for i := range 30 { // new members
		c := i % 2
		a := addr("198.51." + itoa(i+1) + ".1")
		ex = append(ex, Example{Row: Build(a, []Probe{{Service: "http", Digest: own[c]}}, m, pay), Label: c})
	}
	for i := range 10 { // hidden members in the validation slice
		c := i % 2
		a := addr("198.18." + itoa(i+1) + ".1")
		ex = append(ex, Example{Row: Build(a, []Probe{{Service: "http", Digest: own[c]}}, m, pay), Label: Unattributed})
	}
	for i := range 100 { // innocent scanners
		a := addr("203.0." + itoa(i+1) + ".1")
		ex = append(ex, Example{Row: Build(a, []Probe{{Service: "http", Digest: shared}}, m, pay), Label: Unattributed})
	}
	return m, pay, ex
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestFitNamesMembersAndNotInnocents(t *testing.T) {
	m, pay, ex := world(t)
	cmb, err := Fit(2, ex, FitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cmb.Curve = cmb.OperatingCurve(ex)
	cmb.Theta = ChooseTheta(cmb.Curve, 0.05)
	for _, tc := range []struct {
		name   string
		ip     string
		probes []Probe
		want   int
		ev     string
	}{
		{"new member of org 1", "100.64.0.1", []Probe{{Service: "http", Digest: digest("org1")}}, 1, "payload"},
		{"listed member", "192.0.2.2", []Probe{{Service: "http", Digest: digest("generic")}}, 1, "listed+payload+neighbourhood"},
		{"innocent", "100.64.0.2", []Probe{{Service: "http", Digest: digest("generic")}}, 2, ""},
		{"nothing known", "100.64.0.3", []Probe{{Service: "http", Digest: digest("never")}}, 2, ""},
	} {
		r := Build(addr(tc.ip), tc.probes, m, pay)
		v := cmb.Decide(&r, cmb.Theta)
		if v.Class != tc.want || v.Evidence != tc.ev {
			t.Errorf("%s: class %d (%q, p %.2f), want %d (%q); θ %.2f", tc.name, v.Class, v.Evidence, v.Prob, tc.want, tc.ev, cmb.Theta)
		}
	}
	if cmb.W[fPayMean]+cmb.W[fPayMax]+cmb.W[fPayOwn]+cmb.W[fPayAnyOwn] <= 0 {
		t.Errorf("owned payloads should speak for an org: weights %v", cmb.W)
	}
	if cmb.W[fListed] != 0 {
		t.Errorf("listed rows are decided by label memory and stay out of the fit, yet the listing weighs %v", cmb.W[fListed])
	}
	// Same examples, same weights.
	again, _ := Fit(2, ex, FitConfig{})
	if again.W != cmb.W || again.V != cmb.V {
		t.Fatal("fit is not deterministic")
	}
}

// TestUnlistedMembersStayOutOfTheFit: without the presumption, the hidden
// members that send their org's payload teach the combiner that the
// payload means unknown.
func TestUnlistedMembersStayOutOfTheFit(t *testing.T) {
	_, _, ex := world(t)
	dominated, innocent := 0, 0
	for _, e := range ex {
		if e.Label == Unattributed {
			if e.Row.orgDominated() {
				dominated++
			} else {
				innocent++
			}
		}
	}
	if dominated != 10 || innocent != 100 {
		t.Fatalf("%d unattributed rows presumed members, %d innocent; want 10 and 100", dominated, innocent)
	}
}

func TestFitRefusesWhatCannotBeCalibrated(t *testing.T) {
	_, _, ex := world(t)
	var known []Example
	for _, e := range ex {
		if e.Label >= 0 {
			known = append(known, e)
		}
	}
	if _, err := Fit(2, known, FitConfig{}); err == nil {
		t.Fatal("a fit without unknown rows succeeded")
	}
	if _, err := Fit(2, []Example{{Row: Row{Unknown: [NumUnknownFeatures]float64{1}}, Label: Unattributed}}, FitConfig{}); err == nil {
		t.Fatal("a fit without known rows succeeded")
	}
}

func TestChooseThetaBoundsOverAttribution(t *testing.T) {
	curve := []CurvePoint{
		{Theta: 0.1, LabelledF1: 0.95, InnocentAttributed: 0.30},
		{Theta: 0.3, LabelledF1: 0.93, InnocentAttributed: 0.04},
		{Theta: 0.4, LabelledF1: 0.93, InnocentAttributed: 0.03},
		{Theta: 0.5, LabelledF1: 0.93, InnocentAttributed: 0.02},
		{Theta: 0.6, LabelledF1: 0.90, InnocentAttributed: 0.01},
		{Theta: 0.7, LabelledF1: 0.85, InnocentAttributed: 0.02},
	}
	for _, tc := range []struct{ max, want float64 }{
		{0.05, 0.3},  // 0.3, 0.4 and 0.5 tie on F1 within the bound: the lowest one
		{0.025, 0.5}, // only 0.5 of the three keeps within it
		{0.01, 0.6},
		{0.5, 0.1},
		{0.001, 0.7}, // nothing keeps within: the strictest threshold
	} {
		if got := ChooseTheta(curve, tc.max); got != tc.want {
			t.Errorf("ChooseTheta(max %.3f) = %.2f, want %.2f", tc.max, got, tc.want)
		}
	}
}

func TestSavedEvidenceRoundTrips(t *testing.T) {
	m, pay, ex := world(t)
	b, err := json.Marshal(Save(m, pay))
	if err != nil {
		t.Fatal(err)
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	m2, pay2, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex[:5] {
		probes := []Probe{{Service: "http", Digest: digest("org0")}, {Service: "http", Digest: digest("generic")}}
		a, b := Build(e.Row.IP, probes, m, pay), Build(e.Row.IP, probes, m2, pay2)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("evidence differs after save and load:\n%s\n%s", ja, jb)
		}
	}
	s.Addresses["not an address"] = 0
	if _, _, err := s.Load(); err == nil {
		t.Fatal("a bad address loaded")
	}
}

func TestBuildAsNewForgetsTheIPItself(t *testing.T) {
	m := NewMemory(1)
	pay := NewPayloads()
	own, solo := digest("org payload"), digest("sent by the IP alone")
	self := addr("192.0.2.10")
	m.Add(self, 0)
	m.Add(addr("192.0.2.11"), 0)
	pay.Add("http", own, self, 0)
	pay.Add("http", own, addr("192.0.2.11"), 0)
	pay.Add("http", own, addr("203.0.113.1"), Unattributed)
	pay.Add("http", solo, self, 0)
	probes := []Probe{{Service: "http", Digest: own}, {Service: "http", Digest: solo}}

	listed := Build(self, probes, m, pay)
	if !listed.Seen || listed.Candidates[0].F[fListed] != 1 || !near(listed.Candidates[0].F[fPayMax], 2.0/4) {
		t.Fatalf("as listed: %+v", listed.Candidates)
	}
	r := BuildAsNew(self, probes, m, pay)
	if r.Seen {
		t.Fatal("as new, the IP is still seen")
	}
	f := r.Candidates[0].F
	// own: one org sender and one unattributed left, 1/(2+1); solo: nobody
	// left, so unseen.
	if f[fListed] != 0 || !near(f[fPayMax], 1.0/3) || !near(f[fPayMean], 1.0/3/2) || !near(r.Unknown[gUnseen], 0.5) {
		t.Fatalf("as new: listed %v, payload max %v mean %v, unseen %v", f[fListed], f[fPayMax], f[fPayMean], r.Unknown[gUnseen])
	}
	// The neighbour still speaks (it is another IP).
	if !near(f[fNb24Lab], 1.0/2) {
		t.Fatalf("as new: /24 neighbours %v", f[fNb24Lab])
	}
	// The tables themselves are untouched.
	if s := pay.Senders("http", own); s[0] != 2 {
		t.Fatalf("senders changed: %v", s)
	}
}

func TestNearestSeenPayloadSpeaksForAnUnseenOne(t *testing.T) {
	m := NewMemory(1)
	pay := NewPayloads()
	orgImg := []uint8{255, 0, 255, 0, 255, 0, 0, 0}
	genImg := []uint8{0, 255, 0, 255, 0, 255, 0, 0}
	orgKey, genKey := digest("org template"), digest("generic")
	for i, c := range []int{0, 0, 0} {
		pay.Add("http", orgKey, addr("203.0.113."+itoa(i+1)), c)
	}
	for i := range 4 {
		pay.Add("http", genKey, addr("198.51.100."+itoa(i+1)), Unattributed)
	}
	pay.Remember("http", orgKey, orgImg)
	pay.Remember("http", genKey, genImg)
	// A variant of the org's template: one pixel differs.
	variant := []uint8{255, 0, 255, 0, 255, 0, 255, 0}
	d, dist, ok := pay.Nearest("http", digest("variant"), variant)
	if !ok || d != orgKey || !near(dist, 1.0/8) {
		t.Fatalf("nearest %x at %v (%v), want the org template at 1/8", d[:4], dist, ok)
	}
	r := Build(addr("192.0.2.50"), []Probe{{Service: "http", Digest: digest("variant"), Image: variant}}, m, pay)
	if len(r.Candidates) != 1 || r.Candidates[0].Class != 0 || !near(r.Candidates[0].F[fNearMean], 7.0/8*3/4) {
		t.Fatalf("candidates %+v", r.Candidates)
	}
	if r.Unknown[gNearUnattr] != 0 || !near(r.Unknown[gUnseen], 1) {
		t.Fatalf("unknown features %v", r.Unknown)
	}
	// Saved and loaded, the images still answer.
	b, _ := json.Marshal(Save(m, pay))
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	_, pay2, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if d2, _, ok := pay2.Nearest("http", digest("variant"), variant); !ok || d2 != orgKey {
		t.Fatal("the loaded table lost its images")
	}
	// An image of another size is never compared.
	if _, _, ok := pay.Nearest("http", digest("odd"), []uint8{1, 2}); ok {
		t.Fatal("an image of another size found a neighbour")
	}
}
