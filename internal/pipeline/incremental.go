package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/ensemble"
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// WeekIterations is the incremental mode's training per service and week
// (the reference's 2 "epochs" of 100 iterations, docs/paper-faithful.md §4).
const WeekIterations = 200

// Weeks cuts [first, last] into consecutive 7-day windows from the day of
// first; the last one is clipped to last.
func Weeks(first, last time.Time) []time.Time {
	return Periods(first, last, DefaultUpdatePeriod)
}

// Periods cuts [first, last] into consecutive windows of length from the
// day of first (the incremental mode's update periods); the last one is
// clipped to last.
func Periods(first, last time.Time, length time.Duration) []time.Time {
	var starts []time.Time
	for d := dayStart(first); !d.After(last); d = d.Add(length) {
		starts = append(starts, d)
	}
	return starts
}

// TrainIncremental runs the incremental mode (ScannerGrouper-i): week 1
// fixes the fields and the 32×32 layouts; every following week extends the
// layouts, resumes each service model for WeekIterations on that week's
// probes only, and refits the ensemble on the rows of all weeks so far. The
// last week is the test week. Before training on a week, the models of the
// weeks before score it, which gives the weekly F1 curve.
func TrainIncremental(ctx context.Context, data *Data, fullyDisclosed func(string) bool, opts Options, weekIters int) (*Result, error) {
	first, last := data.Span()
	if first.IsZero() {
		return nil, errors.New("pipeline: no probes to train on")
	}
	starts := Periods(first, last, opts.Period())
	if len(starts) < 2 {
		return nil, fmt.Errorf("pipeline: incremental mode needs at least 2 update periods of %s of traffic, have %s",
			opts.Period(), last.Sub(first).Round(time.Hour))
	}
	// The test is the last period, as the paper's final week, or what
	// follows TestFrom when it is set; training periods end at the cut.
	testStart := starts[len(starts)-1]
	if !opts.TestFrom.IsZero() {
		testStart = opts.TestFrom.UTC()
		if !testStart.After(first) {
			return nil, fmt.Errorf("pipeline: --test-from %s is not after the first probe (%s): no training traffic",
				testStart.Format(time.RFC3339), first.Format(time.RFC3339))
		}
		starts = append(Periods(first, testStart.Add(-time.Nanosecond), opts.Period()), testStart)
	}
	train := data.Slice(time.Time{}, testStart)
	test := data.Slice(testStart, time.Time{})
	// The class list covers every organisation labelled before the test
	// week, as the artifact fixes its 25 outputs up front.
	classes := NewClasses(train, fullyDisclosed)
	if classes.Unknown == 0 {
		return nil, errors.New("pipeline: no labelled scanner of a known organisation before the test week")
	}
	opts.Log().Info("incremental mode", "training_weeks", len(starts)-1, "test_week", testStart.Format("2006-01-02"), "known_orgs", classes.Unknown)
	inc := NewIncremental(classes, opts, starts[0])
	res := inc.Res
	res.Cut = testStart
	weekly, timing, err := inc.TrainWeeks(ctx, train, starts[:len(starts)-1], weekIters, true)
	if err != nil {
		return nil, err
	}
	ens := res.Ensemble
	if ens == nil {
		return nil, errors.New("pipeline: no training week had labelled probes")
	}
	t0 := time.Now()
	testImages, err := encodeData(res.Models, test)
	if err != nil {
		return nil, err
	}
	testPreds, err := predictAll(res, testImages)
	if err != nil {
		return nil, err
	}
	res.TestData = test
	theta := ens.Theta
	if res.Combiner != nil {
		ev, err := gatherEvidence(res.Models, inc.state, test, testImages)
		if err != nil {
			return nil, err
		}
		res.Test, theta = ev.attributions(res.Combiner, classes), res.Combiner.Theta
	} else if res.Test, err = Identify(test, testPreds, classes, ens); err != nil {
		return nil, err
	}
	timing["identify"] = time.Since(t0).Seconds()
	if res.Report, err = Evaluate("incremental", res.Test, test, testPreds, classes, theta); err != nil {
		return nil, err
	}
	if res.Combiner != nil {
		res.Report.Curve = OperatingCurve(res.Test, classes, nil)
		if s, ok := weekScore(res.Test, classes, testStart, theta); ok {
			weekly = append(weekly, s)
		}
	} else if s, ok, err := scoreWeek(test, testImages, res, classes, ens, testStart); err == nil && ok {
		weekly = append(weekly, s)
	}
	res.Report.Weekly = weekly
	for k, v := range timing {
		res.Report.TimingSeconds[k] = v
	}
	return res, nil
}

