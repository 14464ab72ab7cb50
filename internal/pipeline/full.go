package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/ensemble"
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/openset"
)

// Options configure a training run. Paper returns the paper-faithful
// settings; Default the project's defaults.
type Options struct {
	// Split is the share of probes (by time) in the training part.
	Split float64
	// Backbone is openset.BackboneWRN or openset.BackboneMLP.
	Backbone string
	// Iterations per service model.
	Iterations int
	// Select is the field selection mode.
	Select feature.SelectMode
	// Seed drives every random choice.
	Seed uint64
	// Window is the ensemble's vote window in training (7 days).
	Window time.Duration
	// UpdateEvery is the incremental mode's update period: how much traffic
	// each step trains on (0: 7 days; the paper measures 3 to 10).
	UpdateEvery time.Duration
	// PresumeUnknown trains the ensemble with the unknown class as a class
	// of its own, learnt from the fully disclosed organisations and from
	// the unattributed training scanners, presumed to belong to no known
	// organisation (most do; the few hidden members of known orgs are
	// outvoted by the labelled ones). The paper fits known orgs only and
	// relies on θ, which leaves generic tools attributed.
	PresumeUnknown bool
	// CrossFit gives the ensemble out-of-sample votes for its training rows
	// (see crossFitPredictions) instead of the artifact's in-sample ones.
	CrossFit bool
	// UnknownShare is the share of unattributed training rows presumed
	// unknown (0 means all). Lower values attribute more: on the sd24 world
	// 0.3 lifts weighted F1 from 0.80 to 0.89 by giving zgrab2-like
	// payloads to Shadowserver, at 9.4 % over-attribution instead of 0 %.
	UnknownShare float64
	// BNMomentum and EMADecay override the reference's BatchNorm momentum
	// (0.001) and parameter EMA (0.999) when positive: at the reference
	// values the inference network still carries much of its random
	// initialisation after a short run (docs/bench/nn.md).
	BNMomentum, EMADecay float64
	// BackgroundMin > 0 calls unknown every probe whose encoding appeared at
	// least that often in training and never from a labelled scanner of a
	// known organisation (see Background); 0 is the paper's behaviour.
	BackgroundMin int
	// MinPurity > 0 makes a probe a weak vote unless more than that share
	// of the distinct training IPs sending its encoding belong to its
	// predicted organisation (see Background); 0 is the paper's behaviour.
	MinPurity float64
	// MultiHot gives the ensemble every value each service predicted for
	// an IP, not only the vote (ensemble.Config.MultiHot).
	MultiHot bool
	// Evidence attributes with the evidence combiner (label memory, network
	// neighbourhood, payload senders and the classifiers, weighed on a
	// validation slice of the training period) instead of the vote
	// ensemble; see internal/evidence.
	Evidence bool
	// MaxOverAttribution is the over-attribution an operator accepts: θ
	// is the best-F1 threshold that gives an organisation to at most this
	// share of the validation scanners presumed innocent
	// (evidence.ChooseTheta); 0 means the default, 0.03.
	MaxOverAttribution float64
	// Theta, when positive, overrides the θ chosen on the validation slice.
	Theta float64
	// TestFrom, when set, is the cut between training and test (overrides
	// Split).
	TestFrom time.Time
	// SplitZone is the time zone whose midnight the Split cut is rounded
	// down to (nil: UTC).
	SplitZone *time.Location `json:"-"`
	// Networks gives the published networks valid at a time (neighbourhood
	// evidence); nil: none.
	Networks Networks `json:"-"`
	// PixelScale multiplies the uint8 pixels before the network (0: x/255).
	// The paper mode feeds raw 0..255 values, as the artifact's int64 image
	// arrays reach its network (docs/bench/nn.md: with x/255 and the
	// reference BatchNorm, WRN-10-2 predicts one class for every image).
	PixelScale float64
	// Logger receives the run's milestones as structured records; nil
	// discards them.
	Logger *slog.Logger `json:"-"`
	// Progress, when set, hears how far a long step is (done of total;
	// detail is a short human summary), for a progress bar.
	Progress func(task string, done, total int64, detail string) `json:"-"`
}

