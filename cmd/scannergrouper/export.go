package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/feature"
)

func init() {
	var (
		in                                     featureInput
		format, outDir, layoutMode, layoutFile string
		minCount                               int
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the encoded images and row-aligned metadata of a service as .npy files",
		Long: `export encodes the probes of one service in [--from, --to) and writes, under --out:
  images.npy          uint8 N×H×W (single channel, 0..255)
  meta.csv            row,ip,time,service,label
  meta_ip.npy, meta_time.npy, meta_time_ns.npy, meta_service.npy, meta_label.npy
  layout.json         the layout that made the images (reuse it with --layout)

Without --layout, fields are selected (--mode, labels needed for http/tls) and a
layout is built from these probes (--layout-mode full: smallest fitting square;
incremental: 32×32; DNS is always 16×16). With --layout, that layout is used as
is, e.g. to export a test split with the layout of its training split.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "npy" {
				return usagef("--format %q: only npy is supported", format)
			}
			if outDir == "" {
				return usagef("--out DIR is required")
			}
			sel, err := feature.ParseSelectMode(in.mode)
			if err != nil {
				return usageError{err}
			}
			lm := feature.Mode(layoutMode)
			if lm != feature.ModeFull && lm != feature.ModeIncremental {
				return usagef("--layout-mode %q: want full or incremental", layoutMode)
			}
			ps, labels, err := in.load(cmd)
			if err != nil {
				return err
			}
			service := in.service
			var layout *feature.Layout
			if layoutFile != "" {
				if layout, err = feature.LoadFile(layoutFile); err != nil {
					return err
				}
				if layout.Service != service {
					return usagef("--layout %s is a %s layout, not %s", layoutFile, layout.Service, service)
				}
			} else {
				table, err := feature.FieldStatistics(service, ps, labels)
				if err != nil {
					return err
				}
				fields, err := table.Select(sel)
				if err != nil {
					return fmt.Errorf("%w: give --labels, or a saved layout with --layout", err)
				}
				layout, err = feature.BuildLayout(service, ps, feature.LayoutConfig{Fields: fields, Mode: lm, MinCount: minCount})
				if err != nil {
					return err
				}
			}
			if err := feature.ExportNPY(outDir, layout, ps, labels); err != nil {
				return err
			}
			unique, _, _ := feature.Dedup(layout.EncodeAll(ps))
			summary := struct {
				Service string   `json:"service"`
				Probes  int      `json:"probes"`
				Unique  int      `json:"unique_images"`
				Side    int      `json:"side"`
				Used    int      `json:"used_pixels"`
				Fields  []string `json:"fields"`
				Out     string   `json:"out"`
			}{service, len(ps), len(unique), layout.Side, layout.Used, layout.FieldNames(), outDir}
			if global.JSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(summary)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d probes (%d distinct images) as %d×%d images, %d pixels used, fields %v → %s\n",
				service, summary.Probes, summary.Unique, layout.Side, layout.Side, layout.Used, summary.Fields, outDir)
			return nil
		},
	}
	fl := cmd.Flags()
	in.register(fl, "ip,org CSV (or IP,Label) for field selection and the label column")
	fl.StringVar(&format, "format", "npy", "output format (npy)")
	fl.StringVar(&outDir, "out", "", "output directory (required)")
	fl.StringVar(&layoutMode, "layout-mode", "full", "canvas: full (smallest fitting square) or incremental (32×32)")
	fl.StringVar(&layoutFile, "layout", "", "use this saved layout.json instead of building one")
	fl.IntVar(&minCount, "min-count", feature.DefaultMinCount, "drop option values seen in fewer probes")
	rootCmd.AddCommand(cmd)
}
