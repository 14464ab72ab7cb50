package grid

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// handWorld is a world small enough to score by hand. Orgs a and b are
// known (labelled before the cut), c is labelled only after it, censys is
// fully disclosed. Templates: ta (a's), tb (b's), tb3 (b's, but two generic
// users send it too), tg (a generic tool), tc (censys), tnew (first sent
// after the cut).
func handWorld(t *testing.T) (*World, time.Time) {
	t.Helper()
	cut := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	before, after := cut.Add(-time.Hour), cut.Add(time.Hour)
	var rows []simulate.TruthRow
	add := func(ip, org string, hidden bool, when time.Time, tmpl string) {
		rows = append(rows, simulate.TruthRow{Time: when, SrcIP: netip.MustParseAddr(ip), Org: org, Hidden: hidden, Profile: tmpl, Service: "http"})
	}
	add("1.0.0.1", "a", false, before, "ta")
	add("1.0.0.1", "a", false, after, "ta")
	add("1.0.0.2", "a", false, after, "ta") // new IP in a's /24
	add("2.0.0.1", "b", false, before, "tb")
	add("2.0.0.1", "b", false, before, "tb3")
	add("2.0.0.1", "b", false, after, "tb3")
	add("3.0.0.5", "b", false, after, "tnew") // new IP, new /24, new template
	add("1.0.0.9", "a", true, before, "ta")   // hidden member of a
	add("1.0.0.9", "a", true, after, "ta")
	add("4.0.0.1", "unknown", false, before, "tg")
	add("4.0.0.1", "unknown", false, after, "tg")
	add("2.0.0.7", "unknown", false, after, "tb") // generic user of b's template, in b's /24
	add("5.0.0.1", "censys", false, before, "tc")
	add("5.0.0.1", "censys", false, after, "tc")
	add("6.0.0.1", "c", false, after, "tnew2") // org c: no training label
	add("7.0.0.1", "b", false, before, "tb")   // training only
	add("8.0.0.1", "unknown", false, before, "tb3")
	add("8.0.0.2", "unknown", false, before, "tb3")
	labels, err := ReadLabels(strings.NewReader("ip,org\n1.0.0.1,a\n1.0.0.2,a\n2.0.0.1,b\n3.0.0.5,b\n5.0.0.1,censys\n6.0.0.1,c\n7.0.0.1,b\n4.0.0.1,unknown\n"))
	if err != nil {
		t.Fatal(err)
	}
	return NewWorld(rows, labels, nil), cut
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestLookupBaselineByHand(t *testing.T) {
	w, cut := handWorld(t)
	got, err := w.Score(cut, w.Lookup(cut))
	if err != nil {
		t.Fatal(err)
	}
	// Labelled test scanners (true -> predicted): 1.0.0.1 a->a, 1.0.0.2
	// a->a (/24), 2.0.0.1 b->b, 3.0.0.5 b->unknown, 5.0.0.1
	// censys=unknown->unknown, 6.0.0.1 c=unknown->unknown.
	// F1: a 1 (support 2), b 2/3 (2), unknown 4/5 (2): (2+4/3+8/5)/6.
	want := Scores{Labelled: 6, NewIPs: 3,
		WeightedF1: (2 + 4.0/3 + 8.0/5) / 6,
		// New IPs: 1.0.0.2 a->a, 3.0.0.5 b->unknown, 6.0.0.1 unknown->unknown:
		// a 1, b 0, unknown 2/3, one each.
		NewF1: (1 + 0 + 2.0/3) / 3,
		// Generic: 4.0.0.1 stays unknown, 2.0.0.7 takes b from its /24.
		Generic: 2, OverAttribution: 0.5,
		// Hidden 1.0.0.9 takes a from its /24.
		Hidden: 1, HiddenRecall: 1,
	}
	checkScores(t, "lookup", got, want)
}

func TestPayloadCeilingByHand(t *testing.T) {
	w, cut := handWorld(t)
	got, err := w.Score(cut, w.Ceiling(cut))
	if err != nil {
		t.Fatal(err)
	}
	// Attributable templates: ta (a: 1.0.0.1 and hidden 1.0.0.9), tb (b:
	// 2.0.0.1, 7.0.0.1), tc (censys, scored unknown); tb3 is sent by one b
	// and two generic IPs, tg by a generic one only.
	// Labelled: 1.0.0.1 a->a, 1.0.0.2 a->a, 2.0.0.1 b->unknown (tb3),
	// 3.0.0.5 b->unknown, 5.0.0.1 unknown->unknown, 6.0.0.1
	// unknown->unknown: a 1 (2), b 0 (2), unknown 4/6 (2).
	want := Scores{Labelled: 6, NewIPs: 3,
		WeightedF1: (2 + 0 + 2*4.0/6) / 6,
		NewF1:      (1 + 0 + 2.0/3) / 3,
		// 2.0.0.7 replays tb.
		Generic: 2, OverAttribution: 0.5,
		Hidden: 1, HiddenRecall: 1,
	}
	checkScores(t, "ceiling", got, want)
}

func TestScoreOfPerfectAndSilentPredictors(t *testing.T) {
	w, cut := handWorld(t)
	truth := func(ip netip.Addr) string { return w.Scanners[ip].Org }
	got, err := w.Score(cut, truth)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.WeightedF1, 1) || !near(got.NewF1, 1) || got.OverAttribution != 0 || got.HiddenRecall != 1 {
		t.Errorf("the truth itself scores %+v", got)
	}
	silent := func(netip.Addr) string { return "unknown" }
	got, err = w.Score(cut, silent)
	if err != nil {
		t.Fatal(err)
	}
	// Only the two unknown-class labelled scanners are right: unknown F1
	// 2·2/(2+6) = 1/2 on support 2 of 6.
	if !near(got.WeightedF1, 0.5*2/6) || got.OverAttribution != 0 || got.HiddenRecall != 0 {
		t.Errorf("all-unknown scores %+v", got)
	}
}

func checkScores(t *testing.T, name string, got, want Scores) {
	t.Helper()
	if got.Labelled != want.Labelled || got.NewIPs != want.NewIPs || got.Generic != want.Generic || got.Hidden != want.Hidden {
		t.Errorf("%s: counts %+v, want %+v", name, got, want)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"weighted F1", got.WeightedF1, want.WeightedF1},
		{"new-IP F1", got.NewF1, want.NewF1},
		{"over-attribution", got.OverAttribution, want.OverAttribution},
		{"hidden recall", got.HiddenRecall, want.HiddenRecall},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s: %s %.6f, want %.6f", name, c.what, c.got, c.want)
		}
	}
}