// Paper is the paper-faithful configuration: WRN-10-2, the top-6 MI
// fields, 2000 iterations, in-sample ensemble rows (docs/paper-faithful.md §3–§5).
func Paper(seed uint64) Options {
	return Options{Split: 0.8, Backbone: openset.BackboneWRN, Iterations: 2000, Select: feature.SelectPaper, Seed: seed, Window: ensemble.Week, PixelScale: 1}
}

// Default is the project's configuration: the MLP backbone and adjusted-MI
// field selection, which reach the paper's accuracy at a fraction of its
// CPU time (BENCHMARKS.md).
func Default(seed uint64) Options {
	o := Paper(seed)
	o.Backbone = openset.BackboneMLP
	o.Select = feature.SelectDefault
	o.Iterations = 2000
	o.PresumeUnknown = true
	o.BNMomentum, o.EMADecay = 0.1, 0.99
	o.BackgroundMin = 10
	o.MinPurity = 0.5
	o.MultiHot = true
	o.PixelScale = 0
	o.Evidence = true
	return o
}

// DefaultMaxOverAttribution is the operator's default bound on the share
// of innocent validation scanners attributed: the project's target (5 %)
// less a margin for test periods that attribute more than their
// validation slices (a 5 % bound gave 5.4 % on the grid's worst world in
// full mode and 5.8 % on sd24 in incremental mode).
const DefaultMaxOverAttribution = 0.03

// Period is the incremental update period (UpdateEvery, 7 days when unset).
func (o Options) Period() time.Duration {
	if o.UpdateEvery > 0 {
		return o.UpdateEvery
	}
	return DefaultUpdatePeriod
}

// DefaultUpdatePeriod is the incremental update period unless set: a week,
// as the paper's weekly evaluation. MinUpdatePeriod and MaxUpdatePeriod
// bound the periods the paper measured (3 to 10 days).
const (
	DefaultUpdatePeriod = 7 * 24 * time.Hour
	MinUpdatePeriod     = 3 * 24 * time.Hour
	MaxUpdatePeriod     = 10 * 24 * time.Hour
)

func (o Options) maxOverAttribution() float64 {
	if o.MaxOverAttribution > 0 {
		return o.MaxOverAttribution
	}
	return DefaultMaxOverAttribution
}

func (o Options) unknownShare() float64 {
	if o.UnknownShare <= 0 {
		return 1
	}
	return o.UnknownShare
}

// discard drops records when no Logger is set.
var discard = slog.New(slog.DiscardHandler)

// Log is the run's logger: Logger, or one that drops every record.
func (o Options) Log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return discard
}

// ReportProgress hands a step's progress to Progress, when one is set.
func (o Options) ReportProgress(task string, done, total int64, detail string) {
	if o.Progress != nil {
		o.Progress(task, done, total, detail)
	}
}

// ServiceModel is the trained classifier of one service.
type ServiceModel struct {
	Service string
	Fields  []string
	Layout  *feature.Layout
	Model   *openset.Model
	// Background images are called unknown without asking the model (nil:
	// the paper's behaviour).
	Background *Background
}

// Attribution is the verdict on one scanner IP over a time range.
type Attribution struct {
	IP       string
	Class    int
	Org      string // known org name or "unknown"
	Prob     float64
	Services []string // services the IP probed in the range
	Truth    string   // ground-truth org ("" unattributed)
	// Evidence names what spoke for Org: listed, payload, neighbourhood,
	// joined with "+" (empty for unknown and for the vote ensemble).
	Evidence string
	// NewIP: the IP was never seen in the training traffic.
	NewIP bool
	// Best and BestProb are the most probable organisation whatever the
	// threshold decided (-1: none), for the operating curve.
	Best     int
	BestProb float64
	// Network is what the evidence combiner's network rules say whatever
	// the threshold (evidence.Verdict.Network: an organisation, Unknown,
	// or -1), for the operating curve.
	Network int
}