// TrainWeeks trains on the weeks of data that start at starts, in order,
// skipping weeks without probes. It is the one loop over weeks: evaluate's
// incremental mode (TrainIncremental) and `train --mode incremental` both
// run it, so the two cannot drift apart. With score, each week is first
// scored with what was learnt before it (the weekly F1 curve); the evidence
// combiner's score comes from TrainWeek either way, the vote ensemble's
// costs a prediction of the week, which a training run without a report
// skips. It returns the scores and each week's training seconds
// ("week_YYYY-MM-DD").
func (inc *Incremental) TrainWeeks(ctx context.Context, data *Data, starts []time.Time, weekIters int, score bool) ([]eval.WeekScore, map[string]float64, error) {
	res, classes := inc.Res, inc.Res.Classes
	timing := map[string]float64{}
	var weekly []eval.WeekScore
	for _, ws := range starts {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		week := data.Slice(ws, ws.Add(inc.Period()))
		if week.Count() == 0 {
			continue
		}
		// Out-of-sample score of this week with what was learnt before it.
		if res.Options.Evidence {
			// scored by TrainWeek, below
		} else if score && res.Ensemble != nil {
			images, err := encodeData(res.Models, week)
			if err != nil {
				return nil, nil, err
			}
			if s, ok, err := scoreWeek(week, images, res, classes, res.Ensemble, ws); err != nil {
				return nil, nil, err
			} else if ok {
				weekly = append(weekly, s)
			}
		}
		t0 := time.Now()
		if err := inc.TrainWeek(ctx, week, ws, weekIters); err != nil {
			return nil, nil, err
		}
		if inc.needsHistory {
			if err := inc.RelearnEvidence(data.Slice(time.Time{}, ws.Add(inc.Period()))); err != nil {
				return nil, nil, err
			}
		} else if inc.layoutExtended {
			inc.relearnPayloads()
		}
		timing["week_"+ws.Format("2006-01-02")] = time.Since(t0).Seconds()
		if score && inc.lastScoreOK {
			weekly = append(weekly, inc.lastScore)
		}
	}
	return weekly, timing, nil
}

// Incremental is what the weekly updates carry from week to week: the
// models, and the ensemble's rows of every week so far (the ensemble is
// refitted on all of them each week).
type Incremental struct {
	Res    *Result
	Rows   []ensemble.IPRow
	Labels []int
	Window ensemble.WindowConfig
	// Weeks are the starts of the weeks trained so far.
	Weeks []time.Time
	// Examples are the evidence rows of every week but the first, gathered
	// with what was learnt before that week (Options.Evidence), and state
	// what evidence is measured against.
	// One slice per week, the last FitWeeks weeks only.
	Examples [][]evidence.Example
	// AsNew are the listed IPs' rows as if new (evidence.BuildAsNew): fit
	// examples only; one slice per week, as Examples.
	AsNew [][]evidence.Example
	state *evidenceState
	// layoutExtended: a layout gained pixels since the evidence state was
	// last rebuilt, so payloads learnt before are keyed by encodings the
	// models no longer produce (relearnPayloads, RelearnEvidence).
	layoutExtended bool
	// sources are what the payload senders were counted from (nil: not
	// kept, as in states saved before them); needsHistory: they lack
	// probes learnt before a service had a model, so only the history can
	// rebuild the evidence (RelearnEvidence).
	sources      *evidenceSources
	needsHistory bool
	// LabelsFingerprint identifies the labels the evidence was learnt with
	// (label.Resolver.Fingerprint; "" unknown): an update with other labels
	// relearns it from the history, which relabels past weeks.
	LabelsFingerprint string
	// lastScore is the evidence combiner's out-of-sample score of the
	// latest week trained (ok false: none).
	lastScore   eval.WeekScore
	lastScoreOK bool
}

