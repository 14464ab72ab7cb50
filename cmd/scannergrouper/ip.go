package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// maxLookupIPs bounds one lookup, as the API's batch endpoint does.
const maxLookupIPs = 100_000

func init() {
	var from, to, models string
	ip := &cobra.Command{
		Use:   "ip [IP...] [--from T --to T]",
		Short: "The verdict on IPs with its reasons: lists, payloads and their senders, neighbourhood",
		Long: `ip attributes each IP from the stored probes it sent in [--from, --to) (default:
all stored probes) with the saved models, and says why: whether a list names it,
each distinct payload it sent (the service's summary: request line and User-Agent,
JA3/JA4, qname...) with how many training scanners of each organisation sent the
same encoding, the classifier's vote, the labelled IPs around it, and how much each
kind of evidence weighed for the organisation named and for "unknown".

IPs come from the arguments, or one per line from standard input when there are
none or the only one is "-". Classification: listed, attributed, unknown,
fully-disclosed (listed by an organisation that publishes all of its scanners), or
not-seen (no stored probe in the period). --json writes one object per IP.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ips, err := lookupIPs(args, cmd.InOrStdin())
			if err != nil {
				return err
			}
			f, t, err := timeRange(from, to)
			if err != nil {
				return err
			}
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			lk, err := app.NewLookup(cmd.Context(), st, modelsDir(models))
			if err != nil {
				return err
			}
			out, err := lk.Explain(cmd.Context(), ips, f, t)
			if err != nil {
				return err
			}
			if global.JSON {
				for _, e := range out {
					if err := writeJSON(cmd.OutOrStdout(), e); err != nil {
						return err
					}
				}
				return nil
			}
			return writeExplanations(cmd.OutOrStdout(), out)
		},
	}
	ip.Flags().StringVar(&from, "from", "", "period start (RFC 3339 or YYYY-MM-DD; default: the first stored probe)")
	ip.Flags().StringVar(&to, "to", "", "period end, exclusive (default: after the last stored probe)")
	ip.Flags().StringVar(&models, "models", "", "models folder (default: <db>.models)")
	rootCmd.AddCommand(ip)
}

// lookupIPs parses the IPs to look up from args, or from r (one per line;
// blank lines and # comments skipped) when args is empty or "-". Duplicates
// are dropped; a malformed IP is a usage error naming it and where.
func lookupIPs(args []string, r io.Reader) ([]netip.Addr, error) {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(s, where string) error {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return usagef("%s: %q is not an IP address", where, s)
		}
		a = a.Unmap()
		if !seen[a] {
			if len(out) == maxLookupIPs {
				return usagef("more than %d IPs in one lookup", maxLookupIPs)
			}
			seen[a] = true
			out = append(out, a)
		}
		return nil
	}
	if len(args) > 0 && !(len(args) == 1 && args[0] == "-") {
		for i, s := range args {
			if err := add(s, fmt.Sprintf("argument %d", i+1)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := add(s, fmt.Sprintf("standard input line %d", line)); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading IPs from standard input: %w", err)
	}
	if len(out) == 0 {
		return nil, usagef("no IP given (arguments or one per line on standard input)")
	}
	return out, nil
}

func writeExplanations(w io.Writer, exps []pipeline.Explanation) error {
	bw := bufio.NewWriter(w)
	for i, e := range exps {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "%s  %s  %s", e.IP, e.Org, e.Classification)
		if e.Classification != app.ClassNotSeen {
			fmt.Fprintf(bw, "  confidence %.2f", e.Confidence)
		}
		fmt.Fprintln(bw)
		if e.Probes > 0 {
			fmt.Fprintf(bw, "  seen %s .. %s, %d probes, services %s, ports %s, new IP %v\n",
				e.FirstSeen.Format("2006-01-02 15:04"), e.LastSeen.Format("2006-01-02 15:04"), e.Probes,
				strings.Join(e.Services, "+"), joinInts(e.Ports), e.NewIP)
		}
		if e.Label != "" {
			fmt.Fprintf(bw, "  label: %s\n", e.Label)
		}
		for _, r := range e.Reasons {
			fmt.Fprintf(bw, "  - %s\n", r)
		}
		for _, c := range e.Candidates[:min(3, len(e.Candidates))] {
			fmt.Fprintf(bw, "  p(%s) = %.2f\n", c.Org, c.Probability)
		}
		if len(e.Candidates) > 0 || e.Classification == pipeline.ClassUnknown {
			fmt.Fprintf(bw, "  p(unknown) = %.2f\n", e.Unknown.Probability)
		}
	}
	return bw.Flush()
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return cmp.Or(strings.Join(parts, ","), "-")
}
