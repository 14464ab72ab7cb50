package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// cycleIters keeps the cycle tests short: the equivalence holds at any
// number of iterations.
const cycleIters = 15

// replayWorld generates a tiny world of weeks weeks.
func replayWorld(t *testing.T, weeks int) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := simulate.PresetConfig("tiny", 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Weeks, cfg.KnownFraction = weeks, 0.05
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func cycleOpts() pipeline.Options {
	opts := pipeline.Default(1)
	opts.Iterations = cycleIters
	return opts
}

// verdicts is the stored attributions without the model version (a
// version names its folder's contents, which are the same).
func verdicts(t *testing.T, db string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	atts, err := st.Attributions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range atts {
		out = append(out, fmt.Sprintf("%s %s %.6f %s %s..%s", a.IP, a.Org, a.Probability, strings.Join(a.Services, "+"),
			a.From.Format(time.RFC3339), a.To.Format(time.RFC3339)))
	}
	return out
}

// offline runs what an operator scripts by hand: ingest everything,
// train --mode incremental on the first week and identify it, then
// update and identify week by week.
func offline(t *testing.T, world, db string) []string {
	t.Helper()
	ctx := context.Background()
	st, days := ingestedWorld(t, world, db)
	origin := days[0]
	dir := filepath.Join(t.TempDir(), "models")
	if _, _, err := TrainIncremental(ctx, st, TrainConfig{From: origin, To: origin.Add(Week), Labels: filepath.Join(world, "labels.csv"),
		Dir: dir, Opts: cycleOpts(), WeekIters: cycleIters}); err != nil {
		t.Fatal(err)
	}
	last := days[len(days)-1].Add(24 * time.Hour)
	for ws := origin; !ws.Add(Week).After(last); ws = ws.Add(Week) {
		if ws.After(origin) {
			if _, _, err := Update(ctx, st, UpdateConfig{From: ws, Src: dir, Dst: dir, WeekIters: cycleIters}); err != nil {
				t.Fatal(err)
			}
		}
		// Each week is identified when it closes, with the models of then.
		if _, err := Identify(ctx, st, IdentifyConfig{From: ws, To: ws.Add(Week), Window: Week, Models: dir}); err != nil {
			t.Fatal(err)
		}
	}
	return verdicts(t, db)
}

func replayConfig(world, db, state string, st store.Store) CycleConfig {
	return CycleConfig{Store: st, StateDir: state, Lists: filepath.Join(state, "lists"), Labels: filepath.Join(world, "labels.csv"),
		Period: Week, Opts: cycleOpts(), WeekIters: cycleIters, Log: discardLog()}
}

// runReplay replays world into db on a test clock.
func runReplay(ctx context.Context, world, db, state string) error {
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := OpenCycle(replayConfig(world, db, state, st))
	if err != nil {
		return err
	}
	_, days, err := ReplayFiles(world)
	if err != nil {
		return err
	}
	return c.Replay(ctx, world, NewFakeClock(days[0]))
}

// ingestedWorld opens a store at db holding every daily capture of world
// (closed when the test ends) and returns it with the captures' days.
func ingestedWorld(t *testing.T, world, db string) (store.Store, []time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	files, days, err := ReplayFiles(world)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Run(ctx, st, ingest.Capture, files, capture.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	return st, days
}

func TestReplayMatchesOfflineIncremental(t *testing.T) {
	if testing.Short() && os.Getenv("SG_CYCLE_TESTS") == "" {
		// about 20 s on 2 cores; the kill test below covers the same path
		t.Skip("replay equivalence: run without -short")
	}
	world := replayWorld(t, 3)
	want := offline(t, world, filepath.Join(t.TempDir(), "offline.db"))
	db, state := filepath.Join(t.TempDir(), "serve.db"), t.TempDir()
	if err := runReplay(context.Background(), world, db, state); err != nil {
		t.Fatal(err)
	}
	got := verdicts(t, db)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("replay stored %d verdicts, offline %d; first difference: %s", len(got), len(want), firstDiff(got, want))
	}
	checkState(t, state, 3)
	if _, err := os.Stat(filepath.Join(state, "lists")); err != nil {
		t.Fatalf("no lists written: %v", err)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%q vs %q", a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

// checkState asserts that the state names weeks periods, each once, and
// that the models learnt each week once.
func checkState(t *testing.T, state string, weeks int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s CycleState
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Trained) != weeks || !s.IdentifiedUntil.Equal(s.Trained[weeks-1].Add(Week)) {
		t.Fatalf("state: trained %v, identified until %v; want %d weeks", s.Trained, s.IdentifiedUntil, weeks)
	}
	inc, err := pipeline.LoadIncremental(filepath.Join(state, "models", s.Models), func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(inc.Weeks, s.Trained, time.Time.Equal) {
		t.Fatalf("models learnt weeks %v, state says %v", inc.Weeks, s.Trained)
	}
	entries, _ := os.ReadDir(filepath.Join(state, "models"))
	if len(entries) != 1 {
		t.Fatalf("%d models folders left, want the current one only", len(entries))
	}
}

// TestCycleSurvivesKill9 kills a replaying process with SIGKILL at several
// moments, restarts it each time, and checks that the end state is the one
// of an uninterrupted run: nothing trained twice, nothing lost.
func TestCycleSurvivesKill9(t *testing.T) {
	if os.Getenv("SG_CYCLE_CHILD") != "" {
		return // the child's work is done in TestMain
	}
	// Two weeks: the first training and one update, both interrupted.
	world := replayWorld(t, 2)
	ref, refState := filepath.Join(t.TempDir(), "ref.db"), t.TempDir()
	if err := runReplay(context.Background(), world, ref, refState); err != nil {
		t.Fatal(err)
	}
	want := verdicts(t, ref)
	db, state := filepath.Join(t.TempDir(), "serve.db"), t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run", "^TestCycleSurvivesKill9$")
		cmd.Env = append(os.Environ(), "SG_CYCLE_CHILD=1", "SG_WORLD="+world, "SG_DB="+db, "SG_STATE="+state)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd
	}
	killed := 0
	for _, after := range []time.Duration{300 * time.Millisecond, 1200 * time.Millisecond, 2500 * time.Millisecond} {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
		case <-time.After(after):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
	}
	t.Logf("killed %d of 3 runs with SIGKILL", killed)
	if err := child().Run(); err != nil {
		t.Fatalf("last run: %v", err)
	}
	got := verdicts(t, db)
	if !slices.Equal(got, want) {
		t.Fatalf("after %d kills: %d verdicts, uninterrupted %d; first difference: %s", killed, len(got), len(want), firstDiff(got, want))
	}
	checkState(t, state, 2)
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestMain(m *testing.M) {
	if os.Getenv("SG_CYCLE_CHILD") != "" {
		if err := runReplay(context.Background(), os.Getenv("SG_WORLD"), os.Getenv("SG_DB"), os.Getenv("SG_STATE")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
