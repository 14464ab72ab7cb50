package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// MinPeriod and MaxPeriod bound the update period (the paper measures 3 to
// 10 days).
const (
	MinPeriod = pipeline.MinUpdatePeriod
	MaxPeriod = pipeline.MaxUpdatePeriod
)

// CycleConfig is the long-running cycle of `serve`: every Period, the
// period just closed is trained on (the first time: incremental training
// from Origin), identified, stored and published as per-org lists.
type CycleConfig struct {
	Store store.Store
	// StateDir holds state.json (what is done) and models/<generation>.
	StateDir string
	// Lists, when set, is where the per-org lists are regenerated.
	Lists string
	// Labels, when set, is imported before the first training.
	Labels string
	Period time.Duration
	// Grace is how long after a period's end its traffic may still arrive
	// (capture files of its last day); the period closes after it.
	Grace time.Duration
	// Origin is the start of the first period; zero: midnight UTC of the
	// day of the first stored probe.
	Origin    time.Time
	Opts      pipeline.Options
	WeekIters int // 0: pipeline.WeekIterations
	Log       *slog.Logger
	// OnModels, when set, hears of every new current models folder (the
	// API reloads its cache).
	OnModels func(dir string)
	// Analyze: after each identification, cluster the period's
	// still-unknown scanners into StateDir/analysis (t-SNE figures).
	Analyze bool
	// OnIngest, when set, hears of every file ingested.
	OnIngest func(ingest.Result)
	// Observe, when set, hears each step's duration ("train", "identify").
	Observe func(step string, d time.Duration)
}

// CycleState is what the cycle has done, written atomically after each
// step: a step interrupted at any moment is redone from the state before
// it, and a step recorded here is never redone.
type CycleState struct {
	Origin time.Time `json:"origin"`
	Period string    `json:"period"`
	// Models is the current models folder under StateDir/models ("" none).
	Models string `json:"models"`
	// Generation numbers the models folders; each training writes a new one.
	Generation int `json:"generation"`
	// Trained are the starts of the periods the models learnt.
	Trained []time.Time `json:"trained"`
	// IdentifiedUntil is the end of the last period identified and
	// published.
	IdentifiedUntil time.Time `json:"identified_until"`
	// Clock is the time of the last step: the wall clock, or a replay's
	// world time (what list expiry is measured against).
	Clock time.Time `json:"clock"`
	// Files are the watched capture files ingested, by name.
	Files map[string]FileMark `json:"files"`
}

// FileMark is an ingested file as it was when ingested.
type FileMark struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Stored  int64     `json:"stored"`
	Error   string    `json:"error,omitempty"`
}

// Cycle runs the weekly cycle over one store.
type Cycle struct {
	cfg   CycleConfig
	state CycleState
	// snap is the state as last saved, for readers in other goroutines.
	snap atomic.Pointer[CycleState]
}

// OpenCycle reads the state in cfg.StateDir (a fresh one when none) and
// removes models folders left by an interrupted training.
func OpenCycle(cfg CycleConfig) (*Cycle, error) {
	if err := SupportedPeriod(cfg.Period); err != nil {
		return nil, err
	}
	cfg.Opts.UpdateEvery = cfg.Period // the models learn one period per update
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "models"), 0o755); err != nil {
		return nil, err
	}
	c := &Cycle{cfg: cfg, state: CycleState{Files: map[string]FileMark{}}}
	b, err := os.ReadFile(c.statePath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &c.state); err != nil {
			return nil, fmt.Errorf("%s: %w", c.statePath(), err)
		}
		if c.state.Files == nil {
			c.state.Files = map[string]FileMark{}
		}
		if p, err := parsePeriod(c.state.Period); err == nil && p != cfg.Period && c.state.Models != "" {
			return nil, fmt.Errorf("%s was run with an update period of %s, not %s: keep the period, or start a new state folder",
				cfg.StateDir, c.state.Period, FormatPeriod(cfg.Period))
		}
	}
	if !cfg.Origin.IsZero() && c.state.Origin.IsZero() {
		c.state.Origin = cfg.Origin.UTC()
	}
	c.state.Period = FormatPeriod(cfg.Period)
	c.removeStaleModels()
	c.publish()
	return c, nil
}

