package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	opts := Default(1)
	opts.Iterations = 50
	late, early := opts, opts
	late.TestFrom = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	early.TestFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, labels string
		opts         Options
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

// TestDataWarningsNameThinOrgs: an organisation known from a single
// training scanner, and a single known organisation, are named.
func TestDataWarningsNameThinOrgs(t *testing.T) {
	res := &Result{Classes: newClasses([]string{"shodan"}, func(string) bool { return false }), trainScanners: []int{1}}
	w := strings.Join(dataWarnings(res), "\n")
	if !strings.Contains(w, "only one known organisation (shodan)") || !strings.Contains(w, "single training scanner") {
		t.Fatalf("warnings: %q", w)
	}
}
