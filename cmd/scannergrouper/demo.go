package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var out, preset string
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--preset small]",
		Short: "Run the main job on built-in data: simulate a honeypot world, ingest, train, attribute, report",
		Long: `demo needs nothing but the binary: it generates a synthetic honeypot world
(simulate --preset small), ingests its daily captures into a fresh store, trains
the per-service classifiers and the ensemble on the first 80% of the traffic,
attributes every scanner IP of the rest and prints the evaluation report (with
the over-attribution of innocent scanners, which the simulated truth allows to
measure). Everything it writes goes under --out.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			if global.JSON {
				// The steps are for people; --json prints one object at
				// the end (the console logs the milestones as JSON).
				w = io.Discard
			}
			cfg, err := simulate.PresetConfig(preset, uint64(global.Seed))
			if err != nil {
				return usagef("%v", err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			dbPath := global.DB
			if !cmd.Flags().Changed("db") {
				dbPath = filepath.Join(out, "scannergrouper.db")
				// A demo always starts from a clean store.
				for _, suffix := range []string{"", "-wal", "-shm"} {
					os.Remove(dbPath + suffix)
				}
			}
			start := time.Now()
			fmt.Fprintf(w, "1. simulating the %q world (seed %d) into %s ...\n", preset, global.Seed, out)
			world, err := simulate.Generate(ctx, cfg, filepath.Join(out, "world"))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "   %d first probes over %d weeks, %d daily pcaps (%s)\n",
				world.Counts.Probes.Total(), world.Weeks, len(world.PcapFiles), time.Since(start).Round(time.Millisecond))

			fmt.Fprintf(w, "2. ingesting the captures into %s ...\n", store.Redacted(dbPath))
			st, err := store.Open(ctx, dbPath)
			if err != nil {
				return err
			}
			t := time.Now()
			honeypots, err := prefixesOf(world.Honeypots)
			if err != nil {
				return err
			}
			ing, err := ingest.Run(ctx, st, ingest.Capture, []string{filepath.Join(out, "world", "pcap")}, capture.Options{Sensor: "demo", Honeypots: honeypots}, nil)
			if err != nil {
				st.Close()
				return err
			}
			fmt.Fprintf(w, "   %d packets, %d sessions, %d first probes stored (%s)\n", ing.Packets, ing.Sessions, ing.Stored, time.Since(t).Round(time.Millisecond))

			counts, err := st.ServiceCounts(ctx, store.ProbeQuery{})
			if err != nil {
				st.Close()
				return err
			}
			fmt.Fprintln(w, "3. first probes per service:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "service\tprobes\tscanner IPs\t")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%d\t%d\t\n", c.Service, c.Probes, c.IPs)
			}
			tw.Flush()
			st.Close()

			fmt.Fprintf(w, "\n4. training on the first 80%% of the traffic and attributing the rest (full mode) ...\n")
			opts := pipeline.Default(uint64(global.Seed))
			reportTo(&opts, consoleFor(cmd))
			worldDir := filepath.Join(out, "world")
			res, err := app.RunEvaluation(ctx, app.EvalConfig{DB: dbPath, Labels: filepath.Join(worldDir, "labels.csv"),
				Truth: filepath.Join(worldDir, "truth.csv"), Mode: "full", Opts: opts})
			if err != nil {
				return err
			}
			fmt.Fprintln(w)
			if err := res.Report.WriteTable(w); err != nil {
				return err
			}
			reportPath, predsPath := filepath.Join(out, "report.json"), filepath.Join(out, "predictions.csv")
			if err := atomicfile.Write(reportPath, res.Report.WriteJSON); err != nil {
				return err
			}
			if err := atomicfile.Write(predsPath, func(f io.Writer) error { return pipeline.WritePredictions(f, res.Test) }); err != nil {
				return err
			}
			curvePath := filepath.Join(out, "operating-curve.png")
			if len(res.Report.Curve) > 0 {
				png, err := eval.CurvePNG(res.Report.Curve, res.Report.Theta, "operating curve of the demo world's test period")
				if err != nil {
					return err
				}
				if err := atomicfile.WriteBytes(curvePath, png); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "\n5. clustering the scanners that stay unknown in the test period ...\n")
			in, err := pipeline.AnalysisInput("Still-unknown scanners of the demo world's test period", res.Models, res.TestData, res.Test, res.Classes)
			if err != nil {
				return err
			}
			sum, err := writeAnalysis(filepath.Join(out, "analysis"), in, 0)
			if err != nil {
				return err
			}
			printAnalysis(w, sum)
			if global.JSON {
				var rep bytes.Buffer
				if err := res.Report.WriteJSON(&rep); err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), demoSummary{Out: out, Store: store.Redacted(dbPath), Probes: world.Counts.Probes.Total(), Weeks: world.Weeks,
					Stored: ing.Stored, Services: counts, Report: json.RawMessage(bytes.TrimSpace(rep.Bytes())), ReportFile: reportPath,
					PredictionsFile: predsPath, Analysis: sum, Seconds: time.Since(start).Seconds()})
			}
			fmt.Fprintf(w, "\nDone in %s.\n  report:      %s\n  predictions: %s (every scanner IP of the test period, with the evidence)\n  curve:       %s (what every threshold θ would give)\n  store:       %s (try: scannergrouper probes --db %s --service tls --limit 10)\n",
				time.Since(start).Round(time.Millisecond), reportPath, predsPath, curvePath, store.Redacted(dbPath), store.Redacted(dbPath))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "demo-out", "folder for the world, the store and reports")
	cmd.Flags().StringVar(&preset, "preset", "small", "world size: tiny, small or sd24")
	rootCmd.AddCommand(cmd)
}

// demoSummary is what demo prints under --json.
type demoSummary struct {
	Out             string               `json:"out"`
	Store           string               `json:"store"`
	Probes          int                  `json:"simulated_probes"`
	Weeks           int                  `json:"weeks"`
	Stored          int64                `json:"stored_probes"`
	Services        []store.ServiceCount `json:"services"`
	Report          json.RawMessage      `json:"report"` // as in report.json
	ReportFile      string               `json:"report_file"`
	PredictionsFile string               `json:"predictions_file"`
	Analysis        analysisSummary      `json:"analysis"`
	Seconds         float64              `json:"seconds"`
}

func prefixesOf(addrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range addrs {
		p, err := parsePrefixOrAddr(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