// FormatPeriod writes a period as whole days ("7d") when it is one.
func FormatPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func parsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

func (c *Cycle) modelsDir() string {
	if c.state.Models == "" {
		return ""
	}
	return filepath.Join(c.cfg.StateDir, "models", c.state.Models)
}

func (c *Cycle) statePath() string { return filepath.Join(c.cfg.StateDir, "state.json") }

// ModelsDir is the current models folder ("" before the first training).
// It is safe to call from any goroutine.
func (c *Cycle) ModelsDir() string {
	s := c.State()
	if s.Models == "" {
		return ""
	}
	return filepath.Join(c.cfg.StateDir, "models", s.Models)
}

// State returns the state as last saved; safe from any goroutine.
func (c *Cycle) State() CycleState {
	if s := c.snap.Load(); s != nil {
		return *s
	}
	return CycleState{}
}

// publish makes the current state visible to State.
func (c *Cycle) publish() {
	s := c.state
	s.Trained = slices.Clone(s.Trained)
	s.Files = maps.Clone(s.Files)
	c.snap.Store(&s)
}

// SupportedPeriod says whether the models can be updated every d.
func SupportedPeriod(d time.Duration) error {
	if d < MinPeriod || d > MaxPeriod {
		return fmt.Errorf("update period %s: want 3 to 10 days", FormatPeriod(d))
	}
	return nil
}

// save records the state atomically (write, fsync, rename).
func (c *Cycle) save() error {
	defer c.publish()
	return atomicfile.Write(c.statePath(), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c.state)
	})
}

// removeStaleModels deletes models folders other than the current one: a
// training killed before its state was recorded leaves one behind.
func (c *Cycle) removeStaleModels() {
	entries, _ := os.ReadDir(filepath.Join(c.cfg.StateDir, "models"))
	for _, e := range entries {
		if e.Name() != c.state.Models {
			os.RemoveAll(filepath.Join(c.cfg.StateDir, "models", e.Name()))
		}
	}
}

// Step brings the cycle up to now: every period closed by now (its end
// plus Grace) is trained on, identified and published, in order. It
// returns the number of periods trained.
func (c *Cycle) Step(ctx context.Context, now time.Time) (int, error) {
	if c.state.Origin.IsZero() {
		first, _, n, err := c.cfg.Store.ProbeSpan(ctx)
		if err != nil || n == 0 {
			return 0, err
		}
		c.state.Origin = first.Truncate(24 * time.Hour)
		if err := c.save(); err != nil {
			return 0, err
		}
	}
	if now.After(c.state.Clock) {
		c.state.Clock = now.UTC()
		c.publish()
	}
	trained := 0
	for {
		start := c.nextUntrained()
		end := start.Add(c.cfg.Period)
		if now.Before(end.Add(c.cfg.Grace)) {
			break
		}
		if err := ctx.Err(); err != nil {
			return trained, err
		}
		ok, err := c.train(ctx, start, end)
		if err != nil {
			return trained, err
		}
		if ok {
			trained++
		}
	}
	return trained, c.identifyClosed(ctx)
}

// nextUntrained is the start of the first period after the last trained.
func (c *Cycle) nextUntrained() time.Time {
	if n := len(c.state.Trained); n > 0 {
		return c.state.Trained[n-1].Add(c.cfg.Period)
	}
	return c.state.Origin
}

