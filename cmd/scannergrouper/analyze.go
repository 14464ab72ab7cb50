package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/analysis"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

func init() {
	var from, to, models, out string
	var k int
	cmd := &cobra.Command{
		Use:   "analyze --from T --to T --out DIR [--k K]",
		Short: "Cluster the scanners still unknown in a period and report what they send (tables, t-SNE figures)",
		Long: `analyze identifies a period with the trained models, takes the probes of the
scanners that stay unknown (and are not labelled with a known organisation), clusters
their 128-d projections per service with K-means (K chosen in 3..10 by the paper's
silhouette rule unless --k is given), and writes DIR/report.md with per-cluster payload
statistics, clusters.csv, clusters.json and t-SNE scatter plots (PNG and SVG),
including the known-class view: probes of no known org attributed to one, shown
next to that org's labelled probes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			p, err := identifyPeriod(cmd, from, to, models)
			if err != nil {
				return err
			}
			defer p.st.Close()
			in, err := pipeline.AnalysisInput("Still-unknown scanners", p.models.Services, p.data, p.atts, p.models.Classes)
			if err != nil {
				return err
			}
			return writeAnalysis(cmd, out, in, k)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "period start (RFC 3339 or YYYY-MM-DD)")
	cmd.Flags().StringVar(&to, "to", "", "period end (exclusive)")
	cmd.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models)")
	cmd.Flags().StringVar(&out, "out", "", "report folder")
	cmd.Flags().IntVar(&k, "k", 0, "number of clusters (default: the silhouette rule over 3..10)")
	rootCmd.AddCommand(cmd)
}

func writeAnalysis(cmd *cobra.Command, out string, in analysis.ReportInput, k int) error {
	cfg := analysis.Config{Seed: uint64(global.Seed)}
	cfg.Cluster.K = k
	rep, err := analysis.WriteReport(out, in, cfg)
	if err != nil {
		return err
	}
	for _, s := range rep.Services {
		fmt.Fprintf(cmd.OutOrStdout(), "%-5s %6d still-unknown probes from %5d IPs in %d clusters\n", s.Service, s.Probes, s.IPs, s.K)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "analysis report: %s\n", filepath.Join(out, "report.md"))
	return nil
}
