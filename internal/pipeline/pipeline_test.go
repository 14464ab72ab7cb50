package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// tinyWorld generates the tiny simulated world once per test binary.
func tinyWorld(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := simulate.PresetConfig("tiny", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFullModeOnTinyWorld runs ingest → labels → training → identification
// → report on the tiny world, within the CI budget.
func TestFullModeOnTinyWorld(t *testing.T) {
	world := tinyWorld(t)
	opts := Default(1)
	opts.Iterations = 300
	cfg := EvalConfig{Pcaps: []string{filepath.Join(world, "pcap")}, Labels: filepath.Join(world, "labels.csv"),
		Truth: filepath.Join(world, "truth.csv"), Mode: "full", Opts: opts}
	res, err := RunEvaluation(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Mode != "full" || len(rep.Classes) != len(res.Classes.Names) || res.Classes.Names[len(res.Classes.Names)-1] != "unknown" {
		t.Fatalf("report classes %d, classes %v", len(rep.Classes), res.Classes.Names)
	}
	for _, svc := range Services {
		if _, ok := rep.ProbeLevel[svc]; !ok {
			t.Errorf("no probe-level score for %s", svc)
		}
	}
	if rep.WeightedAvg.Support == 0 || rep.Truth == nil || rep.Unattributed == nil || rep.Unattributed.TestIPs == 0 {
		t.Fatalf("report lacks scanner-level, truth or unattributed figures: %+v", rep)
	}
	for _, k := range []string{"ingest", "encode", "train", "identify", "total"} {
		if _, ok := rep.TimingSeconds[k]; !ok {
			t.Errorf("timing lacks %s", k)
		}
	}
	// Fully disclosed orgs are never a known class.
	for _, n := range res.Classes.Names {
		if n == "censys" || n == "driftnet" {
			t.Errorf("%s must be scored as unknown, not a class", n)
		}
	}
	// --predictions covers every test IP, labelled or not.
	var buf bytes.Buffer
	if err := WritePredictions(&buf, res.Test); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 1+len(res.Test) || recs[0][0] != "ip" {
		t.Fatalf("predictions: %d rows for %d IPs, %v", len(recs), len(res.Test), err)
	}
	labelled := 0
	for _, a := range res.Test {
		if a.Truth != "" {
			labelled++
		}
	}
	if labelled == len(res.Test) || labelled == 0 {
		t.Fatalf("test IPs must mix labelled (%d) and unattributed (of %d)", labelled, len(res.Test))
	}
	// Same seed, same result.
	again, err := RunEvaluation(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Report.WeightedAvg != rep.WeightedAvg || again.Report.Theta != rep.Theta {
		t.Fatalf("not deterministic: %+v vs %+v", again.Report.WeightedAvg, rep.WeightedAvg)
	}
}

// TestCrossFitVotesAreOutOfSample: with CrossFit every training probe is
// predicted by a model that never saw its scanner, and the run completes.
func TestCrossFitVotesAreOutOfSample(t *testing.T) {
	world := tinyWorld(t)
	opts := Default(1)
	opts.Iterations, opts.CrossFit = 100, true
	opts.Evidence = false // cross-fitting is a setting of the vote ensemble
	res, err := RunEvaluation(context.Background(), EvalConfig{Pcaps: []string{filepath.Join(world, "pcap")},
		Labels: filepath.Join(world, "labels.csv"), Mode: "full", Opts: opts})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Report.TimingSeconds["crossfit"]; !ok || len(res.Test) == 0 {
		t.Fatalf("cross-fitted run: timing %v, %d test IPs", res.Report.TimingSeconds, len(res.Test))
	}
	// Folds follow the address, so one scanner's probes share a fold.
	folds := map[int]bool{}
	for _, ps := range res.TestData.Probes {
		for _, p := range ps {
			folds[ipFold(p)] = true
		}
	}
	if len(folds) != crossFitFolds {
		t.Errorf("test scanners fall in %d folds, want %d", len(folds), crossFitFolds)
	}
}