// NewOrgs returns the organisations data labels that are not classes of
// the state (fully disclosed ones aside), sorted: an organisation first
// labelled after the first training, or by labels imported since.
func (inc *Incremental) NewOrgs(data *Data) []string {
	var out []string
	for _, o := range NewClasses(data, inc.Res.Classes.fullyDisclosed).Names {
		if o == "unknown" {
			continue
		}
		if _, ok := inc.Res.Classes.index[o]; !ok {
			out = append(out, o)
		}
	}
	return out
}

// Retrain trains a fresh incremental state on history, period after
// period from origin, with the classes history's labels name: how an
// organisation first labelled later becomes a class (the classifiers' and
// the combiner's outputs are fixed when a state starts). It costs one
// incremental training of the whole history.
func Retrain(ctx context.Context, history *Data, fullyDisclosed func(string) bool, opts Options, origin time.Time) (*Incremental, error) {
	_, last := history.Span()
	if last.IsZero() {
		return nil, errors.New("pipeline: no probes to retrain on")
	}
	classes := NewClasses(history, fullyDisclosed)
	if classes.Unknown == 0 {
		return nil, errors.New("pipeline: no labelled scanner of a known organisation to retrain on")
	}
	inc := NewIncremental(classes, opts, origin)
	// TrainWeeks keeps the evidence up to date with the layouts week by
	// week: nothing is left to relearn after it.
	if _, _, err := inc.TrainWeeks(ctx, history, Periods(origin, last, opts.Period()), WeekIterations, false); err != nil {
		return nil, err
	}
	return inc, nil
}

// Period is the update period the state was trained with.
func (inc *Incremental) Period() time.Duration { return inc.Res.Options.Period() }

// Overlap returns a trained week that [from, to) overlaps (ok false: none).
func (inc *Incremental) Overlap(from, to time.Time) (time.Time, bool) {
	for _, w := range inc.Weeks {
		if from.Before(w.Add(inc.Period())) && w.Before(to) {
			return w, true
		}
	}
	return time.Time{}, false
}

// RelearnEvidence rebuilds what evidence is measured against (payload
// senders, label memory, listed networks) from history, the traffic of
// every week trained so far, encoded with the layouts as they are now and
// labelled as history is. A layout that gained pixels encodes some old
// payloads differently (a value first seen this week now has its own
// pixel), so senders learnt under the old encoding would never match
// again; and labels imported since relabel the memory of past weeks. Its
// only error is reading per-connection values again (Series.reads).
func (inc *Incremental) RelearnEvidence(history *Data) error {
	res := inc.Res
	if !res.Options.Evidence || inc.state == nil {
		return nil
	}
	st := newEvidenceState(res.Classes)
	for _, w := range inc.Weeks {
		st.addNetworks(res.Classes, res.Options.Networks, w)
	}
	images, err := encodeData(res.Models, history)
	if err != nil {
		return err
	}
	st.learn(history, images, res.Classes)
	inc.state, res.state = st, st
	inc.sources = newEvidenceSources()
	if err := inc.sources.add(res.Models, history, res.Classes); err != nil {
		return err
	}
	inc.layoutExtended, inc.needsHistory = false, false
	return nil
}

