package pipeline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/label"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all" // ingest parses HTTP, TLS, DNS
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// EvalConfig is one `scannergrouper evaluate` run.
type EvalConfig struct {
	Pcaps  []string // capture files or folders to ingest (may be empty when DB already holds probes)
	Labels string   // ip,org label file
	DB     string   // store path; empty: a temporary store
	Mode   string   // "full" (incremental: see TrainIncremental)
	Truth  string   // optional simulate truth.csv
	Opts   Options
}

// RunEvaluation ingests, labels, trains and scores, and returns the result
// with the report's timing filled in.
func RunEvaluation(ctx context.Context, cfg EvalConfig) (*Result, error) {
	start := time.Now()
	dbPath := cfg.DB
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "scannergrouper-eval-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "eval.db")
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t0 := time.Now()
	if len(cfg.Pcaps) > 0 {
		res, err := ingest.Run(ctx, st, ingest.Capture, cfg.Pcaps, capture.Options{}, func(r ingest.Result) {
			cfg.Opts.progress("ingest", r.Extracted, 0, fmt.Sprintf("%d first probes stored", r.Stored))
		})
		if err != nil {
			return nil, err
		}
		cfg.Opts.progress("ingest", res.Probes, res.Probes, fmt.Sprintf("first probes, %d newly stored", res.Stored))
		cfg.Opts.log().Info("ingested", "packets", res.Packets, "first_probes", res.Probes, "new", res.Stored)
	}
	ingestSecs := time.Since(t0).Seconds()

	ls, err := LoadLabels(ctx, st, cfg.Labels, cfg.Opts.log())
	if err != nil {
		return nil, err
	}
	labelOf, fullyDisclosed := ls.LabelOf, ls.FullyDisclosed
	if cfg.Opts.Networks == nil {
		cfg.Opts.Networks = ls.Networks
	}
	t0 = time.Now()
	data, err := Load(ctx, st, Services, time.Time{}, time.Time{}, labelOf)
	if err != nil {
		return nil, err
	}
	loadSecs := time.Since(t0).Seconds()
	if err := checkEvaluationData(data, cfg.Labels); err != nil {
		return nil, err
	}
	var res *Result
	switch cfg.Mode {
	case "", "full":
		res, err = TrainFull(ctx, data, fullyDisclosed, cfg.Opts)
	case "incremental":
		res, err = TrainIncremental(ctx, data, fullyDisclosed, cfg.Opts, WeekIterations)
	default:
		err = fmt.Errorf("pipeline: unknown mode %q (full or incremental)", cfg.Mode)
	}
	if err != nil {
		return nil, err
	}
	if len(res.Test) == 0 {
		return nil, fmt.Errorf("the test period (from %s) has no traffic: nothing to attribute; move the cut (--split, --test-from) or give more captures",
			res.Cut.Format(time.RFC3339))
	}
	res.Report.Warnings = append(res.Report.Warnings, dataWarnings(res)...)
	for _, w := range res.Report.Warnings {
		cfg.Opts.log().Warn(w)
	}
	if cfg.Truth != "" {
		ts, err := truthStats(cfg.Truth, res)
		if err != nil {
			return nil, err
		}
		res.Report.Truth = &ts
	}
	res.Report.TimingSeconds["ingest"] = ingestSecs
	res.Report.TimingSeconds["load"] = loadSecs
	res.Report.TimingSeconds["total"] = time.Since(start).Seconds()
	return res, nil
}

// checkEvaluationData refuses data an evaluation cannot score: no probe,
// or labels that name none of the scanners.
func checkEvaluationData(data *Data, labelsFile string) error {
	if data.Count() == 0 {
		return errors.New("the store holds no HTTP, TLS or DNS first probe: ingest captures first (--pcap)")
	}
	for _, orgs := range data.Orgs {
		for _, o := range orgs {
			if o != "" {
				return nil
			}
		}
	}
	return fmt.Errorf("the labels (%s) name none of the %d scanners' addresses in the captures: check the file matches the traffic (columns ip,org; dates)",
		labelsFile, len(data.ips()))
}

// dataWarnings names what makes a report weak: a single known
// organisation, organisations with one training scanner, an empty
// validation or test class.
func dataWarnings(res *Result) []string {
	var out []string
	if res.Classes.Unknown == 1 {
		out = append(out, fmt.Sprintf("only one known organisation (%s) in the training part: the report measures it against unknown only", res.Classes.Names[0]))
	}
	if res.trainScanners != nil {
		var thin []string
		for c, n := range res.trainScanners {
			if n == 1 {
				thin = append(thin, res.Classes.Names[c])
			}
		}
		if len(thin) > 0 {
			slices.Sort(thin)
			out = append(out, fmt.Sprintf("%d organisations have a single training scanner, so every attribution to them rests on it: %s",
				len(thin), strings.Join(thin, ", ")))
		}
	}
	return out
}

// Labels imports an optional label file into the store's label database
// and returns a labeler over everything stored (labels import, IP lists,
// cookie tags) and the registry's fully-disclosed test.
func Labels(ctx context.Context, st store.Store, file string, log *slog.Logger) (Labeler, func(string) bool, error) {
	ls, err := LoadLabels(ctx, st, file, log)
	if err != nil {
		return nil, nil, err
	}
	return ls.LabelOf, ls.FullyDisclosed, nil
}

