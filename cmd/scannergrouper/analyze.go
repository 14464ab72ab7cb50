package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/analysis"
	"github.com/scannergrouper/scannergrouper/internal/app"
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
next to that org's labelled probes. When the store holds abuse checks (scannergrouper
abuse check or import), it adds abuse.json and abuse_by_org.png/.svg: the abuse
statistics per organisation of the period's stored verdicts (abuse stats).`,
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
			sum, err := writeAnalysis(out, in, k)
			if err != nil {
				return err
			}
			if sum.Abuse, err = app.WriteAbuseSection(cmd.Context(), p.st, p.from, p.to, out, consoleFor(cmd).Logger()); err != nil {
				return err
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), sum)
			}
			printAnalysis(cmd.OutOrStdout(), sum)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "period start (RFC 3339 or YYYY-MM-DD)")
	cmd.Flags().StringVar(&to, "to", "", "period end (exclusive)")
	cmd.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models; ./<database>.models for PostgreSQL)")
	cmd.Flags().StringVar(&out, "out", "", "report folder")
	cmd.Flags().IntVar(&k, "k", 0, "number of clusters (default: the silhouette rule over 3..10)")
	rootCmd.AddCommand(cmd)
}

// analysisSummary is what analyze prints under --json (the full per-cluster
// statistics are in the report folder's clusters.json).
type analysisSummary struct {
	Report   string                   `json:"report"`
	Services []analysisServiceSummary `json:"services"`
	Abuse    *app.AbuseSummary        `json:"abuse,omitempty"` // with stored abuse checks
}

type analysisServiceSummary struct {
	Service  string `json:"service"`
	Probes   int    `json:"probes"`
	IPs      int    `json:"ips"`
	Clusters int    `json:"clusters"`
}

// writeAnalysis clusters in, writes the report folder out and returns what
// it wrote.
func writeAnalysis(out string, in analysis.ReportInput, k int) (analysisSummary, error) {
	cfg := analysis.Config{Seed: uint64(global.Seed)}
	cfg.Cluster.K = k
	rep, err := analysis.WriteReport(out, in, cfg)
	if err != nil {
		return analysisSummary{}, err
	}
	sum := analysisSummary{Report: filepath.Join(out, "report.md"), Services: []analysisServiceSummary{}}
	for _, s := range rep.Services {
		sum.Services = append(sum.Services, analysisServiceSummary{s.Service, s.Probes, s.IPs, s.K})
	}
	return sum, nil
}

func printAnalysis(w io.Writer, sum analysisSummary) {
	for _, s := range sum.Services {
		fmt.Fprintf(w, "%-5s %6d still-unknown probes from %5d IPs in %d clusters\n", s.Service, s.Probes, s.IPs, s.Clusters)
	}
	fmt.Fprintf(w, "analysis report: %s\n", sum.Report)
	if sum.Abuse != nil {
		fmt.Fprintf(w, "abuse statistics of %d organisations: %s\n", len(sum.Abuse.Orgs), strings.Join(sum.Abuse.Figures, " "))
	}
}
