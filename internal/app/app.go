// Package app holds ScannerGrouper's use cases above the pipeline: an
// evaluation run (ingest → labels → load → train → score), opening the
// stored ground truth, and scoring against a simulated world's truth. The
// CLI and internal/grid call it; internal/pipeline keeps training, voting,
// evidence and identification and knows no file, store opening or
// registration of protocols (docs/architecture.md).
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all" // ingest parses HTTP, TLS, DNS, SSH, RDP
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// EvalConfig is one `scannergrouper evaluate` run.
type EvalConfig struct {
	Pcaps  []string // capture files or folders to ingest (may be empty when DB already holds probes)
	Labels string   // ip,org label file
	DB     string   // store path; empty: a temporary store
	Mode   string   // "full" or "incremental" (pipeline.TrainIncremental)
	Truth  string   // optional simulate truth.csv
	Opts   pipeline.Options
}

// RunEvaluation ingests, labels, trains and scores, and returns the result
// with the report's timing filled in.
func RunEvaluation(ctx context.Context, cfg EvalConfig) (*pipeline.Result, error) {
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
			cfg.Opts.ReportProgress("ingest", r.Extracted, 0, fmt.Sprintf("%d first probes stored", r.Stored))
		})
		if err != nil {
			return nil, err
		}
		cfg.Opts.ReportProgress("ingest", res.Probes, res.Probes, fmt.Sprintf("first probes, %d newly stored", res.Stored))
		cfg.Opts.Log().Info("ingested", "packets", res.Packets, "first_probes", res.Probes, "new", res.Stored)
	}
	ingestSecs := time.Since(t0).Seconds()

	ls, err := LoadLabels(ctx, st, cfg.Labels, cfg.Opts.Log())
	if err != nil {
		return nil, err
	}
	labelOf, fullyDisclosed := ls.LabelOf, ls.FullyDisclosed
	if cfg.Opts.Networks == nil {
		cfg.Opts.Networks = ls.Networks
	}
	t0 = time.Now()
	data, err := pipeline.Load(ctx, st, pipeline.Services, time.Time{}, time.Time{}, labelOf)
	if err != nil {
		return nil, err
	}
	loadSecs := time.Since(t0).Seconds()
	if err := checkEvaluationData(data, cfg.Labels); err != nil {
		return nil, err
	}
	var res *pipeline.Result
	switch cfg.Mode {
	case "", "full":
		res, err = pipeline.TrainFull(ctx, data, fullyDisclosed, cfg.Opts)
	case "incremental":
		res, err = pipeline.TrainIncremental(ctx, data, fullyDisclosed, cfg.Opts, pipeline.WeekIterations)
	default:
		err = fmt.Errorf("app: unknown mode %q (full or incremental)", cfg.Mode)
	}
	if err != nil {
		return nil, err
	}
	if len(res.Test) == 0 {
		return nil, fmt.Errorf("the test period (from %s) has no traffic: nothing to attribute; move the cut (--split, --test-from) or give more captures",
			res.Cut.Format(time.RFC3339))
	}
	res.Report.Warnings = append(res.Report.Warnings, pipeline.DataWarnings(res)...)
	for _, w := range res.Report.Warnings {
		cfg.Opts.Log().Warn(w)
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
func checkEvaluationData(data *pipeline.Data, labelsFile string) error {
	if data.Count() == 0 {
		return errors.New("the store holds no HTTP, TLS or DNS first probe: ingest captures first (--pcap)")
	}
	if data.Labelled() {
		return nil
	}
	return fmt.Errorf("the labels (%s) name none of the %d scanners' addresses in the captures: check the file matches the traffic (columns ip,org; dates)",
		labelsFile, data.Scanners())
}