// Result is a full-mode run.
type Result struct {
	Options  Options
	Cut      time.Time
	Classes  *Classes
	Models   map[string]*ServiceModel
	Ensemble *ensemble.Model
	// Combiner is the evidence combiner (Options.Evidence) and state what
	// it measures evidence against.
	Combiner *evidence.Combiner
	state    *evidenceState
	// trainScanners counts the training scanners of each known class.
	trainScanners []int
	// Test is the identification of every scanner IP of the test part, and
	// TestData its probes.
	Test     []Attribution
	TestData *Data
	Report   eval.Report
}

// TrainFull runs the full mode (ScannerGrouper-f): a single time cut at
// opts.Split of all probes, field selection, layouts and one open-set
// classifier per service on the training part, the ensemble on weekly
// windows of the training part, and identification of the whole test part.
func TrainFull(ctx context.Context, data *Data, fullyDisclosed func(string) bool, opts Options) (*Result, error) {
	if data.Count() == 0 {
		return nil, errors.New("pipeline: no probes to train on")
	}
	cut, err := opts.cut(data)
	if err != nil {
		return nil, err
	}
	train, test := data.Slice(time.Time{}, cut), data.Slice(cut, time.Time{})
	if train.Count() == 0 {
		return nil, fmt.Errorf("no traffic before the cut %s", cut.Format(time.RFC3339))
	}
	classes := NewClasses(train, fullyDisclosed)
	if classes.Unknown == 0 {
		return nil, errors.New("no labelled scanner of a known organisation in the training part: check that the labels name the scanners in the captures")
	}
	if opts.Evidence {
		res, err := trainFullEvidence(ctx, data, cut, classes, opts.Networks, opts)
		if err != nil {
			return nil, err
		}
		res.trainScanners = train.scannersPerClass(classes)
		return res, nil
	}
	first, _ := train.Span()
	opts.Log().Info("full mode", "training_probes", train.Count(), "test_probes", test.Count(),
		"cut", cut.Format(time.RFC3339), "known_orgs", classes.Unknown)
	res := &Result{Options: opts, Cut: cut, Classes: classes, Models: map[string]*ServiceModel{}}
	timing := map[string]float64{}

	models, trainImages, err := trainModels(ctx, train, classes, opts, timing)
	if err != nil {
		return nil, err
	}
	trainPreds := map[string][]int{}
	testPreds := map[string][]int{}
	for _, svc := range Services {
		sm := models[svc]
		if sm == nil {
			continue
		}
		t0 := time.Now()
		sm.Background = newBackground(opts)
		sm.Background.addEncoding(trainImages[svc], classes)
		timing["train"] += time.Since(t0).Seconds()
		t0 = time.Now()
		if trainPreds[svc], err = predictProbeVotes(sm, trainImages[svc], classes); err != nil {
			return nil, err
		}
		testImages, err := encodeSeries(sm.Layout, test.S(svc))
		if err != nil {
			return nil, err
		}
		if testPreds[svc], err = predictProbeVotes(sm, testImages, classes); err != nil {
			return nil, err
		}
		timing["identify"] += time.Since(t0).Seconds()
		res.Models[svc] = sm
	}

	if opts.CrossFit {
		t0 := time.Now()
		cf, err := crossFitPredictions(ctx, train, classes, opts)
		if err != nil {
			return nil, err
		}
		trainPreds = cf
		timing["crossfit"] = time.Since(t0).Seconds()
	}
	t0 := time.Now()
	// The training part ends at the cut; the last, partial week keeps its rows
	// (the artifact drops it, which loses a whole small world).
	window := ensemble.WindowConfig{Origin: dayStart(first), Length: opts.Window}
	rows, labels, err := ipRows(train, trainPreds, classes, window)
	if err != nil {
		return nil, err
	}
	if opts.PresumeUnknown {
		presumeUnknown(rows, labels, classes, opts.unknownShare())
	}
	ens, err := ensemble.Fit(rows, labels, ensembleConfig(opts, classes, window))
	if err != nil {
		return nil, fmt.Errorf("pipeline: ensemble: %w", err)
	}
	res.Ensemble = ens
	opts.Log().Info("ensemble fitted", "rows", len(rows), "theta", ens.Theta, "training_weighted_f1", round3(ens.ThetaF1))
	timing["ensemble"] = time.Since(t0).Seconds()

	if test.Count() == 0 {
		return res, nil
	}
	res.TestData = test
	t0 = time.Now()
	res.Test, err = Identify(test, testPreds, classes, ens)
	if err != nil {
		return nil, err
	}
	seen := train.ips()
	for i := range res.Test {
		if a, err := netip.ParseAddr(res.Test[i].IP); err == nil {
			res.Test[i].NewIP = !seen[a]
		}
		res.Test[i].Best = -1 // the vote ensemble has no operating curve
	}
	timing["identify"] += time.Since(t0).Seconds()
	if res.Report, err = Evaluate("full", res.Test, test, testPreds, classes, ens.Theta); err != nil {
		return nil, err
	}
	for k, v := range timing {
		res.Report.TimingSeconds[k] = v
	}
	return res, nil
}

