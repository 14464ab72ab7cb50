package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Week is the default update period.
const Week = 7 * 24 * time.Hour

// TrainConfig is one `train --mode incremental` run: week by week over the
// stored probes of [From, To) with the stored labels, saved into Dir.
type TrainConfig struct {
	From, To  time.Time
	Labels    string // label file imported first ("" none)
	Dir       string // models folder to write
	Opts      pipeline.Options
	WeekIters int // per service and week; 0: pipeline.WeekIterations
	Log       *slog.Logger
}

// TrainIncremental trains week by week from the first stored probe of the
// period and saves the state that Update continues from.
func TrainIncremental(ctx context.Context, st store.Store, cfg TrainConfig) (*pipeline.Manifest, *pipeline.Incremental, error) {
	ls, err := LoadLabels(ctx, st, cfg.Labels, cfg.Log)
	if err != nil {
		return nil, nil, err
	}
	opts := cfg.Opts
	opts.Split = 1
	opts.Networks = ls.Networks
	data, err := pipeline.Load(ctx, st, pipeline.Services, cfg.From, cfg.To, ls.LabelOf)
	if err != nil {
		return nil, nil, err
	}
	first, last := data.Span()
	if first.IsZero() {
		return nil, nil, fmt.Errorf("no probes to train on")
	}
	starts := pipeline.Periods(first, last, opts.Period())
	classes := pipeline.NewClasses(data, ls.FullyDisclosed)
	if classes.Unknown == 0 {
		return nil, nil, fmt.Errorf("no labelled scanner of a known organisation in the period")
	}
	inc := pipeline.NewIncremental(classes, opts, starts[0])
	// No report to fill: the weekly scores are not computed.
	if _, _, err := inc.TrainWeeks(ctx, data, starts, weekIters(cfg.WeekIters), false); err != nil {
		return nil, nil, err
	}
	inc.LabelsFingerprint = ls.Fingerprint()
	man, err := inc.Save(cfg.Dir)
	return man, inc, err
}

func weekIters(n int) int {
	if n > 0 {
		return n
	}
	return pipeline.WeekIterations
}

// UpdateConfig is one incremental step: the period [From, From + the
// models' update period) added to the models in Src, the result saved into Dst (Dst may be Src; serve
// writes a new folder so that a crash mid-save leaves the old one whole).
type UpdateConfig struct {
	From      time.Time
	Labels    string // label file imported first ("" none)
	Src, Dst  string
	WeekIters int // 0: pipeline.WeekIterations
	// Prepare, when set, adjusts the loaded options (logger, progress).
	Prepare func(*pipeline.Options)
	Log     *slog.Logger
}

// ErrNoProbes is returned by Update for a week without stored probes.
var ErrNoProbes = fmt.Errorf("no stored probes")