// relearnPayloads recounts the payload senders from the sources with the
// layouts as they are now: what RelearnEvidence does to them, without the
// history. Label memory and networks do not depend on the layouts.
func (inc *Incremental) relearnPayloads() {
	if inc.state == nil || inc.sources == nil {
		return
	}
	inc.state.pay = inc.sources.payloads(inc.Res.Models)
	inc.layoutExtended = false
}

// ContinuesWith reports whether the next period can be added without
// reading the history again: the evidence's sources are kept and were
// learnt with the labels of this fingerprint.
func (inc *Incremental) ContinuesWith(labels string) bool {
	return !inc.Res.Options.Evidence || (inc.sources != nil && labels != "" && labels == inc.LabelsFingerprint)
}

// Continue adds one period as an update does when ContinuesWith holds:
// TrainWeek, then the evidence recounted from its sources where a layout
// grew; history is read only when the sources cannot rebuild it (a
// service got its first model after earlier periods).
func (inc *Incremental) Continue(ctx context.Context, week *Data, ws time.Time, weekIters int, history func() (*Data, error)) error {
	if err := inc.TrainWeek(ctx, week, ws, weekIters); err != nil {
		return err
	}
	if inc.needsHistory {
		h, err := history()
		if err != nil {
			return err
		}
		if err := inc.RelearnEvidence(h); err != nil {
			return err
		}
	} else if inc.layoutExtended {
		inc.relearnPayloads()
	}
	return nil
}

// NewIncremental starts incremental training with weekly vote windows from
// origin.
func NewIncremental(classes *Classes, opts Options, origin time.Time) *Incremental {
	inc := &Incremental{
		Res:    &Result{Options: opts, Classes: classes, Models: map[string]*ServiceModel{}},
		Window: ensemble.WindowConfig{Origin: origin, Length: opts.Window},
	}
	if opts.Evidence {
		inc.sources = newEvidenceSources()
	}
	return inc
}