// round3 keeps log records readable.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func dayStart(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// buildServiceModel selects fields and lays out the canvas on the training
// probes of one service.
func buildServiceModel(svc string, train *Data, classes *Classes, opts Options, mode feature.Mode) (*ServiceModel, error) {
	s := train.S(svc)
	table, err := s.fieldStatistics()
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s field statistics: %w", svc, err)
	}
	fields, err := table.Select(opts.Select)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s field selection: %w", svc, err)
	}
	build := func() (*feature.Layout, error) {
		inputs, weights := s.distinctInputs()
		layout, err := feature.BuildLayoutWeighted(svc, inputs, weights, feature.LayoutConfig{Fields: fields, Mode: mode})
		if err != nil {
			return nil, fmt.Errorf("pipeline: %s layout: %w", svc, err)
		}
		return layout, nil
	}
	layout, err := build()
	if err != nil {
		return nil, err
	}
	if s.in.cuts(layoutNames(layout)) {
		// The layout encodes a per-connection field (the paper's selection
		// by MI picks them): lay it out again from the values themselves.
		if err := s.in.reveal(); err != nil {
			return nil, err
		}
		if layout, err = build(); err != nil {
			return nil, err
		}
	}
	opts.Log().Info("layout", "service", svc, "fields", strings.Join(fields, ","), "side", layout.Side, "pixels_used", layout.Used)
	return &ServiceModel{Service: svc, Fields: fields, Layout: layout}, nil
}

// datasetOf merges identical (image, label) rows of a service's encoded
// training probes with their multiplicity, in the order of each row's
// first probe: scanner payloads repeat heavily, and sampling the expanded
// set is exactly sampling the probes. The dataset shares memory with enc.
func datasetOf(layout *feature.Layout, enc *encoding, classes *Classes) openset.Dataset {
	ds := openset.Dataset{H: layout.Side, W: layout.Side}
	type row struct {
		image feature.ImageKey
		label int
	}
	labels := classes.orgLabels(enc.s.tab)
	index := map[row]int{}
	for i, r := range enc.s.recs.all() {
		j := enc.row(i)
		y := labels[r.org]
		key := row{enc.keys[j], y}
		if k, ok := index[key]; ok {
			ds.Counts[k]++
			continue
		}
		index[key] = len(ds.Images)
		ds.Images = append(ds.Images, enc.imgs[j])
		ds.Labels = append(ds.Labels, y)
		ds.Counts = append(ds.Counts, 1)
	}
	return ds
}

func openSetConfig(opts Options, k int, incremental bool) openset.Config {
	cfg := openset.PaperConfig(k, incremental)
	cfg.Backbone = opts.Backbone
	cfg.Seed = opts.Seed
	if opts.BNMomentum > 0 {
		cfg.BNMomentum = opts.BNMomentum
	}
	if opts.EMADecay > 0 {
		cfg.EMADecay = opts.EMADecay
	}
	cfg.PixelScale = opts.PixelScale
	return cfg
}

