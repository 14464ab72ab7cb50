package pipeline

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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

	labelOf, fullyDisclosed, err := Labels(ctx, st, cfg.Labels, cfg.Opts.log())
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	data, err := Load(ctx, st, Services, time.Time{}, time.Time{}, labelOf)
	if err != nil {
		return nil, err
	}
	loadSecs := time.Since(t0).Seconds()
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

// Labels imports an optional label file into the store's label database
// and returns a labeler over everything stored (labels import, IP lists,
// cookie tags) and the registry's fully-disclosed test.
func Labels(ctx context.Context, st store.Store, file string, log *slog.Logger) (Labeler, func(string) bool, error) {
	ldb, err := label.Open(ctx, st, nil)
	if err != nil {
		return nil, nil, err
	}
	if file != "" {
		rep, err := ldb.ImportFile(ctx, file, label.ImportOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("labels %s: %w", file, err)
		}
		if log != nil {
			log.Info("labels imported", "file", file, "new", rep.Added)
		}
	}
	resolver, err := ldb.Resolver(ctx, label.Policy{})
	if err != nil {
		return nil, nil, err
	}
	labelOf := func(a netip.Addr, t time.Time) string {
		org, _ := resolver.Lookup(a, t)
		return org
	}
	return labelOf, ldb.Registry().FullyDisclosed, nil
}

// truthStats scores the test attributions against a simulated world's
// full ground truth: hidden members of known orgs and IPs that only run
// generic tools.
func truthStats(path string, res *Result) (eval.TruthStats, error) {
	rows, err := simulate.ReadTruth(path)
	if err != nil {
		return eval.TruthStats{}, err
	}
	type ipTruth struct {
		org    string
		hidden bool
	}
	truth := map[string]ipTruth{}
	for _, r := range rows {
		t := truth[r.SrcIP.String()]
		t.org, t.hidden = r.Org, t.hidden || r.Hidden
		truth[r.SrcIP.String()] = t
	}
	var trs []eval.TruthRow
	for _, a := range res.Test {
		t, ok := truth[a.IP]
		if !ok {
			continue
		}
		row := eval.TruthRow{Predicted: a.Class, TrueClass: res.Classes.Unknown, Hidden: t.hidden}
		if c := res.Classes.TrainLabel(t.org); c >= 0 {
			row.TrueClass = c
		}
		row.Generic = (t.org == "unknown" || t.org == "") && !t.hidden
		trs = append(trs, row)
	}
	return eval.Truth(trs, res.Classes.Unknown), nil
}

// WritePredictions writes ip,org,probability for every scanner IP of the
// test part, labelled or not (the contract of `evaluate --predictions`).
func WritePredictions(w io.Writer, atts []Attribution) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"ip", "org", "probability"})
	for _, a := range atts {
		cw.Write([]string{a.IP, a.Org, strconv.FormatFloat(a.Prob, 'f', 4, 64)})
	}
	cw.Flush()
	return cw.Error()
}