// LabelSource is what the stored ground truth gives the pipeline.
type LabelSource struct {
	LabelOf        Labeler
	FullyDisclosed func(string) bool
	// Networks are the published networks (entries wider than one
	// address) valid at a time: neighbourhood evidence.
	Networks Networks
}

// LoadLabels imports an optional label file into the store's label
// database and returns what every stored label source says.
func LoadLabels(ctx context.Context, st store.Store, file string, log *slog.Logger) (*LabelSource, error) {
	ldb, err := label.Open(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	if file != "" {
		rep, err := ldb.ImportFile(ctx, file, label.ImportOptions{})
		if err != nil {
			return nil, fmt.Errorf("labels %s: %w", file, err)
		}
		if log != nil {
			log.Info("labels imported", "file", file, "new", rep.Added)
		}
	}
	resolver, err := ldb.Resolver(ctx, label.Policy{})
	if err != nil {
		return nil, err
	}
	labelOf := func(a netip.Addr, t time.Time) string {
		org, _ := resolver.Lookup(a, t)
		return org
	}
	networks := func(t time.Time) []LabelledNetwork {
		var out []LabelledNetwork
		for p, org := range resolver.All(t) {
			if !p.IsSingleIP() {
				out = append(out, LabelledNetwork{Prefix: p, Org: org})
			}
		}
		return out
	}
	return &LabelSource{LabelOf: labelOf, FullyDisclosed: ldb.Registry().FullyDisclosed, Networks: networks}, nil
}

// worldTruth is a simulated world's full ground truth per IP.
type worldTruth map[string]struct {
	org    string
	hidden bool
}

func readWorldTruth(path string) (worldTruth, error) {
	rows, err := simulate.ReadTruth(path)
	if err != nil {
		return nil, err
	}
	truth := worldTruth{}
	for _, r := range rows {
		t := truth[r.SrcIP.String()]
		t.org, t.hidden = r.Org, t.hidden || r.Hidden
		truth[r.SrcIP.String()] = t
	}
	return truth, nil
}

// stats scores predicted classes (parallel to atts) against the truth:
// hidden members of known orgs and IPs that only run generic tools.
func (truth worldTruth) stats(atts []Attribution, predicted func(i int) int, classes *Classes) eval.TruthStats {
	var trs []eval.TruthRow
	for i, a := range atts {
		t, ok := truth[a.IP]
		if !ok {
			continue
		}
		row := eval.TruthRow{Predicted: predicted(i), TrueClass: classes.Unknown, Hidden: t.hidden}
		if c := classes.TrainLabel(t.org); c >= 0 {
			row.TrueClass = c
		}
		row.Generic = (t.org == "unknown" || t.org == "") && !t.hidden
		trs = append(trs, row)
	}
	return eval.Truth(trs, classes.Unknown)
}

// truthStats scores the test attributions against a simulated world's
// truth.
func truthStats(path string, res *Result) (eval.TruthStats, error) {
	truth, err := readWorldTruth(path)
	if err != nil {
		return eval.TruthStats{}, err
	}
	if res.Combiner != nil {
		res.Report.Curve = operatingCurve(res.Test, res.Classes, truth)
	}
	return truth.stats(res.Test, func(i int) int { return res.Test[i].Class }, res.Classes), nil
}

// operatingCurve is what each θ would have given on the test period
// (truth may be nil).
func operatingCurve(atts []Attribution, classes *Classes, truth worldTruth) []eval.CurvePoint {
	var out []eval.CurvePoint
	for t := 5; t <= 95; t += 5 {
		theta := float64(t) / 100
		pred := func(i int) int {
			if atts[i].Best >= 0 && atts[i].BestProb >= theta {
				return atts[i].Best
			}
			return classes.Unknown
		}
		var yt, yp, nt, np []int
		unattr, attributed := 0, 0
		for i, a := range atts {
			c := classes.Truth(a.Truth)
			if c < 0 {
				unattr++
				if pred(i) != classes.Unknown {
					attributed++
				}
				continue
			}
			yt, yp = append(yt, c), append(yp, pred(i))
			if a.NewIP {
				nt, np = append(nt, c), append(np, pred(i))
			}
		}
		pt := eval.CurvePoint{Theta: theta}
		pt.WeightedF1, _ = eval.WeightedF1(yt, yp)
		pt.NewIPF1, _ = eval.WeightedF1(nt, np)
		if unattr > 0 {
			pt.UnattributedAttributed = float64(attributed) / float64(unattr)
		}
		if truth != nil {
			s := truth.stats(atts, pred, classes)
			pt.OverAttribution, pt.HiddenRecall = &s.OverAttribution, &s.HiddenRecall
		}
		out = append(out, pt)
	}
	return out
}

// WritePredictions writes ip,org,probability for every scanner IP of the
// test part, labelled or not (the contract of `evaluate --predictions`).
func WritePredictions(w io.Writer, atts []Attribution) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"ip", "org", "probability", "evidence", "new_ip"})
	for _, a := range atts {
		cw.Write([]string{a.IP, a.Org, strconv.FormatFloat(a.Prob, 'f', 4, 64), a.Evidence, strconv.FormatBool(a.NewIP)})
	}
	cw.Flush()
	return cw.Error()
}
