package main

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

func init() {
	var out, preset, layout string
	var weeks int
	var st simulate.Config // the structural knobs only
	var scale float64
	cmd := &cobra.Command{
		Use:   "simulate --out DIR [--preset tiny|small|sd24|c23] [--seed N] [--weeks W] [structure flags]",
		Short: "Generate a synthetic honeypot world (daily pcaps, labels, ground truth)",
		Long: `simulate writes a synthetic scanner world built from real SelfDeploy-24 sizes and
real tool payloads: DIR/pcap/YYYY-MM-DD.pcap (one classic pcap per UTC day),
DIR/labels.csv (ip,org of labelled scanners), DIR/truth.csv (every first probe
with its true org, hidden members included) and DIR/world.json (statistics).
The same --seed gives byte-identical files.

--preset c23 writes a world of the paper's largest dataset's shape (360
Company-23: 78 M first probes, 497 k scanners, ~2.5 k of known orgs, one
month) as payload CSV logs, DIR/payload/YYYY-MM-DD.csv (ingest --format
payload-csv), with DIR/labels.csv, DIR/scanners.csv (the truth per scanner)
and DIR/world.json. It is generated as a stream: memory grows with scanners,
not probes. --scale is the share of the full size (default 0.01).
  scannergrouper simulate --preset c23 --scale 0.05 --out c23

The structure flags build worlds unlike SelfDeploy-24 (docs/bench/simulate.md):
--hidden-per-org, --unattributed-ratio, --generic-mimics, --templates-per-org,
--scale and --honeypots; left out, the preset's world is unchanged.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			if preset == "c23" {
				return runC23(cmd, out, scale)
			}
			if !slices.Contains(simulate.Presets, preset) {
				return usagef("unknown preset %q (want one of %v)", preset, simulate.Presets)
			}
			cfg, err := simulate.PresetConfig(preset, uint64(global.Seed))
			if err != nil {
				return usagef("%v", err)
			}
			if cmd.Flags().Changed("weeks") {
				if weeks < 1 || weeks > 104 {
					return usagef("--weeks must be 1..104")
				}
				cfg.Weeks = weeks
			}
			if cmd.Flags().Changed("scale") {
				if scale <= 0 || scale > 1 {
					return usagef("--scale must be in (0, 1]")
				}
				cfg.KnownFraction, cfg.UnknownFraction = scale, scale
			}
			cfg.HiddenPerOrg, cfg.UnattributedRatio = st.HiddenPerOrg, st.UnattributedRatio
			cfg.GenericMimics, cfg.TemplatesPerOrg = st.GenericMimics, st.TemplatesPerOrg
			cfg.WriteTemplates = st.WriteTemplates
			if cmd.Flags().Changed("honeypots") {
				if cfg.Honeypots, cfg.HoneypotsTest, err = simulate.HoneypotLayout(layout, uint64(global.Seed)); err != nil {
					return usagef("--honeypots: %v", err)
				}
			}
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			world, err := simulate.Generate(cmd.Context(), cfg, out)
			if err != nil {
				return err
			}
			return printWorld(cmd, world, world.WriteReport)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output folder (created if missing)")
	cmd.Flags().StringVar(&preset, "preset", "tiny", "world size: tiny, small, sd24, or c23 (360 Company-23's shape, payload CSV)")
	cmd.Flags().IntVar(&weeks, "weeks", 0, "override the preset's number of weeks")
	cmd.Flags().Float64Var(&scale, "scale", 0, "share of the real SelfDeploy-24 scanners kept, labelled and unattributed alike (overrides the preset's); with --preset c23 the share of 360 Company-23's size (default 0.01)")
	cmd.Flags().Float64Var(&st.HiddenPerOrg, "hidden-per-org", 0, "share of each known org's scanners that no list names (e.g. 0.05-0.4; 0: the preset's hidden members drawn from unattributed scanners)")
	cmd.Flags().Float64Var(&st.UnattributedRatio, "unattributed-ratio", 0, "unattributed scanners per labelled scanner (e.g. 1-10; 0: as the preset keeps them)")
	cmd.Flags().IntVar(&st.GenericMimics, "generic-mimics", 0, "unattributed scanners per known org that replay the org's exact templates")
	cmd.Flags().IntVar(&st.TemplatesPerOrg, "templates-per-org", 0, "payload templates per org and service, derived from the org's own (e.g. 1-8; 0: as profiled)")
	cmd.Flags().BoolVar(&st.WriteTemplates, "write-templates", false, "also write DIR/templates.csv: the payload template of every truth.csv row")
	cmd.Flags().StringVar(&layout, "honeypots", "slash24", "honeypot addresses: slash24 (one /24), slash16s (four /16s) or split16s (four /16s, four others after the split)")
	rootCmd.AddCommand(cmd)
}

// runC23 writes the 360 Company-23-shaped world; the structure flags and
// --weeks belong to the pcap presets.
func runC23(cmd *cobra.Command, out string, scale float64) error {
	for _, name := range []string{"weeks", "hidden-per-org", "unattributed-ratio", "generic-mimics", "templates-per-org", "write-templates", "honeypots"} {
		if cmd.Flags().Changed(name) {
			return usagef("--%s does not apply to --preset c23", name)
		}
	}
	if !cmd.Flags().Changed("scale") {
		scale = 0.01
	}
	if scale <= 0 || scale > 1 {
		return usagef("--scale must be in (0, 1]")
	}
	world, err := simulate.GenerateStream(cmd.Context(), simulate.C23Config(uint64(global.Seed), scale), out)
	if err != nil {
		return err
	}
	return printWorld(cmd, world, world.WriteReport)
}

// printWorld prints a world's summary: JSON with --json, else its report.
func printWorld(cmd *cobra.Command, world any, report func(io.Writer) error) error {
	if global.JSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(world)
	}
	return report(cmd.OutOrStdout())
}
