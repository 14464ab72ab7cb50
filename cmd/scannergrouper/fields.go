package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var in featureInput
	cmd := &cobra.Command{
		Use:   "fields",
		Short: "Per-field coverage, distinct values, mutual information with the org, and the selected fields",
		Long: `fields ranks the payload fields of one service for the semantic encoding.

For every field: coverage (share of probes that carry it), distinct values,
unique ratio (distinct values per probe carrying it), MI = mutual information
between the whole field value and the org on attributed probes (the paper's
score), and AMI = MI adjusted for chance, which does not reward fields that are
unique per probe (TLS random bytes). Labels come from an ip,org (or IP,Label)
CSV, or any file "labels import" reads, with the org names training gives;
"unknown" or a missing IP is unattributed.

--mode paper keeps the top 6 fields by MI; --mode default keeps the top
6 by AMI, skipping fields at chance level and relabellings of a chosen field.
DNS keeps every field in both modes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, err := feature.ParseSelectMode(in.mode)
			if err != nil {
				return usageError{err}
			}
			ps, labels, err := in.load(cmd)
			if err != nil {
				return err
			}
			table, err := feature.FieldStatistics(in.service, ps, labels)
			if err != nil {
				return err
			}
			if _, err := table.Select(sel); err != nil && table.Labelled > 0 {
				return err
			}
			if global.JSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(table)
			}
			return printFieldTable(cmd, table, sel)
		},
	}
	fl := cmd.Flags()
	in.register(fl, "ip,org CSV (or the artifact's IP,Label) giving the org of each scanner IP")
	deprecatedAlias(fl, "until", "to", &in.to)
	rootCmd.AddCommand(cmd)
}

// featureInput holds the flags that fields and export share: --service,
// --from, --labels and --mode, and --to, the end of the time range.
type featureInput struct{ service, from, to, labelsFile, mode string }

func (in *featureInput) register(fl *pflag.FlagSet, labelsUsage string) {
	fl.StringVar(&in.service, "service", "", "service: "+serviceChoices()+" (required)")
	fl.StringVar(&in.from, "from", "", "first time (RFC 3339 or YYYY-MM-DD, inclusive)")
	fl.StringVar(&in.labelsFile, "labels", "", labelsUsage)
	fl.StringVar(&in.mode, "mode", "default", "field selection: paper or default")
	fl.StringVar(&in.to, "to", "", "end time (exclusive)")
}

// load reads the probes of one service in [from, to) from the store, and
// their org labels when a label file is given (nil otherwise).
func (in *featureInput) load(cmd *cobra.Command) ([]probe.Probe, []string, error) {
	ctx := cmd.Context()
	// Any registered service has fields to rank and encode (feature gives
	// fields it has no rule for the string encoding); "other" has none.
	if in.service == "" {
		return nil, nil, usagef("--service is required (one of %s)", strings.Join(serviceNames(), ", "))
	}
	if err := checkName("service", in.service, serviceNames()); err != nil {
		return nil, nil, err
	}
	q := store.ProbeQuery{Service: in.service}
	var err error
	if q.From, err = parseTimeFlag("from", in.from); err != nil {
		return nil, nil, err
	}
	if q.To, err = parseTimeFlag("to", in.to); err != nil {
		return nil, nil, err
	}
	var resolver *label.Resolver
	if in.labelsFile != "" {
		var rep label.ImportReport
		if resolver, rep, err = label.ResolveFile(in.labelsFile, nil); err != nil {
			return nil, nil, err
		}
		if len(rep.Skipped) > 0 {
			consoleFor(cmd).Logger().Warn("label lines skipped", "file", in.labelsFile, "skipped", len(rep.Skipped), "first", rep.Skipped[0].Error())
		}
	}
	st, err := store.Open(ctx, global.DB)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	var ps []probe.Probe
	for p, err := range st.Probes(ctx, q) {
		if err != nil {
			return nil, nil, err
		}
		p.Payload = nil // features read parsed fields only; keeps SD-24-sized runs small
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, nil, fmt.Errorf("no %s probes in %s for the chosen time range", in.service, store.Redacted(global.DB))
	}
	if resolver == nil {
		return ps, nil, nil
	}
	return ps, feature.LabelProbes(ps, func(a netip.Addr, t time.Time) string {
		org, _ := resolver.Lookup(a, t)
		return org
	}), nil
}

func printFieldTable(cmd *cobra.Command, t *feature.FieldTable, mode feature.SelectMode) error {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "service %s: %d probes, %d attributed to %d orgs; selection mode %s\n",
		t.Service, t.Probes, t.Labelled, t.Orgs, mode)
	if t.Labelled == 0 {
		fmt.Fprintln(out, "no attributed probes: MI and AMI need --labels")
	}
	rows := slices.Clone(t.Fields)
	// Selected first, then by the score the mode ranks by.
	score := func(s feature.FieldStats) float64 { return s.AMI }
	if mode == feature.SelectPaper {
		score = func(s feature.FieldStats) float64 { return s.MI }
	}
	slices.SortStableFunc(rows, func(a, b feature.FieldStats) int {
		if a.Selected != b.Selected {
			if a.Selected {
				return -1
			}
			return 1
		}
		switch sa, sb := score(a), score(b); {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEL\tFIELD\tKIND\tCOVERAGE\tDISTINCT\tUNIQUE\tMI\tAMI")
	for _, s := range rows {
		mark := ""
		if s.Selected {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%d\t%.3f\t%.3f\t%.3f\n",
			mark, s.Field, s.Kind, 100*s.Coverage, s.Distinct, s.UniqueRatio, s.MI, s.AMI)
	}
	return tw.Flush()
}

// serviceChoices names the registered services for usage texts: "http,
// tls or dns".
func serviceChoices() string {
	names := probe.ServiceNames()
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
