package pipeline

import (
	"net/netip"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func httpProbe(ua string) probe.Probe {
	return probe.Probe{Service: "http", Fields: probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Url", Value: "/"}, {Name: "User-Agent", Value: ua}}}
}

// TestBackgroundOnlyNeverLabelledImages: a tool seen often and never from a
// labelled scanner is background; a payload also sent by a labelled
// scanner is not, however often unlabelled scanners send it; a rare one
// is not either.
func TestBackgroundOnlyNeverLabelledImages(t *testing.T) {
	var probes []probe.Probe
	var orgs []string
	add := func(n int, ua, org string) {
		for i := 0; i < n; i++ {
			probes = append(probes, httpProbe(ua))
			orgs = append(orgs, org)
		}
	}
	add(50, "masscan/1.3", "")
	add(40, "Mozilla/5.0 zgrab/0.x", "")
	add(12, "Mozilla/5.0 zgrab/0.x", "shadowserver") // shared with a known org
	add(5, "rare-bot", "")
	add(30, "CensysInspect/1.1", "censys") // fully disclosed: unlabelled in training
	layout, err := feature.BuildLayout("http", probes, feature.LayoutConfig{Fields: []string{"User-Agent"}, MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	classes := newClasses([]string{"shadowserver"}, func(o string) bool { return o == "censys" })
	sm := &ServiceModel{Service: "http", Layout: layout}
	bg := NewBackground(10)
	bg.Add(sm.Layout.EncodeAll(probes), probes, orgs, classes)
	img := func(ua string) []uint8 {
		buf := make([]uint8, layout.Pixels())
		layout.Encode(httpProbe(ua), buf)
		return buf
	}
	for ua, want := range map[string]bool{"masscan/1.3": true, "Mozilla/5.0 zgrab/0.x": false, "rare-bot": false, "CensysInspect/1.1": true} {
		if got := bg.Contains(img(ua)); got != want {
			t.Errorf("%s: background %v, want %v", ua, got, want)
		}
	}
	if bg.Len() != 2 {
		t.Errorf("Len %d, want 2", bg.Len())
	}
	// A saved and reloaded set answers the same.
	back := backgroundFrom(10, bg.digests())
	if !back.Contains(img("masscan/1.3")) || back.Contains(img("rare-bot")) {
		t.Error("reloaded background differs")
	}
	if NewBackground(0).Contains(img("masscan/1.3")) {
		t.Error("a disabled background must contain nothing")
	}
}

// TestPurityMakesSharedPayloadsWeakVotes: zgrab2's default request sent by
// 3 labelled Shadowserver IPs and 9 unattributed ones is a weak vote for
// Shadowserver; a payload only Shadowserver sends is strong, one training
// never saw is weak; a background payload votes weak unknown. Counts are of
// distinct IPs, not probes: one noisy unattributed IP does not make a
// payload weak. Saved owner tables and sender counts answer the same.
func TestPurityMakesSharedPayloadsWeakVotes(t *testing.T) {
	var probes []probe.Probe
	var orgs []string
	add := func(ips, perIP int, ua, org string, base byte) {
		for i := 0; i < ips; i++ {
			for j := 0; j < perIP; j++ {
				p := httpProbe(ua)
				p.SrcIP = netip.AddrFrom4([4]byte{10, base, 0, byte(i)})
				probes = append(probes, p)
				orgs = append(orgs, org)
			}
		}
	}
	add(3, 4, "Mozilla/5.0 zgrab/0.x", "shadowserver", 1)
	add(9, 1, "Mozilla/5.0 zgrab/0.x", "", 2)
	add(2, 1, "shadowserver-own", "shadowserver", 3)
	add(1, 50, "shadowserver-own", "", 4) // one busy unattributed IP
	add(1, 20, "masscan/1.3", "", 5)
	add(4, 1, "stretchoid-ua", "stretchoid", 6)
	layout, err := feature.BuildLayout("http", probes, feature.LayoutConfig{Fields: []string{"User-Agent"}, MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	classes := newClasses([]string{"shadowserver", "stretchoid"}, func(string) bool { return false })
	ss, sto, unknown := 0, 1, classes.Unknown
	sm := &ServiceModel{Service: "http", Layout: layout}
	bg := NewBackground(10).withPurity(0.5)
	bg.Add(sm.Layout.EncodeAll(probes), probes, orgs, classes)
	img := func(ua string) []uint8 {
		buf := make([]uint8, layout.Pixels())
		layout.Encode(httpProbe(ua), buf)
		return buf
	}
	cases := []struct {
		ua          string
		class, want int
	}{
		{"Mozilla/5.0 zgrab/0.x", ss, classes.weakVote(ss)}, // 3 of 12 IPs
		{"shadowserver-own", ss, ss},                        // 2 of 3 IPs, though 50 of 52 probes are unattributed
		{"shadowserver-own", sto, classes.weakVote(sto)},    // owned by another class
		{"stretchoid-ua", sto, sto},
		{"never-seen", sto, classes.weakVote(sto)},         // no training evidence
		{"masscan/1.3", ss, classes.weakVote(unknown)},     // background
		{"never-seen", unknown, classes.weakVote(unknown)}, // the model's own unknown
	}
	check := func(name string, b *Background) {
		for _, c := range cases {
			if got := b.vote(img(c.ua), c.class, classes); got != c.want {
				t.Errorf("%s: %q predicted %d votes %d, want %d", name, c.ua, c.class, got, c.want)
			}
		}
	}
	check("trained", bg)
	check("loaded full-mode table", backgroundFrom(10, bg.digests()).withPurity(0.5).withOwners(bg.ownerTable()))
	check("loaded incremental counts", backgroundFromCounts(10, bg.counts()).withPurity(0.5).withSenders(bg.senderCounts()))
	for v, want := range map[int]int{ss: ss, unknown: unknown, classes.weakVote(sto): sto, classes.weakVote(unknown): unknown} {
		if got := classes.probeClass(v); got != want {
			t.Errorf("probeClass(%d) = %d, want %d", v, got, want)
		}
	}
	// Without purity the votes are the paper's: classes, background → unknown.
	plain := NewBackground(10)
	plain.Add(sm.Layout.EncodeAll(probes), probes, orgs, classes)
	if got := plain.vote(img("Mozilla/5.0 zgrab/0.x"), ss, classes); got != ss {
		t.Errorf("purity off: zgrab2 votes %d, want %d", got, ss)
	}
	if got := plain.vote(img("masscan/1.3"), ss, classes); got != unknown {
		t.Errorf("purity off: background votes %d, want %d", got, unknown)
	}
}
