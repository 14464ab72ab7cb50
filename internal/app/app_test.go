package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// tinyWorld generates the tiny simulated world.
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
	opts := pipeline.Default(1)
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
	for _, svc := range pipeline.Services {
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
	if err := pipeline.WritePredictions(&buf, res.Test); err != nil {
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

// TestEvaluationRefusesWhatItCannotScore: labels that name no scanner, a
// cut after the last probe and a cut before the first are errors that say
// what is wrong, never a silent 0.00 report.
func TestEvaluationRefusesWhatItCannotScore(t *testing.T) {
	world := tinyWorld(t)
	pcap := []string{filepath.Join(world, "pcap")}
	labels := filepath.Join(world, "labels.csv")
	strangers := filepath.Join(t.TempDir(), "strangers.csv")
	if err := os.WriteFile(strangers, []byte("ip,org\n192.0.2.1,shodan\n192.0.2.2,censys\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Default(1)
	opts.Iterations = 50
	late, early := opts, opts
	late.TestFrom = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	early.TestFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, labels string
		opts         pipeline.Options
		want         string
	}{
		{"labels naming nobody", strangers, opts, "name none of the"},
		{"test period without traffic", labels, late, "has no traffic"},
		{"cut before the first probe", labels, early, "not after the first probe"},
	} {
		_, err := RunEvaluation(context.Background(), EvalConfig{Pcaps: pcap, Labels: tc.labels, Mode: "full", Opts: tc.opts})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// TestWorldTruthAgreesWithSimulate: eval reads truth.csv on its own (so
// that scoring does not depend on the simulator); per IP it must say what
// the simulator's own reader says.
func TestWorldTruthAgreesWithSimulate(t *testing.T) {
	world := tinyWorld(t)
	path := filepath.Join(world, "truth.csv")
	rows, err := simulate.ReadTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	want := eval.WorldTruth{}
	for _, r := range rows {
		w := want[r.SrcIP.String()]
		w.Org, w.Hidden = r.Org, w.Hidden || r.Hidden
		want[r.SrcIP.String()] = w
	}
	got, err := eval.ReadWorldTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d IPs, want %d", len(got), len(want))
	}
	for ip, w := range want {
		if got[ip] != w {
			t.Errorf("%s: %+v, want %+v", ip, got[ip], w)
		}
	}
}

// TestSmallWorldAttribution is half of issue 8's acceptance on the small
// world: hidden members of known orgs are mostly attributed to their org
// and generic tools are not (the other half, the clusters of still-unknown
// probes, is internal/pipeline's TestSmallWorldUnknownClusters).
func TestSmallWorldAttribution(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three models on the small world (about a minute)")
	}
	dir := t.TempDir()
	cfg, _ := simulate.PresetConfig("small", 1)
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	res, err := RunEvaluation(context.Background(), EvalConfig{Pcaps: []string{filepath.Join(dir, "pcap")},
		Labels: filepath.Join(dir, "labels.csv"), Truth: filepath.Join(dir, "truth.csv"), Mode: "full", Opts: pipeline.Default(1)})
	if err != nil {
		t.Fatal(err)
	}
	// Probe-level weighted F1 per service: the org most training senders
	// of the payload belong to, the classifier for payloads never seen.
	// Measured (seed 1, time-span cut): HTTP 0.851, TLS 0.808, DNS 0.911.
	for svc, floor := range map[string]float64{"http": 0.8, "tls": 0.75, "dns": 0.85} {
		pl := res.Report.ProbeLevel[svc]
		t.Logf("%s probe-level weighted F1 %.3f over %d probes", svc, pl.WeightedF1, pl.Support)
		if pl.WeightedF1 < floor {
			t.Errorf("%s probe-level F1 %.3f below %.2f", svc, pl.WeightedF1, floor)
		}
	}
	tr := res.Report.Truth
	t.Logf("hidden members %d/%d found, over-attribution %.3f, weighted F1 %.3f", tr.HiddenCorrect, tr.HiddenMembers, tr.OverAttribution, res.Report.WeightedAvg.F1)
	// Measured (seed 1, evidence combiner, time-span cut): 18 of 28 hidden
	// members, 3.6 % of generic-tool IPs attributed, weighted F1 0.990 (17
	// of 27, 2.5 %, 0.987 before the network rules and θ ties taken low).
	// (The vote ensemble found 21 of 24 hidden members at weighted F1 0.78
	// on the old probe-share cut: this world's hidden members are
	// unattributed IPs in no org network, which the combiner, calibrated
	// to name innocent scanners rarely, leaves unknown more often.)
	if tr.HiddenRecall < 0.6 || tr.OverAttribution > 0.05 {
		t.Errorf("hidden-member recall %.3f (want ≥ 0.6), over-attribution %.3f (want ≤ 0.05)", tr.HiddenRecall, tr.OverAttribution)
	}
	if f1 := res.Report.WeightedAvg.F1; f1 < 0.95 {
		t.Errorf("weighted F1 %.3f below 0.95", f1)
	}
}