// trainService trains (or, when sm.Model exists, continues training) a
// service's classifier on its probes' encodings, labelled by their orgs.
func trainService(ctx context.Context, sm *ServiceModel, enc *encoding, classes *Classes, opts Options, iters int) error {
	ds := datasetOf(sm.Layout, enc, classes)
	labeled := 0
	for i, y := range ds.Labels {
		if y >= 0 {
			labeled += ds.Counts[i]
		}
	}
	if labeled == 0 {
		return fmt.Errorf("pipeline: %s: no labelled probe of a known organisation to train on", sm.Service)
	}
	if sm.Model == nil {
		m, err := openset.NewModel(openSetConfig(opts, classes.Unknown, false), sm.Layout.Side, sm.Layout.Side)
		if err != nil {
			return err
		}
		sm.Model = m
	}
	log := opts.Log().With("service", sm.Service)
	log.Info("training", "backbone", opts.Backbone, "iterations", iters, "probes", enc.s.Len(),
		"labelled", labeled, "distinct_rows", len(ds.Images))
	start := time.Now()
	last := start
	var first int64
	err := sm.Model.Train(ctx, ds, iters, func(s openset.Stats) {
		if first == 0 {
			first = s.Iteration
		}
		opts.ReportProgress("train "+sm.Service, s.Iteration-first+1, int64(iters), fmt.Sprintf("loss %.3f, %.0f img/s", s.Loss, s.ImagesPerSec))
		if time.Since(last) > 10*time.Second || s.Iteration%500 == 0 {
			last = time.Now()
			log.Info("iteration", "iteration", s.Iteration, "loss", round3(s.Loss), "loss_s", round3(s.LossS), "loss_mb", round3(s.LossMB),
				"loss_ui", round3(s.LossUI), "loss_op", round3(s.LossOP), "p_mask", round3(s.PMaskRatio), "q_mask", round3(s.QMaskRatio),
				"img_per_s", math.Round(s.ImagesPerSec))
		}
	})
	if err != nil {
		return fmt.Errorf("pipeline: train %s: %w", sm.Service, err)
	}
	log.Info("trained", "seconds", round3(time.Since(start).Seconds()))
	return nil
}

// predictVotes returns the vote value of every probe from its encoding:
// its open-set class, made unknown or weak by the service's Background
// (Background.vote).
func predictVotes(sm *ServiceModel, images [][]uint8, classes *Classes) ([]int, error) {
	var preds []openset.Verdict
	if len(images) > 0 {
		var err error
		if preds, err = sm.Model.Classify(images); err != nil {
			return nil, err
		}
	}
	out := make([]int, len(preds))
	for i, p := range preds {
		out[i] = p.Class
	}
	if sm.Background.enabled() {
		for i, img := range images {
			out[i] = sm.Background.vote(img, out[i], classes)
		}
	}
	return out, nil
}

// predictProbeVotes is predictVotes of every probe of an encoding: one
// prediction per distinct image, spread over the probes.
func predictProbeVotes(sm *ServiceModel, enc *encoding, classes *Classes) ([]int, error) {
	v, err := predictVotes(sm, enc.imgs, classes)
	if err != nil {
		return nil, err
	}
	return enc.perProbe(v), nil
}

func newBackground(opts Options) *Background {
	return NewBackground(opts.BackgroundMin).withPurity(opts.MinPurity)
}

// ipRows votes probe predictions per (IP, service, window) and labels each
// row with the IP's ground truth.
func ipRows(data *Data, preds map[string][]int, classes *Classes, window ensemble.WindowConfig) ([]ensemble.IPRow, []int, error) {
	rows, orgOf, err := voteRows(data, preds, classes, window)
	if err != nil {
		return nil, nil, err
	}
	labels := make([]int, len(rows))
	for i, r := range rows {
		labels[i] = classes.Truth(orgOf[r.IP])
	}
	return rows, labels, nil
}

// voteRows votes probe predictions per (IP, service, window) and returns
// each IP's ground-truth org ("" unattributed) alongside.
func voteRows(data *Data, preds map[string][]int, classes *Classes, window ensemble.WindowConfig) ([]ensemble.IPRow, map[string]string, error) {
	var pp []ensemble.ProbePred
	orgOf := map[string]string{}
	for _, svc := range Services {
		if preds[svc] == nil {
			continue
		}
		s := data.S(svc)
		ipStr := make([]string, len(s.tab.addrs.list)) // each address spelt once
		for i, r := range s.recs.all() {
			ip := ipStr[r.src]
			if ip == "" {
				ip = s.tab.addrs.list[r.src].String()
				ipStr[r.src] = ip
			}
			v := preds[svc][i]
			pp = append(pp, ensemble.ProbePred{IP: ip, Service: svc, Time: s.Time(i), Class: v, Weak: v > classes.Unknown})
			if o := s.Org(i); o != "" {
				orgOf[ip] = o
			}
		}
	}
	rows, err := ensemble.VoteProbes(pp, window)
	return rows, orgOf, err
}

