package main

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// modelsDir is where train saves and identify loads models: --models, or a
// folder next to a SQLite store, or ./<database>.models for PostgreSQL.
func modelsDir(flag string) string {
	if flag != "" {
		return flag
	}
	if store.IsPostgres(global.DB) {
		name := "scannergrouper"
		if u, err := url.Parse(global.DB); err == nil && strings.Trim(u.Path, "/") != "" {
			name = filepath.Base(strings.Trim(u.Path, "/"))
		}
		return name + ".models"
	}
	return global.DB + ".models"
}

func timeRange(from, to string) (time.Time, time.Time, error) {
	f, err := parseTimeFlag("from", from)
	if err != nil {
		return f, f, err
	}
	t, err := parseTimeFlag("to", to)
	return f, t, err
}

func init() {
	var labels, from, to, models, mode string
	var tf trainingFlags
	train := &cobra.Command{
		Use:   "train [--labels FILE] [--from T] [--to T] [--models DIR]",
		Short: "Train the per-service classifiers and the ensemble on all stored probes of a period",
		Long: `train fits the models on every stored probe of [--from, --to) with the labels in
the store (plus --labels, imported first) and saves them in --models (default:
the store path + ".models"). identify then attributes any period with them.
Use evaluate to measure accuracy on held-out traffic.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if mode != "full" && mode != "incremental" {
				return usagef("--mode %q: want full or incremental", mode)
			}
			f, t, err := timeRange(from, to)
			if err != nil {
				return err
			}
			opts, err := tf.options(cmd.Flags(), uint64(global.Seed))
			if err != nil {
				return err
			}
			opts.Split = 1
			con := consoleFor(cmd)
			reportTo(&opts, con)
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			ls, err := app.LoadLabels(cmd.Context(), st, labels, con.Logger())
			if err != nil {
				return err
			}
			labelOf, fullyDisclosed := ls.LabelOf, ls.FullyDisclosed
			opts.Networks = ls.Networks
			var man *pipeline.Manifest
			if mode == "incremental" {
				// It reads its weeks from the store itself.
				if man, _, err = app.TrainIncremental(cmd.Context(), st, app.TrainConfig{From: f, To: t, Dir: modelsDir(models), Opts: opts, Log: con.Logger()}); err != nil {
					return err
				}
			} else {
				data, err := pipeline.Load(cmd.Context(), st, pipeline.Services, f, t, labelOf)
				if err != nil {
					return err
				}
				res, err := pipeline.TrainFull(cmd.Context(), data, fullyDisclosed, opts)
				if err != nil {
					return err
				}
				_, last := data.Span()
				if man, err = res.Save(modelsDir(models), "full", last); err != nil {
					return err
				}
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), modelsSummary{Models: modelsDir(models), Version: man.Version, Mode: man.Mode,
					TrainedUntil: man.TrainedUntil, Classes: man.Classes, Services: man.Services})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "models %s saved in %s: %d organisations, services %s\n",
				man.Version, modelsDir(models), len(man.Classes), strings.Join(man.Services, ", "))
			return nil
		},
	}
	train.Flags().StringVar(&labels, "labels", "", "label file to import first (ip,org CSV or any `labels import` format)")
	train.Flags().StringVar(&from, "from", "", "first probe time (RFC 3339 or YYYY-MM-DD)")
	train.Flags().StringVar(&to, "to", "", "end of the period (exclusive)")
	train.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models; ./<database>.models for PostgreSQL)")
	tf.register(train.Flags())
	train.Flags().StringVar(&mode, "mode", "full", "full (one training) or incremental (week by week; update adds weeks later)")
	rootCmd.AddCommand(train)
}

func init() {
	var from, to, models, format, window, sensor string
	identify := &cobra.Command{
		Use:   "identify --from T --to T [--window 7d] [--format table|csv|jsonl]",
		Short: "Attribute every scanner IP of a period with the trained models and store the verdicts",
		Long: `identify attributes every scanner IP seen in [--from, --to) with the saved
models and stores one verdict per IP and window. --window cuts the period into
consecutive windows from --from (the paper identifies week by week: --window 7d);
without it the whole period is one window. --sensor attributes from the probes of
one sensor only (its verdicts replace stored ones of the same IP and window).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if global.JSON {
				format = "jsonl"
			}
			if format != "table" && format != "csv" && format != "jsonl" {
				return usagef("--format %q: want table, csv or jsonl", format)
			}
			length, err := parseWindow(window)
			if err != nil {
				return err
			}
			p, err := loadPeriod(cmd, from, to, models, sensor, true)
			if err != nil {
				return err
			}
			defer p.st.Close()
			windows, err := p.models.IdentifyWindows(p.data, p.from, p.to, length)
			if err != nil {
				return err
			}
			for _, w := range windows {
				if err := pipeline.StoreAttributions(cmd.Context(), p.st, w.Attributions, w.From, w.To, p.models.Manifest.Version); err != nil {
					return err
				}
			}
			return writeAttributions(cmd.OutOrStdout(), windows, format)
		},
	}
	identify.Flags().StringVar(&from, "from", "", "period start (RFC 3339 or YYYY-MM-DD)")
	identify.Flags().StringVar(&to, "to", "", "period end (exclusive)")
	identify.Flags().StringVar(&window, "window", "", "identify consecutive windows of this length (7d, 24h, ...); default: the whole period")
	identify.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models; ./<database>.models for PostgreSQL)")
	identify.Flags().StringVar(&format, "format", "table", "table, csv or jsonl")
	identify.Flags().StringVar(&sensor, "sensor", "", "only the probes of this sensor (as given to ingest --sensor)")
	rootCmd.AddCommand(identify)
}

