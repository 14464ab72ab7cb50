package server

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// fixture is a store of the tiny world with incremental models trained on
// it and its week identified: what serve holds after one cycle.
type fixture struct {
	dir, db, models string
	origin          time.Time
	ips             []netip.Addr // every scanner IP
	attributed      string       // an IP given to an org
	org             string
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

func theFixture(t testing.TB) fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = buildFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func buildFixture() (fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sg-server-test-")
	if err != nil {
		return fixture{}, err
	}
	cfg, err := simulate.PresetConfig("tiny", 1)
	if err != nil {
		return fixture{}, err
	}
	cfg.Weeks = 2 // the evidence combiner is fitted from the second week on
	world := filepath.Join(dir, "world")
	if _, err := simulate.Generate(ctx, cfg, world); err != nil {
		return fixture{}, err
	}
	f := fixture{dir: dir, db: filepath.Join(dir, "sg.db"), models: filepath.Join(dir, "models")}
	st, err := store.Open(ctx, f.db)
	if err != nil {
		return f, err
	}
	defer st.Close()
	if _, err := ingest.Run(ctx, st, ingest.Capture, []string{filepath.Join(world, "pcap")}, capture.Options{}, nil); err != nil {
		return f, err
	}
	first, last, _, err := st.ProbeSpan(ctx)
	if err != nil {
		return f, err
	}
	f.origin = first.Truncate(24 * time.Hour)
	opts := pipeline.Default(1)
	opts.Iterations = 30
	end := last.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if _, _, err := app.TrainIncremental(ctx, st, app.TrainConfig{From: f.origin, To: end, Labels: filepath.Join(world, "labels.csv"),
		Dir: f.models, Opts: opts, WeekIters: 30}); err != nil {
		return f, err
	}
	windows, err := app.Identify(ctx, st, app.IdentifyConfig{From: f.origin, To: f.origin.Add(2 * app.Week), Window: app.Week, Models: f.models})
	if err != nil {
		return f, err
	}
	for _, w := range windows {
		for _, a := range w.Attributions {
			f.ips = append(f.ips, netip.MustParseAddr(a.IP))
			if a.Org != "unknown" && f.attributed == "" {
				f.attributed, f.org = a.IP, a.Org
			}
		}
	}
	return f, nil
}

// newTestServer serves the fixture through a reader handle as serve does.
func newTestServer(t testing.TB, mod func(*Config)) (*Server, fixture) {
	t.Helper()
	f := theFixture(t)
	rd, err := store.OpenReader(context.Background(), f.db, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	cfg := Config{Store: rd, Models: func() string { return f.models }, Period: app.Week,
		Origin: func() time.Time { return f.origin }, Now: func() time.Time { return f.origin.Add(2 * app.Week) }}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), f
}