// train learns the period [start, end) into a new models folder and then
// records it as current: killed before the record, the old folder stays
// current and the period is trained again from it. A period without
// probes is recorded as trained with nothing learnt. Before the first
// models exist (no labelled scanner yet), the periods wait and the first
// training covers all of them.
func (c *Cycle) train(ctx context.Context, start, end time.Time) (bool, error) {
	t0 := time.Now()
	c.state.Generation++
	name := fmt.Sprintf("g%06d", c.state.Generation)
	dst := filepath.Join(c.cfg.StateDir, "models", name)
	os.RemoveAll(dst)
	var man *pipeline.Manifest
	var err error
	if c.state.Models == "" {
		man, _, err = TrainIncremental(ctx, c.cfg.Store, TrainConfig{From: c.state.Origin, To: end, Labels: c.cfg.Labels,
			Dir: dst, Opts: c.cfg.Opts, WeekIters: c.cfg.WeekIters, Log: c.cfg.Log})
		if err != nil {
			os.RemoveAll(dst)
			c.state.Generation--
			if ctx.Err() != nil {
				return false, err
			}
			// Nothing to learn from yet: the period waits for the first
			// training, which will cover it.
			c.cfg.Log.Warn("first training postponed", "until", end.Format(time.RFC3339), "reason", err.Error())
			c.state.Trained = append(c.state.Trained, start)
			return false, c.save()
		}
	} else {
		man, _, err = Update(ctx, c.cfg.Store, UpdateConfig{From: start, Src: c.modelsDir(), Dst: dst,
			WeekIters: c.cfg.WeekIters, Prepare: func(o *pipeline.Options) { o.Logger = c.cfg.Log }, Log: c.cfg.Log})
		if errors.Is(err, ErrNoProbes) {
			os.RemoveAll(dst)
			c.state.Generation--
			c.cfg.Log.Info("period without probes", "from", start.Format(time.RFC3339))
			c.state.Trained = append(c.state.Trained, start)
			return false, c.save()
		}
		if err != nil {
			os.RemoveAll(dst)
			c.state.Generation--
			return false, err
		}
	}
	old := c.modelsDir()
	c.state.Models = name
	c.state.Trained = append(c.state.Trained, start)
	if err := c.save(); err != nil {
		return false, err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	if c.cfg.Observe != nil {
		c.cfg.Observe("train", time.Since(t0))
	}
	c.cfg.Log.Info("models updated", "period", start.Format(time.RFC3339), "models", man.Version, "periods", len(c.state.Trained), "seconds", time.Since(t0).Seconds())
	if c.cfg.OnModels != nil {
		c.cfg.OnModels(c.modelsDir())
	}
	return true, nil
}

// identifyClosed identifies every trained period not yet identified,
// stores the verdicts and regenerates the lists; the record comes last, so
// an interrupted step is redone (verdicts of a window are replaced, lists
// rewritten atomically).
func (c *Cycle) identifyClosed(ctx context.Context) error {
	if c.state.Models == "" {
		return nil
	}
	for _, start := range c.state.Trained {
		end := start.Add(c.cfg.Period)
		if end.After(c.state.IdentifiedUntil) {
			t0 := time.Now()
			windows, err := Identify(ctx, c.cfg.Store, IdentifyConfig{From: start, To: end, Window: c.cfg.Period, Models: c.modelsDir(), Log: c.cfg.Log})
			if err != nil {
				return err
			}
			n := 0
			for _, w := range windows {
				n += len(w.Attributions)
			}
			if c.cfg.Lists != "" {
				if _, err := WriteLists(ctx, c.cfg.Store, c.cfg.Lists, ""); err != nil {
					return err
				}
			}
			identified := time.Since(t0)
			t1 := time.Now()
			if c.cfg.Analyze {
				// Figures are a view: a failure is logged, not retried.
				if _, err := Analyze(ctx, c.cfg.Store, AnalyzeConfig{From: start, To: end, Models: c.modelsDir(), Out: c.AnalysisDir(), Seed: c.cfg.Opts.Seed}); err != nil {
					if ctx.Err() != nil {
						return err
					}
					c.cfg.Log.Warn("still-unknown analysis failed", "from", start.Format(time.RFC3339), "error", err.Error())
				}
			}
			c.state.IdentifiedUntil = end
			if err := c.save(); err != nil {
				return err
			}
			analysed := time.Since(t1)
			if c.cfg.Observe != nil {
				c.cfg.Observe("identify", identified)
				if c.cfg.Analyze {
					c.cfg.Observe("analyze", analysed)
				}
			}
			c.cfg.Log.Info("period identified", "from", start.Format(time.RFC3339), "ips", n,
				"seconds", identified.Seconds(), "analysis_seconds", analysed.Seconds())
		}
	}
	return nil
}
