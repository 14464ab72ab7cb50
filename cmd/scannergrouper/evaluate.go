package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

func init() {
	var (
		pcaps                    []string
		labels, mode             string
		jsonOut, predsOut, truth string
		curveOut                 string
		split                    float64
		testFrom, splitZone      string
		useDB                    bool
		tf                       trainingFlags
	)
	cmd := &cobra.Command{
		Use:   "evaluate --pcap DIR --labels FILE [flags]",
		Short: "Train on the first part of the traffic, attribute the rest, and score it against the labels",
		Long: `evaluate ingests captures (into a temporary store unless --db is given), labels the
probes, trains one open-set classifier per service and the ensemble on the first
--split of the traffic (by time), attributes every scanner IP of the rest and
prints the per-organisation report (JSON with --json; format: docs/formats.md §4).
Unattributed IPs are excluded from the metrics; fully disclosed organisations
(censys, driftnet) are scored as "unknown". --predictions writes ip,org,probability for every test IP.

--paper selects the paper-faithful settings (WRN-10-2, top-6 MI fields, 2000
iterations); the defaults are the project's faster ones.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			opts, err := tf.options(fl, uint64(global.Seed))
			if err != nil {
				return err
			}
			if split <= 0 || split >= 1 {
				return usagef("--split must be in (0, 1)")
			}
			opts.Split = split
			if testFrom != "" {
				if fl.Changed("split") {
					return usagef("give --split or --test-from, not both")
				}
				t, err := parseTimeFlag("test-from", testFrom)
				if err != nil {
					return err
				}
				opts.TestFrom = t
			}
			if splitZone != "" {
				loc, err := parseZone(splitZone)
				if err != nil {
					return err
				}
				opts.SplitZone = loc
			}
			if mode != "full" && mode != "incremental" {
				return usagef("--mode %q: want full or incremental", mode)
			}
			if len(pcaps) == 0 && !fl.Changed("db") {
				return usagef("give --pcap (or --db with stored probes)")
			}
			if labels == "" {
				return usagef("--labels is required")
			}
			con := consoleFor(cmd)
			reportTo(&opts, con)
			cfg := app.EvalConfig{Pcaps: pcaps, Labels: labels, Mode: mode, Truth: truth, Opts: opts}
			if fl.Changed("db") || useDB {
				cfg.DB = global.DB
			}
			res, err := app.RunEvaluation(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			write := res.Report.WriteTable
			if global.JSON {
				write = res.Report.WriteJSON
			}
			if err := write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonOut != "" {
				if err := atomicfile.Write(jsonOut, res.Report.WriteJSON); err != nil {
					return err
				}
			}
			if curveOut != "" {
				png, err := eval.CurvePNG(res.Report.Curve, res.Report.Theta, "operating curve, test period")
				if err != nil {
					return err
				}
				if err := atomicfile.WriteBytes(curveOut, png); err != nil {
					return err
				}
			}
			if predsOut != "" {
				if err := atomicfile.Write(predsOut, func(w io.Writer) error { return pipeline.WritePredictions(w, res.Test) }); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&pcaps, "pcap", nil, "capture file or folder (repeatable)")
	fl.StringVar(&labels, "labels", "", "ground truth: ip,org (or IP,Label) CSV or any format `labels import` reads")
	fl.StringVar(&mode, "mode", "full", "full or incremental")
	fl.Float64Var(&split, "split", 0.8, "share of the captured time span used for training (the cut is rounded down to a midnight of --split-zone)")
	fl.StringVar(&testFrom, "test-from", "", "exact cut: the test period starts at this time (RFC 3339 or a date); instead of --split")
	fl.StringVar(&splitZone, "split-zone", "", "time zone of the days --split rounds to: UTC (default), +08:00, or a zone name (SelfDeploy data: +08:00)")
	tf.register(fl)
	// --json FILE, the old spelling, is rewritten to --report by legacyArgs.
	fl.StringVar(&jsonOut, "report", "", "write the JSON report (docs/formats.md §4) to this file (--json FILE still works as an old alias)")
	fl.StringVar(&predsOut, "predictions", "", "write ip,org,probability,evidence,new_ip for every test IP to this CSV")
	fl.StringVar(&curveOut, "curve", "", "draw the operating curve (F1, new-IP F1, unattributed IPs given an org, with --truth over-attribution and hidden recall, against θ) into this PNG")
	fl.StringVar(&truth, "truth", "", "simulated world's truth.csv: adds hidden-member recall and over-attribution")
	fl.BoolVar(&useDB, "keep", false, "ingest into --db (kept) instead of a temporary store")
	rootCmd.AddCommand(cmd)
}
