package grid

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

func TestWorstRow(t *testing.T) {
	rows := []Row{
		{World: "a-s1", Probes: 100, System: Scores{Labelled: 10, WeightedF1: 0.9, NewF1: 0.5, OverAttribution: 0.01, HiddenRecall: 0.7},
			Lookup: Scores{WeightedF1: 0.8}, Ceiling: Scores{WeightedF1: 0.95, OverAttribution: 0.2}, Seconds: 20},
		{World: "b-s1", Probes: 300, System: Scores{Labelled: 12, WeightedF1: 0.7, NewF1: 0.6, OverAttribution: 0.00, HiddenRecall: 0.9},
			Lookup: Scores{WeightedF1: 0.85}, Ceiling: Scores{WeightedF1: 0.9, OverAttribution: 0.1}, Seconds: 50},
	}
	w := worst(rows)
	if w.World != "MIN" || w.Probes != 100 || w.System.Labelled != 10 || w.System.WeightedF1 != 0.7 || w.System.NewF1 != 0.5 ||
		w.System.OverAttribution != 0.01 || w.System.HiddenRecall != 0.7 || w.Lookup.WeightedF1 != 0.8 ||
		w.Ceiling.WeightedF1 != 0.9 || w.Ceiling.OverAttribution != 0.2 || w.Seconds != 50 {
		t.Errorf("worst row %+v", w)
	}
	tab := &Table{Mode: "full", Scale: 0.1, Rows: rows, Worst: w}
	var md bytes.Buffer
	if err := tab.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) != 2+3 || !strings.HasPrefix(lines[4], "| MIN |") || !strings.Contains(lines[4], "| 0.700 |") || !strings.Contains(lines[4], "| 1.0 % |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var cb bytes.Buffer
	if err := tab.WriteCSV(&cb); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(recs) != 4 || recs[3][0] != "MIN" || recs[3][8] != "0.7" {
		t.Errorf("csv %v (%v)", recs, err)
	}
}

func TestUnknownStructureRefused(t *testing.T) {
	if _, err := Run(context.Background(), Config{Structures: []string{"sd24", "moon"}}); err == nil || !strings.Contains(err.Error(), "moon") {
		t.Errorf("error %v", err)
	}
	if _, err := Run(context.Background(), Config{Mode: "weekly"}); err == nil {
		t.Error("mode weekly accepted")
	}
}

// TestQuickGrid runs two small worlds end to end: the baseline world and
// the one whose test traffic goes to other honeypots.
func TestQuickGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("two simulated worlds, each trained and evaluated (about a minute)")
	}
	cfg := Quick()
	cfg.Structures = []string{"sd24", "split16s"}
	cfg.Weeks = 6 // a shorter span keeps the test near a minute
	// Fewer iterations: the test checks the plumbing, not the accuracy.
	cfg.Options = func(seed uint64) pipeline.Options {
		o := pipeline.Default(seed)
		o.Iterations = 300
		return o
	}
	tab, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 {
		t.Fatalf("%d rows", len(tab.Rows))
	}
	for _, r := range tab.Rows {
		if r.System.Labelled < 20 || r.System.Labelled != r.Lookup.Labelled || r.Lookup.Labelled != r.Ceiling.Labelled {
			t.Errorf("%s: labelled test scanners %d / %d / %d", r.World, r.System.Labelled, r.Lookup.Labelled, r.Ceiling.Labelled)
		}
		if r.Missing != 0 {
			t.Errorf("%s: %d test IPs of the world missing from the run", r.World, r.Missing)
		}
		// The lookup knows most test scanners from training and the
		// ceiling knows which templates are whose: both must do well, and
		// the ceiling never names an innocent scanner's template owner
		// more often than its payloads allow.
		if r.Lookup.WeightedF1 < 0.6 || r.Ceiling.WeightedF1 < 0.6 || r.System.WeightedF1 <= 0.3 {
			t.Errorf("%s: F1 system %.3f, lookup %.3f, ceiling %.3f", r.World, r.System.WeightedF1, r.Lookup.WeightedF1, r.Ceiling.WeightedF1)
		}
	}
	// The two worlds differ only in the honeypots' addresses, which change
	// at the cut in split16s: fields carrying the sensor's own address are
	// encoded as a class, so moving the sensors costs at most 0.01 of F1.
	if d := tab.Rows[0].System.WeightedF1 - tab.Rows[1].System.WeightedF1; d > 0.01 || d < -0.01 {
		t.Errorf("moving the honeypots to other /16s at the cut changed F1 by %.3f (sd24 %.3f, split16s %.3f)",
			d, tab.Rows[0].System.WeightedF1, tab.Rows[1].System.WeightedF1)
	}
	var md bytes.Buffer
	if err := tab.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	t.Logf("quick grid (300 iterations, 6 weeks):\n%s", md.String())
	var js bytes.Buffer
	if err := tab.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != 2 || back.Worst.World != "MIN" {
		t.Errorf("JSON round trip: %v %+v", err, back.Worst)
	}
}