// modelsSummary is what train and update print under --json.
type modelsSummary struct {
	Models       string    `json:"models"` // the folder
	Version      string    `json:"model_version"`
	Mode         string    `json:"mode"`
	TrainedUntil time.Time `json:"trained_until"`
	Classes      []string  `json:"classes"`
	Services     []string  `json:"services"`
	Weeks        int       `json:"weeks,omitempty"` // incremental: weeks trained so far
	EnsembleRows int       `json:"ensemble_rows,omitempty"`
}

func init() {
	var weekStart, labels, models string
	update := &cobra.Command{
		Use:   "update --from DATE [--labels FILE]",
		Short: "One incremental step: extend the layouts, train on one more update period, refit the ensemble, save",
		Long: `update continues models trained with 'train --mode incremental': the period
[--from, --from + the update period) of stored probes (7 days unless train was
given --update-every) extends each service's layout (existing pixels never
move), each model resumes for 200 iterations on that week only, and the ensemble is
refitted on the rows of every week so far; the week's payload senders and labels
are added to the evidence, and where a layout grew the senders are recounted from
the distinct payloads kept with the models. When the labels changed since the
models were saved, the evidence (payload senders, label memory) is rebuilt from
every trained week with the current layouts and labels, so labels imported since
relabel past weeks. A week that overlaps one already trained is refused: each
probe is learnt once.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := requiredTimeFlag("from", weekStart)
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			con := consoleFor(cmd)
			dir := modelsDir(models)
			man, inc, err := app.Update(cmd.Context(), st, app.UpdateConfig{From: ws, Labels: labels, Src: dir, Dst: dir,
				Prepare: func(o *pipeline.Options) { reportTo(o, con) }, Log: con.Logger()})
			if err != nil {
				return err
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), modelsSummary{Models: modelsDir(models), Version: man.Version, Mode: man.Mode,
					TrainedUntil: man.TrainedUntil, Classes: man.Classes, Services: man.Services, Weeks: len(inc.Weeks), EnsembleRows: len(inc.Rows)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "models %s: %d weeks trained, %d ensemble rows\n", man.Version, len(inc.Weeks), len(inc.Rows))
			return nil
		},
	}
	update.Flags().StringVar(&weekStart, "from", "", "first day of the week to add (RFC 3339 or YYYY-MM-DD)")
	deprecatedAlias(update.Flags(), "week-start", "from", &weekStart)
	update.Flags().StringVar(&labels, "labels", "", "label file to import first")
	update.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models; ./<database>.models for PostgreSQL)")
	rootCmd.AddCommand(update)
}

// period is a time range identified with saved models.
type period struct {
	from, to time.Time
	st       store.Store
	models   *pipeline.Models
	data     *pipeline.Data
	atts     []pipeline.Attribution
}

// identifyPeriod loads the probes of [from, to) and attributes them with the
// saved models as one window; the caller closes p.st.
func identifyPeriod(cmd *cobra.Command, from, to, models string) (*period, error) {
	p, err := loadPeriod(cmd, from, to, models, "", false)
	if err != nil {
		return nil, err
	}
	if p.atts, err = p.models.Identify(p.data); err != nil {
		p.st.Close()
		return nil, err
	}
	return p, nil
}

// parseWindow reads a window length: a number of days ("7d") or a Go
// duration ("36h"); empty is 0, one window.
func parseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usagef("--window %q: want a positive number of days (7d) or a duration (36h)", s)
}

// loadPeriod loads the saved models and the probes of [from, to), of one
// sensor or ("") all, with only the fields the models encode when
// modelFields (identification alone: analyze reads other fields); the
// caller closes p.st.
func loadPeriod(cmd *cobra.Command, from, to, models, sensor string, modelFields bool) (*period, error) {
	f, t, err := timeRange(from, to)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cmd.Context(), global.DB)
	if err != nil {
		return nil, err
	}
	p := &period{from: f, to: t, st: st}
	err = func() error {
		ls, err := app.LoadLabels(cmd.Context(), st, "", consoleFor(cmd).Logger())
		if err != nil {
			return err
		}
		labelOf := ls.LabelOf
		if p.models, err = pipeline.LoadModels(modelsDir(models), ls.FullyDisclosed); err != nil {
			return err
		}
		p.models.Networks = ls.Networks
		q := store.ProbeQuery{From: f, To: t, Sensor: sensor}
		if modelFields {
			p.data, err = p.models.LoadQuery(cmd.Context(), st, q, labelOf)
		} else {
			p.data, err = pipeline.LoadQuery(cmd.Context(), st, pipeline.Services, q, labelOf)
		}
		return err
	}()
	if err != nil {
		st.Close()
		return nil, err
	}
	return p, nil
}

func writeAttributions(w io.Writer, windows []pipeline.WindowAttributions, format string) error {
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, win := range windows {
			for _, a := range win.Attributions {
				if err := enc.Encode(map[string]any{"ip": a.IP, "org": a.Org, "probability": a.Prob, "services": a.Services,
					"label": a.Truth, "evidence": a.Evidence, "new_ip": a.NewIP, "window_start": stamp(win.From), "window_end": stamp(win.To)}); err != nil {
					return err
				}
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"ip", "org", "probability", "services", "label", "evidence", "new_ip", "window_start", "window_end"})
		for _, win := range windows {
			for _, a := range win.Attributions {
				cw.Write([]string{a.IP, a.Org, strconv.FormatFloat(a.Prob, 'f', 4, 64), strings.Join(a.Services, "+"), a.Truth,
					a.Evidence, strconv.FormatBool(a.NewIP), stamp(win.From), stamp(win.To)})
			}
		}
		cw.Flush()
		return cw.Error()
	}
	for i, win := range windows {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "window %s .. %s\n", stamp(win.From), stamp(win.To))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IP\tORG\tPROBABILITY\tEVIDENCE\tSERVICES\tLABEL")
		perOrg := map[string]int{}
		for _, a := range win.Attributions {
			perOrg[a.Org]++
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\n", a.IP, a.Org, a.Prob, cmp.Or(a.Evidence, "-"), strings.Join(a.Services, "+"), a.Truth)
		}
		tw.Flush()
		fmt.Fprintf(w, "%d scanner IPs:", len(win.Attributions))
		for _, o := range slices.Sorted(maps.Keys(perOrg)) {
			fmt.Fprintf(w, " %s %d", o, perOrg[o])
		}
		fmt.Fprintln(w)
	}
	if len(windows) == 0 {
		fmt.Fprintln(w, "no probes in the period")
	}
	return nil
}