// Update extends the layouts, trains on one more week, refits the
// ensemble, brings the evidence up to date and saves. With the labels the
// evidence was learnt with, the week's payload senders and labels are
// added to it and, where a layout grew, the senders are recounted from the
// distinct payloads kept with the models (pipeline.Incremental.Continue):
// the history is not read. Labels changed since, or a state saved before
// the sources were kept, rebuild it from every trained week with today's
// layouts and labels (pipeline.RelearnEvidence), which relabels past weeks.
// A week that overlaps one already trained is refused: each probe is
// learnt once.
func Update(ctx context.Context, st store.Store, cfg UpdateConfig) (*pipeline.Manifest, *pipeline.Incremental, error) {
	ws := cfg.From
	ls, err := LoadLabels(ctx, st, cfg.Labels, cfg.Log)
	if err != nil {
		return nil, nil, err
	}
	labelOf, fullyDisclosed := ls.LabelOf, ls.FullyDisclosed
	inc, err := pipeline.LoadIncremental(cfg.Src, fullyDisclosed)
	if err != nil {
		return nil, nil, err
	}
	end := ws.Add(inc.Period())
	if done, ok := inc.Overlap(ws, end); ok {
		return nil, nil, fmt.Errorf("the period from %s (%s long) overlaps the one from %s, already trained: each probe is learnt once",
			ws.Format("2006-01-02"), FormatPeriod(inc.Period()), done.Format("2006-01-02"))
	}
	if cfg.Prepare != nil {
		cfg.Prepare(&inc.Res.Options)
	}
	week, err := pipeline.Load(ctx, st, pipeline.Services, ws, end, labelOf)
	if err != nil {
		return nil, nil, err
	}
	if week.Count() == 0 {
		return nil, nil, fmt.Errorf("%w in the period from %s (%s long)", ErrNoProbes, ws.Format("2006-01-02"), FormatPeriod(inc.Period()))
	}
	// Every trained period with today's labels, read only when needed.
	var history *pipeline.Data
	loadHistory := func() (*pipeline.Data, error) {
		if history == nil {
			h, err := pipeline.Load(ctx, st, pipeline.Services, inc.Weeks[0], end, labelOf)
			if err != nil {
				return nil, err
			}
			history = h
		}
		return history, nil
	}
	// With unchanged labels, past periods name no organisation that is no
	// class (the update that learnt them checked): this week's are enough.
	labels := ls.Fingerprint()
	continues := inc.ContinuesWith(labels)
	newIn := week
	if !continues {
		if newIn, err = loadHistory(); err != nil {
			return nil, nil, err
		}
	}
	if orgs := inc.NewOrgs(newIn); len(orgs) > 0 {
		if cfg.Log != nil {
			cfg.Log.Warn("organisations first labelled since the models were trained: retraining every period so that they become classes",
				"orgs", strings.Join(orgs, ","), "periods", len(inc.Weeks)+1)
		}
		h, err := loadHistory()
		if err != nil {
			return nil, nil, err
		}
		if inc, err = pipeline.Retrain(ctx, h, fullyDisclosed, inc.Res.Options, inc.Weeks[0]); err != nil {
			return nil, nil, err
		}
	} else if continues {
		if err := inc.Continue(ctx, week, ws, weekIters(cfg.WeekIters), loadHistory); err != nil {
			return nil, nil, err
		}
	} else {
		if cfg.Log != nil {
			cfg.Log.Info("labels changed since the evidence was learnt (or it keeps no sources): relearning it from every trained period")
		}
		if err := inc.TrainWeek(ctx, week, ws, weekIters(cfg.WeekIters)); err != nil {
			return nil, nil, err
		}
		if err := inc.RelearnEvidence(history); err != nil {
			return nil, nil, err
		}
	}
	inc.LabelsFingerprint = labels
	man, err := inc.Save(cfg.Dst)
	return man, inc, err
}

// IdentifyConfig identifies [From, To) in windows of Window (0: one).
type IdentifyConfig struct {
	From, To time.Time
	Window   time.Duration
	Models   string
	Log      *slog.Logger
}

// Identify attributes every scanner IP of the period with the saved models
// and stores one verdict per IP and window (a window identified again
// keeps only the newer verdicts).
func Identify(ctx context.Context, st store.Store, cfg IdentifyConfig) ([]pipeline.WindowAttributions, error) {
	m, data, err := loadPeriod(ctx, st, cfg.Models, cfg.From, cfg.To)
	if err != nil {
		return nil, err
	}
	windows, err := m.IdentifyWindows(data, cfg.From, cfg.To, cfg.Window)
	if err != nil {
		return nil, err
	}
	for _, w := range windows {
		if err := pipeline.StoreAttributions(ctx, st, w.Attributions, w.From, w.To, m.Manifest.Version); err != nil {
			return nil, err
		}
	}
	return windows, nil
}

// loadPeriod loads the saved models with today's labels and the labelled
// probes of [from, to).
func loadPeriod(ctx context.Context, st store.Store, models string, from, to time.Time) (*pipeline.Models, *pipeline.Data, error) {
	ls, err := LoadLabels(ctx, st, "", nil)
	if err != nil {
		return nil, nil, err
	}
	m, err := pipeline.LoadModels(models, ls.FullyDisclosed)
	if err != nil {
		return nil, nil, err
	}
	m.Networks = ls.Networks
	data, err := pipeline.Load(ctx, st, pipeline.Services, from, to, ls.LabelOf)
	if err != nil {
		return nil, nil, err
	}
	return m, data, nil
}
