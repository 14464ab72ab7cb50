package main

import (
	"encoding/json"
	"slices"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

func init() {
	var out, preset string
	var weeks int
	cmd := &cobra.Command{
		Use:   "simulate --out DIR [--preset tiny|small|sd24] [--seed N] [--weeks W]",
		Short: "Generate a synthetic honeypot world (daily pcaps, labels, ground truth)",
		Long: `simulate writes a synthetic scanner world built from real SelfDeploy-24 sizes and
real tool payloads: DIR/pcap/YYYY-MM-DD.pcap (one classic pcap per UTC day),
DIR/labels.csv (ip,org of labelled scanners), DIR/truth.csv (every first probe
with its true org, hidden members included) and DIR/world.json (statistics).
The same --seed gives byte-identical files.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
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
			world, err := simulate.Generate(cmd.Context(), cfg, out)
			if err != nil {
				return err
			}
			if global.JSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(world)
			}
			return world.WriteReport(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output folder (created if missing)")
	cmd.Flags().StringVar(&preset, "preset", "tiny", "world size: tiny, small or sd24")
	cmd.Flags().IntVar(&weeks, "weeks", 0, "override the preset's number of weeks")
	rootCmd.AddCommand(cmd)
}