// TrainWeek is one incremental step on a week's probes: week 1 fixes each
// service's fields and 32×32 layout; later weeks extend the layouts
// (append-only), resume each model for weekIters on this week only, and the
// ensemble is refitted on the rows of all weeks, θ tuned on this week's.
func (inc *Incremental) TrainWeek(ctx context.Context, week *Data, ws time.Time, weekIters int) error {
	res, classes, opts := inc.Res, inc.Res.Classes, inc.Res.Options
	t0 := time.Now()
	inc.lastScoreOK = false
	if opts.Evidence && inc.state != nil && len(res.Models) > 0 {
		// What the models and the evidence of the weeks before say about
		// this week's IPs: out-of-sample rows for the combiner, and the
		// week's score.
		weekImages, err := encodeData(res.Models, week)
		if err != nil {
			return err
		}
		ev, err := gatherForFit(res.Models, inc.state, week, weekImages)
		if err != nil {
			return err
		}
		ex := ev.examples(classes)
		inc.AsNew = inc.lastWeeks(append(inc.AsNew, ev.fitExamples(classes)[len(ex):]))
		if res.Combiner != nil {
			inc.lastScore, inc.lastScoreOK = weekScore(ev.attributions(res.Combiner, classes), classes, ws, res.Combiner.Theta)
		}
		inc.Examples = inc.lastWeeks(append(inc.Examples, ex))
	}
	preds := map[string][]int{}
	// The week's encodings with the layouts as this week leaves them
	// (extended above when new values appear).
	images := map[string]*encoding{}
	for _, svc := range Services {
		ser := week.S(svc)
		sm := res.Models[svc]
		if sm == nil {
			if !ser.hasKnownLabel(classes) {
				continue // wait for a week that teaches this service something
			}
			var err error
			if sm, err = buildServiceModel(svc, week, classes, opts, feature.ModeIncremental); err != nil {
				return err
			}
			sm.Background = newBackground(opts)
			res.Models[svc] = sm
			// The evidence counts every probe of the service, earlier
			// periods' too, which the sources never saw encoded.
			inc.needsHistory = inc.needsHistory || len(inc.Weeks) > 0
		} else if ser.Len() > 0 {
			if err := ser.readsLayout(sm.Layout); err != nil {
				return err
			}
			if added := sm.Layout.ExtendWeighted(ser.distinctInputs()); added > 0 {
				inc.layoutExtended = true
				opts.Log().Info("layout extended", "service", svc, "week", ws.Format("2006-01-02"), "pixels_added", added, "pixels_used", sm.Layout.Used)
			}
		}
		enc, err := encodeSeries(sm.Layout, ser)
		if err != nil {
			return err
		}
		if ser.Len() > 0 {
			images[svc] = enc
		}
		if ser.hasKnownLabel(classes) {
			if err := trainService(ctx, sm, enc, classes, opts, weekIters); err != nil {
				return err
			}
		}
		if sm.Background == nil {
			sm.Background = newBackground(opts)
		}
		sm.Background.addEncoding(enc, classes)
		if preds[svc], err = predictProbeVotes(sm, enc, classes); err != nil {
			return err
		}
	}
	rows, labels, err := ipRows(week, preds, classes, inc.Window)
	if err != nil {
		return err
	}
	if opts.PresumeUnknown {
		presumeUnknown(rows, labels, classes, opts.unknownShare())
	}
	inc.Rows, inc.Labels = append(inc.Rows, rows...), append(inc.Labels, labels...)
	ens, err := ensemble.Fit(inc.Rows, inc.Labels, ensembleConfig(opts, classes, inc.Window))
	if err != nil {
		return fmt.Errorf("pipeline: ensemble after the week of %s: %w", ws.Format("2006-01-02"), err)
	}
	// The artifact tunes θ on the latest week's rows.
	if _, err := ens.TuneTheta(rows, labels); err != nil {
		return err
	}
	res.Ensemble = ens
	if opts.Evidence {
		if inc.state == nil {
			inc.state = newEvidenceState(classes)
		}
		inc.state.addNetworks(classes, opts.Networks, ws)
		inc.state.learn(week, images, classes)
		if inc.sources != nil {
			if err := inc.sources.add(res.Models, week, classes); err != nil {
				return err
			}
		}
		res.state = inc.state
		if len(inc.Examples) > 0 {
			examples := slices.Concat(inc.Examples...)
			cmb, err := evidence.Fit(classes.Unknown, slices.Concat(append([][]evidence.Example{examples}, inc.AsNew...)...), evidence.FitConfig{})
			if err != nil {
				opts.Log().Warn("evidence combiner not fitted yet", "week", ws.Format("2006-01-02"), "reason", err.Error())
			} else {
				cmb.Curve = cmb.OperatingCurve(examples)
				cmb.Theta = evidence.ChooseTheta(cmb.Curve, opts.maxOverAttribution())
				if opts.Theta > 0 {
					cmb.Theta = opts.Theta
				}
				res.Combiner = cmb
			}
		}
	}
	inc.Weeks = append(inc.Weeks, ws)
	opts.Log().Info("week trained", "week", ws.Format("2006-01-02"), "probes", week.Count(), "ensemble_rows", len(inc.Rows),
		"theta", ens.Theta, "seconds", round3(time.Since(t0).Seconds()))
	return nil
}

// presumeUnknown labels unattributed rows as the unknown class. With share
// < 1 only that share of them (chosen by a hash of IP and window, so the
// same rows every run) is used; the rest stay out of the fit. Fewer presumed
// rows trade over-attribution for recall of orgs whose payloads generic
// tools share.
func presumeUnknown(rows []ensemble.IPRow, labels []int, classes *Classes, share float64) {
	for i, l := range labels {
		if l >= 0 {
			continue
		}
		if share >= 1 || rowFraction(rows[i]) < share {
			labels[i] = classes.Unknown
		}
	}
}

