package pipeline

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// tinyWorld generates the tiny simulated world.
func tinyWorld(t *testing.T) string {
	return tinyWorldWeeks(t, 0)
}

// tinyWorldWeeks generates the tiny world over that many weeks (0: the
// preset's).
func tinyWorldWeeks(t *testing.T, weeks int) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := simulate.PresetConfig("tiny", 1)
	if err != nil {
		t.Fatal(err)
	}
	if weeks > 0 {
		cfg.Weeks = weeks
	}
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadWorld ingests a simulated world and loads all of its traffic,
// labelled with its labels.csv; it sets opts.Networks to the listed
// networks. The evaluation use case (internal/app) does the same through
// the store's label database; these tests need the data only, so they
// resolve the file directly (label.ResolveFile agrees with an import into
// an empty store).
func loadWorld(t *testing.T, world string, opts *Options) (*Data, func(string) bool) {
	t.Helper()
	st, labelOf, fullyDisclosed := openWorld(t, world, opts)
	data, err := Load(context.Background(), st, Services, time.Time{}, time.Time{}, labelOf)
	if err != nil {
		t.Fatal(err)
	}
	return data, fullyDisclosed
}

// openWorld is loadWorld up to the load: the store (open until the test
// ends, as the data may read per-connection values again) and the labels.
func openWorld(t *testing.T, world string, opts *Options) (store.Store, Labeler, func(string) bool) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "world.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := ingest.Run(ctx, st, ingest.Capture, []string{filepath.Join(world, "pcap")}, capture.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	reg := label.DefaultRegistry()
	resolver, _, err := label.ResolveFile(filepath.Join(world, "labels.csv"), reg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Networks = func(at time.Time) []LabelledNetwork {
		var out []LabelledNetwork
		for p, org := range resolver.All(at) {
			if !p.IsSingleIP() {
				out = append(out, LabelledNetwork{Prefix: p, Org: org})
			}
		}
		return out
	}
	labelOf := func(a netip.Addr, at time.Time) string {
		org, _ := resolver.Lookup(a, at)
		return org
	}
	return st, labelOf, reg.FullyDisclosed
}

// trainWorld ingests a simulated world, labels it with its labels.csv and
// trains in full mode.
func trainWorld(t *testing.T, world string, opts Options) *Result {
	t.Helper()
	data, fullyDisclosed := loadWorld(t, world, &opts)
	res, err := TrainFull(context.Background(), data, fullyDisclosed, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCrossFitVotesAreOutOfSample: with CrossFit every training probe is
// predicted by a model that never saw its scanner, and the run completes.
func TestCrossFitVotesAreOutOfSample(t *testing.T) {
	world := tinyWorld(t)
	opts := Default(1)
	opts.Iterations, opts.CrossFit = 100, true
	opts.Evidence = false // cross-fitting is a setting of the vote ensemble
	res := trainWorld(t, world, opts)
	if _, ok := res.Report.TimingSeconds["crossfit"]; !ok || len(res.Test) == 0 {
		t.Fatalf("cross-fitted run: timing %v, %d test IPs", res.Report.TimingSeconds, len(res.Test))
	}
	// Folds follow the address, so one scanner's probes share a fold.
	folds := map[int]bool{}
	for _, ser := range res.TestData.series {
		for i := range ser.Len() {
			folds[ipFold(ser.SrcIP(i))] = true
		}
	}
	if len(folds) != crossFitFolds {
		t.Errorf("test scanners fall in %d folds, want %d", len(folds), crossFitFolds)
	}
}