// Identify attributes every scanner IP of data (one window over the whole
// range) with the ensemble.
func Identify(data *Data, preds map[string][]int, classes *Classes, ens *ensemble.Model) ([]Attribution, error) {
	rows, orgOf, err := voteRows(data, preds, classes, ensemble.WindowConfig{})
	if err != nil {
		return nil, err
	}
	atts := ens.Predict(rows)
	out := make([]Attribution, len(rows))
	for i, r := range rows {
		svcs := make([]string, 0, len(r.Votes))
		for s := range r.Votes {
			svcs = append(svcs, s)
		}
		sort.Strings(svcs)
		out[i] = Attribution{IP: r.IP, Class: atts[i].Class, Org: classes.Name(atts[i].Class), Prob: atts[i].Prob, Services: svcs, Truth: orgOf[r.IP], Network: -1}
	}
	return out, nil
}

// Evaluate scores attributions and probe predictions against the ground
// truth (docs/formats.md §4): unattributed IPs are left out of the metrics, fully
// disclosed organisations count as the unknown class.
func Evaluate(mode string, atts []Attribution, data *Data, preds map[string][]int, classes *Classes, theta float64) (eval.Report, error) {
	var yTrue, yPred, unattributed []int
	for _, a := range atts {
		t := classes.Truth(a.Truth)
		if t < 0 {
			unattributed = append(unattributed, a.Class)
			continue
		}
		yTrue = append(yTrue, t)
		yPred = append(yPred, a.Class)
	}
	labels := make([]int, len(classes.Names))
	for i := range labels {
		labels[i] = i
	}
	m, err := eval.Classify(yTrue, yPred, labels)
	if err != nil {
		return eval.Report{}, err
	}
	rep := eval.NewReport(mode, theta, m, classes.Names)
	ua := eval.Unattributed(unattributed, classes.Unknown, classes.Names)
	rep.Unattributed = &ua
	if err := addSubsets(&rep, atts, classes); err != nil {
		return rep, err
	}
	for _, svc := range Services {
		var t, p []int
		s := data.S(svc)
		for i := range s.Len() {
			if preds[svc] == nil {
				break
			}
			if y := classes.Truth(s.Org(i)); y >= 0 {
				t = append(t, y)
				p = append(p, classes.probeClass(preds[svc][i]))
			}
		}
		if len(t) == 0 {
			continue
		}
		pl, err := eval.ProbeScore(t, p)
		if err != nil {
			return rep, err
		}
		rep.ProbeLevel[svc] = pl
	}
	return rep, nil
}

// addSubsets adds the new-IP scores, the table without small orgs and the
// evidence counts to a report.
func addSubsets(rep *eval.Report, atts []Attribution, classes *Classes) error {
	small := map[int]bool{}
	for i, c := range rep.Classes {
		if c.Small && c.Support > 0 {
			small[i] = true
		}
	}
	var nt, np, bt, bp []int
	for _, a := range atts {
		if a.Evidence != "" {
			if rep.Evidence == nil {
				rep.Evidence = map[string]int{}
			}
			rep.Evidence[a.Evidence]++
		}
		t := classes.Truth(a.Truth)
		if t < 0 {
			continue
		}
		if a.NewIP {
			nt, np = append(nt, t), append(np, a.Class)
		}
		if !small[t] {
			bt, bp = append(bt, t), append(bp, a.Class)
		}
	}
	var err error
	if rep.NewIPs, err = eval.NewSubset(nt, np, classes.Names); err != nil {
		return err
	}
	if len(small) > 0 {
		if rep.WithoutSmall, err = eval.NewSubset(bt, bp, classes.Names); err != nil {
			return err
		}
	}
	return nil
}
