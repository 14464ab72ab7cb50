package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/grid"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

func init() {
	var (
		structures, seeds, mode string
		jsonOut, csvOut, work   string
		scale                   float64
		weeks                   int
		keep, quick             bool
		tf                      trainingFlags
	)
	cmd := &cobra.Command{
		Use:   "grid [--quick] [--structures a,b] [--seeds 1,2,3] [--scale 0.1] [flags]",
		Short: "Evaluate the attribution on a grid of differently built simulated worlds, next to per-world baselines",
		Long: `grid simulates one world per structure and seed (the sd24 preset at --scale with
the structure's knobs: hidden members, unattributed ratio, generic mimics,
templates per org, honeypot ranges), runs evaluate on each and scores the
attribution next to two baselines computed from the world files alone: the
label lookup (known IP, else the majority label of its /24) and the payload
ceiling (templates whose training senders are mostly one org). It prints one
markdown table with a MIN row (the worst world per column; the highest
over-attribution), and writes it as --json and --csv. docs/bench/grid.md.

Structures: ` + strings.Join(grid.StructureNames(), ", ") + `.
The training flags (--unknown-share, --min-purity, ...) apply to every world.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			cfg := grid.Config{Workdir: work, Keep: keep, Mode: mode, Weeks: weeks}
			if quick {
				cfg = grid.Quick()
				cfg.Workdir, cfg.Keep, cfg.Mode, cfg.Weeks = work, keep, mode, weeks
			}
			if fl.Changed("structures") || !quick {
				cfg.Structures = splitList(structures)
				for _, name := range cfg.Structures {
					if !slices.Contains(grid.StructureNames(), name) {
						return usagef("--structures: unknown structure %q (want some of %s)", name, strings.Join(grid.StructureNames(), ", "))
					}
				}
			}
			if fl.Changed("seeds") {
				for _, s := range splitList(seeds) {
					n, err := strconv.ParseUint(s, 10, 64)
					if err != nil {
						return usagef("--seeds: %q is no seed", s)
					}
					cfg.Seeds = append(cfg.Seeds, n)
				}
			}
			if fl.Changed("scale") {
				if scale <= 0 || scale > 1 {
					return usagef("--scale must be in (0, 1]")
				}
				cfg.Scale = scale
			}
			if mode != "full" && mode != "incremental" {
				return usagef("--mode %q: want full or incremental", mode)
			}
			if weeks < 0 || weeks > 104 {
				return usagef("--weeks must be 1..104")
			}
			// Validate the training flags once; each world then gets them
			// with its own seed.
			if _, err := tf.options(fl, 1); err != nil {
				return err
			}
			con := consoleFor(cmd)
			cfg.Logger = con.Logger()
			cfg.Options = func(seed uint64) pipeline.Options {
				opts, _ := tf.options(fl, seed)
				opts.Logger = con.Logger()
				return opts
			}
			t, err := grid.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := t.WriteMarkdown(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonOut != "" {
				if err := atomicfile.Write(jsonOut, t.WriteJSON); err != nil {
					return err
				}
			}
			if csvOut != "" {
				if err := atomicfile.Write(csvOut, t.WriteCSV); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&structures, "structures", strings.Join(grid.StructureNames(), ","), "world structures, comma-separated")
	fl.StringVar(&seeds, "seeds", "1,2,3", "world seeds, comma-separated (one world per structure and seed)")
	fl.Float64Var(&scale, "scale", 0.1, "share of the SelfDeploy-24 scanners kept in every world")
	fl.IntVar(&weeks, "weeks", 0, "weeks of traffic per world (default 13, as SelfDeploy-24)")
	fl.StringVar(&work, "workdir", "", "folder for the worlds (default: a temporary one)")
	fl.BoolVar(&keep, "keep", false, "keep each world's files in --workdir")
	fl.StringVar(&mode, "mode", "full", "evaluation mode: full or incremental")
	fl.BoolVar(&quick, "quick", false, "the CI grid: scale 0.1, seed 1, every structure (flags given still apply)")
	fl.StringVar(&jsonOut, "json", "", "write the table as JSON to this file")
	fl.StringVar(&csvOut, "csv", "", "write the table as CSV to this file")
	tf.register(fl)
	rootCmd.AddCommand(cmd)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