// rowFraction maps a row to [0, 1) deterministically (FNV-1a of IP and
// window).
func rowFraction(r ensemble.IPRow) float64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(r.IP); i++ {
		h ^= uint64(r.IP[i])
		h *= 1099511628211
	}
	h ^= uint64(r.Window)
	h *= 1099511628211
	return float64(h>>11) / float64(1<<53)
}

func ensembleConfig(opts Options, classes *Classes, window ensemble.WindowConfig) ensemble.Config {
	return ensemble.Config{Unknown: classes.Unknown, Services: Services, ClassNames: classes.Names, Window: window,
		FitUnknown: opts.PresumeUnknown, Unweighted: opts.PresumeUnknown, MultiHot: opts.MultiHot}
}

// predictAll predicts every service's probes with the current models from
// their encodings (encodeData).
func predictAll(res *Result, images map[string]*encoding) (map[string][]int, error) {
	preds := map[string][]int{}
	for _, svc := range Services {
		sm := res.Models[svc]
		if sm == nil {
			continue
		}
		if images[svc] == nil {
			preds[svc] = []int{} // no probe: as predicting none
			continue
		}
		p, err := predictProbeVotes(sm, images[svc], res.Classes)
		if err != nil {
			return nil, err
		}
		preds[svc] = p
	}
	return preds, nil
}

// scoreWeek is the scanner-level weighted F1 of one week identified with
// the current models; images are the week's encodings (encodeData).
func scoreWeek(week *Data, images map[string]*encoding, res *Result, classes *Classes, ens *ensemble.Model, start time.Time) (eval.WeekScore, bool, error) {
	preds, err := predictAll(res, images)
	if err != nil {
		return eval.WeekScore{}, false, err
	}
	atts, err := Identify(week, preds, classes, ens)
	if err != nil {
		return eval.WeekScore{}, false, err
	}
	var yt, yp []int
	for _, a := range atts {
		if t := classes.Truth(a.Truth); t >= 0 {
			yt, yp = append(yt, t), append(yp, a.Class)
		}
	}
	if len(yt) == 0 {
		return eval.WeekScore{}, false, nil
	}
	f1, err := eval.WeightedF1(yt, yp)
	if err != nil {
		return eval.WeekScore{}, false, err
	}
	return eval.WeekScore{WeekStart: start.Format("2006-01-02"), Theta: ens.Theta, WeightedF1: f1, Support: len(yt)}, true, nil
}

// weekScore is the scanner-level weighted F1 of a week's attributions.
func weekScore(atts []Attribution, classes *Classes, start time.Time, theta float64) (eval.WeekScore, bool) {
	var yt, yp []int
	for _, a := range atts {
		if t := classes.Truth(a.Truth); t >= 0 {
			yt, yp = append(yt, t), append(yp, a.Class)
		}
	}
	if len(yt) == 0 {
		return eval.WeekScore{}, false
	}
	f1, err := eval.WeightedF1(yt, yp)
	if err != nil {
		return eval.WeekScore{}, false
	}
	return eval.WeekScore{WeekStart: start.Format("2006-01-02"), Theta: theta, WeightedF1: f1, Support: len(yt)}, true
}

// FitWeeks is how many recent weeks the incremental combiner is refitted
// on: a quarter, as long as the paper's datasets, so that it follows how
// scanners change and a weekly update costs the same in the second year as
// in the first. With another update period, the periods that span as long.
const FitWeeks = 13

// lastWeeks keeps the examples of the update periods that span the last
// FitWeeks weeks.
func (inc *Incremental) lastWeeks(periods [][]evidence.Example) [][]evidence.Example {
	n := max(1, int((FitWeeks*DefaultUpdatePeriod+inc.Period()/2)/inc.Period()))
	if len(periods) > n {
		return slices.Clone(periods[len(periods)-n:])
	}
	return periods
}
