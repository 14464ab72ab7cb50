package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// labelsRegistry is the --registry flag shared by the labels subcommands.
var labelsRegistry string

func init() {
	cmd := &cobra.Command{
		Use:   "labels",
		Short: "Ground truth: scanner IP lists, reverse DNS and cookie tags (IP → organisation)",
		Long: `labels keeps the ground truth: which organisation operated a scanner IP, according
to which source, and when. Import published lists (plain IP/CIDR lists, ip,org CSV,
the artifact's IP,Label, and every format of realdata/scanner_ip_lists), PTR dumps
and search-engine exports carrying our cookie tags; look addresses up at a date;
list, export and compare the sources.`,
	}
	cmd.PersistentFlags().StringVar(&labelsRegistry, "registry", "", "organisation registry JSON overriding the built-in one")
	cmd.AddCommand(labelsImportCmd(), labelsLookupCmd(), labelsListCmd(), labelsExportCmd(), labelsStatsCmd(),
		labelsImportTagsCmd(), labelsTagCmd(), labelsOrgsCmd())
	rootCmd.AddCommand(cmd)
}

// loadRegistry is apart from openLabels because orgs needs the registry
// alone and must not open (or create) the store.
func loadRegistry() (*label.Registry, error) {
	if labelsRegistry == "" {
		return label.DefaultRegistry(), nil
	}
	return label.LoadRegistry(labelsRegistry)
}

// openLabels opens the store and the label tables.
func openLabels(ctx context.Context) (*label.LabelDB, func(), error) {
	reg, err := loadRegistry()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, global.DB)
	if err != nil {
		return nil, nil, err
	}
	db, err := label.Open(ctx, st, reg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return db, func() { st.Close() }, nil
}

func parseDateFlag(name, value string, endOfDay bool) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := label.ParseDate(value, endOfDay)
	if err != nil {
		return time.Time{}, usagef("--%s: %v", name, err)
	}
	return t, nil
}

func parsePolicyFlag(value string) (label.Policy, error) {
	p, err := label.ParsePolicy(value)
	if err != nil {
		return p, usagef("--policy: %v", err)
	}
	return p, nil
}

// resolveFlags are --at and --policy, the question put to the resolver.
// lookup and export share them so that the same question answers the same
// org in both.
type resolveFlags struct{ at, policy string }

func (r *resolveFlags) register(fl *pflag.FlagSet, atUsage string) {
	fl.StringVar(&r.at, "at", "", atUsage)
	fl.StringVar(&r.policy, "policy", "any", "consensus policy: any, min:N, priority:SRC,SRC")
}

func (r *resolveFlags) parse() (time.Time, label.Policy, error) {
	t, err := parseDateFlag("at", r.at, false)
	if err != nil {
		return t, label.Policy{}, err
	}
	pol, err := parsePolicyFlag(r.policy)
	return t, pol, err
}

// checkLabelOrg accepts an org the registry knows or one a stored label
// names (a list may carry orgs the registry lacks); anything else is a usage
// error, so that a misspelt org does not print an empty listing and succeed.
func checkLabelOrg(ctx context.Context, db *label.LabelDB, flag, org string) error {
	if org == "" {
		return nil
	}
	if _, ok := db.Registry().Org(org); ok {
		return nil
	}
	ls, err := db.Labels(ctx, label.Query{Org: org})
	if err != nil || len(ls) > 0 {
		return err
	}
	hint := ""
	if like := similarNames(db.Registry().Canonical(org), db.Registry().Names()); len(like) > 0 {
		hint = "; similar names: " + strings.Join(like, ", ")
	}
	return usagef("--%s %q: no such organisation (not in the registry, and no stored label names it)%s; scannergrouper labels orgs lists every known name", flag, org, hint)
}

// similarNames are the names that contain name or that name contains (at
// most 5): the registry has too many orgs to list them all in an error.
func similarNames(name string, names []string) []string {
	var out []string
	for _, n := range names {
		if name != "" && len(out) < 5 && (strings.Contains(n, name) || strings.Contains(name, n)) {
			out = append(out, n)
		}
	}
	return out
}

// writeListing prints rows as JSON lines under --json and as a table under
// header otherwise, so that every labels listing honours --json alike.
func writeListing[T any](out io.Writer, rows []T, header string, asJSON func(T) any, writeRow func(io.Writer, T)) error {
	if global.JSON {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(asJSON(r)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		writeRow(tw, r)
	}
	return tw.Flush()
}

func labelsImportCmd() *cobra.Command {
	var (
		opts                    label.ImportOptions
		format, from, to, until string
		replace, strict, quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Import IP lists, label CSVs and PTR dumps (one transaction for all files)",
		Long: `import reads plain lists (one IP or CIDR per line, # comments), ip,org CSV (also the
artifact's IP,Label; "unknown" rows are counted as unattributed and not stored), PTR
dumps (ip,ptr), and the formats of realdata/scanner_ip_lists (OpenFilters, Xorlent,
Connie-Wild: org from the file name; NICT survey-scanner: period → validity; MISP;
maltrail; acknowledged_scanners; the unified CSV). The format is detected from the
header; --format forces one of: ` + formatNames() + `.
A directory is walked for .txt/.csv files. Malformed lines are reported as file:line
and skipped (--strict fails instead). Everything lands in one transaction;
re-importing the same file adds nothing.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = label.Format(format)
			opts.Replace, opts.Strict = replace, strict
			var err error
			if opts.From, err = parseDateFlag("from", from, false); err != nil {
				return err
			}
			if to != "" && until != "" {
				return usagef("give --to or its old form --until, not both")
			}
			if opts.Until, err = parseDateFlag("to", to, false); err != nil {
				return err
			}
			// --until, the old name, included its day: a bare date ends at
			// the next midnight. Kept so that existing scripts mean the same.
			if until != "" {
				if opts.Until, err = parseDateFlag("until", until, true); err != nil {
					return err
				}
			}
			if format != "" && !validFormat(opts.Format) {
				return usagef("--format %q: want one of %s", format, formatNames())
			}
			db, done, err := openLabels(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			reports, err := db.ImportFiles(cmd.Context(), args, opts)
			printImportReports(cmd, reports, quiet)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "input format (default: detect)")
	fl.StringVar(&opts.Source, "source", "", "source name (default: the publisher folder or the file name)")
	fl.StringVar(&opts.Org, "org", "", "organisation of every address of a plain list")
	fl.StringVar(&from, "from", "", "labels valid from this date (YYYY-MM-DD or RFC 3339)")
	fl.StringVar(&to, "to", "", "labels valid before this time (exclusive: a bare date is its midnight)")
	fl.StringVar(&until, "until", "", "old form of --to that includes its day")
	fl.MarkDeprecated("until", "use --to (exclusive: --until 2024-12-31 is --to 2025-01-01)")
	fl.BoolVar(&replace, "replace", false, "drop the stored labels of the imported sources first (a list that shrank)")
	fl.BoolVar(&strict, "strict", false, "fail on the first malformed line instead of skipping it")
	fl.BoolVarP(&quiet, "quiet", "q", false, "do not list skipped lines")
	return cmd
}

func formatNames() string {
	var names []string
	for _, f := range label.Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func validFormat(f label.Format) bool {
	for _, g := range label.Formats {
		if f == g {
			return true
		}
	}
	return false
}

func printImportReports(cmd *cobra.Command, reports []label.ImportReport, quiet bool) {
	out := cmd.OutOrStdout()
	if global.JSON {
		enc := json.NewEncoder(out)
		for _, r := range reports {
			enc.Encode(r)
		}
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "file\tformat\tsources\tlines\tlabels\tnew\tunattributed\tskipped\tnote")
	var tot label.ImportReport
	for _, r := range reports {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.File, r.Format, strings.Join(r.Sources, ","), r.Lines, r.Labels, r.Added, r.Unattributed, len(r.Skipped), r.Note)
		tot.Lines += r.Lines
		tot.Labels += r.Labels
		tot.Added += r.Added
		tot.Unattributed += r.Unattributed
		tot.Skipped = append(tot.Skipped, r.Skipped...)
	}
	if len(reports) > 1 {
		fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t%d\t%d\t\n", tot.Lines, tot.Labels, tot.Added, tot.Unattributed, len(tot.Skipped))
	}
	tw.Flush()
	for _, r := range reports {
		if r.Labels == 0 && r.PTRs == 0 && r.Lines > 0 && r.Format != label.FormatNICTOrgs {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %d data lines, no label stored (%d unattributed, %d skipped)\n",
				r.File, r.Lines, r.Unattributed, len(r.Skipped))
		}
	}
	if !quiet {
		for _, e := range tot.Skipped {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s\n", userMessage(e))
		}
	}
}

func labelsLookupCmd() *cobra.Command {
	var (
		q          resolveFlags
		resolvePTR bool
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "lookup IP...",
		Short: "Show the organisation of addresses at a date, with every covering label",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, pol, err := q.parse()
			if err != nil {
				return err
			}
			var addrs []netip.Addr
			for _, a := range args {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					return usagef("%q is not an IP address", a)
				}
				addrs = append(addrs, addr.Unmap())
			}
			ctx := cmd.Context()
			db, done, err := openLabels(ctx)
			if err != nil {
				return err
			}
			defer done()
			var rdns *label.RDNS
			if resolvePTR {
				rdns = label.NewRDNS(net.DefaultResolver, label.RDNSOptions{Timeout: timeout})
			}
			out := cmd.OutOrStdout()
			for _, addr := range addrs {
				if rdns != nil {
					_, name, err := rdns.OrgOf(ctx, db.Registry(), addr)
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), userMessage(err))
					} else if name != "" {
						if _, err := db.StorePTR(ctx, addr, name, time.Now()); err != nil {
							return err
						}
					}
				}
				if err := printLookup(ctx, out, db, pol, addr, t); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	q.register(fl, "date of the question (default: latest knowledge)")
	fl.BoolVar(&resolvePTR, "resolve-ptr", false, "also resolve the PTR name live (network; cached, rate-limited) and keep it")
	fl.DurationVar(&timeout, "dns-timeout", 3*time.Second, "timeout of one live reverse-DNS query")
	return cmd
}

type lookupJSON struct {
	IP     string      `json:"ip"`
	Org    string      `json:"org"`
	At     string      `json:"at,omitempty"`
	PTR    string      `json:"ptr,omitempty"`
	Labels []labelJSON `json:"labels"`
}

type labelJSON struct {
	Prefix     string `json:"prefix"`
	Org        string `json:"org"`
	Source     string `json:"source"`
	ValidFrom  string `json:"valid_from,omitempty"`
	ValidUntil string `json:"valid_until,omitempty"`
	Note       string `json:"note,omitempty"`
}

func toLabelJSON(l label.Label) labelJSON {
	j := labelJSON{Prefix: l.Prefix.String(), Org: l.Org, Source: l.Source, Note: l.Note}
	if !l.ValidFrom.IsZero() {
		j.ValidFrom = l.ValidFrom.Format(time.RFC3339)
	}
	if !l.ValidUntil.IsZero() {
		j.ValidUntil = l.ValidUntil.Format(time.RFC3339)
	}
	return j
}

func printLookup(ctx context.Context, out io.Writer, db *label.LabelDB, pol label.Policy, addr netip.Addr, t time.Time) error {
	covering, err := db.Covering(ctx, addr)
	if err != nil {
		return err
	}
	// The decision for one address depends only on the labels covering
	// it, so a resolver over those answers exactly as the full one would.
	res, err := label.NewResolver(covering, pol)
	if err != nil {
		return err
	}
	org, ok := res.Lookup(addr, t)
	if !ok {
		org = label.Unknown
	}
	ptr, _, err := db.PTR(ctx, addr)
	if err != nil {
		return err
	}
	if global.JSON {
		j := lookupJSON{IP: addr.String(), Org: org, PTR: ptr, Labels: []labelJSON{}}
		if !t.IsZero() {
			j.At = t.Format(time.RFC3339)
		}
		for _, l := range covering {
			j.Labels = append(j.Labels, toLabelJSON(l))
		}
		return json.NewEncoder(out).Encode(j)
	}
	when := "latest"
	if !t.IsZero() {
		when = t.Format(time.DateOnly)
	}
	fmt.Fprintf(out, "%s\t%s\t(at %s)\n", addr, org, when)
	if ptr != "" {
		fmt.Fprintf(out, "  ptr %s\n", ptr)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range covering {
		mark := " "
		if l.Covers(t) || t.IsZero() {
			mark = "*"
		}
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\t%s\n", mark, l.Prefix, l.Org, l.Source, l.Validity(), l.Note)
	}
	return tw.Flush()
}

func labelsListCmd() *cobra.Command {
	var org, source, at string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stored labels (prefix, org, source, validity)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseDateFlag("at", at, false)
			if err != nil {
				return err
			}
			db, done, err := openLabels(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := checkLabelOrg(cmd.Context(), db, "org", org); err != nil {
				return err
			}
			ls, err := db.Labels(cmd.Context(), label.Query{Org: org, Source: source, At: t})
			if err != nil {
				return err
			}
			return writeListing(cmd.OutOrStdout(), ls, "prefix\torg\tsource\tvalidity\tnote",
				func(l label.Label) any { return toLabelJSON(l) },
				func(w io.Writer, l label.Label) {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.Prefix, l.Org, l.Source, l.Validity(), l.Note)
				})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&org, "org", "", "only this organisation (any spelling)")
	fl.StringVar(&source, "source", "", "only this source")
	fl.StringVar(&at, "at", "", "only labels valid at this date")
	return cmd
}

func labelsExportCmd() *cobra.Command {
	var (
		q           resolveFlags
		output, org string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the resolved labels as ip,org CSV (one row per stored prefix)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, pol, err := q.parse()
			if err != nil {
				return err
			}
			db, done, err := openLabels(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := checkLabelOrg(cmd.Context(), db, "org", org); err != nil {
				return err
			}
			res, err := db.Resolver(cmd.Context(), pol)
			if err != nil {
				return err
			}
			want := ""
			if org != "" {
				want = db.Registry().Canonical(org)
			}
			// --json gives JSON lines {"ip","org"} instead of the CSV, on
			// stdout or in the --output file alike.
			write := func(out io.Writer) error {
				w := csv.NewWriter(out)
				enc := json.NewEncoder(out)
				if !global.JSON {
					w.Write([]string{"ip", "org"})
				}
				for p, o := range res.All(t) {
					if want != "" && o != want {
						continue
					}
					ip := p.String()
					if p.IsSingleIP() {
						ip = p.Addr().String()
					}
					if global.JSON {
						if err := enc.Encode(struct {
							IP  string `json:"ip"`
							Org string `json:"org"`
						}{ip, o}); err != nil {
							return err
						}
						continue
					}
					w.Write([]string{ip, o})
				}
				if global.JSON {
					return nil
				}
				w.Flush()
				return w.Error()
			}
			if output != "" && output != "-" {
				// A failed export must not leave a truncated list where a
				// consumer (a firewall feed) would take it for the whole.
				return atomicfile.Write(output, write)
			}
			return write(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	q.register(fl, "labels valid at this date (default: latest knowledge)")
	fl.StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	fl.StringVar(&org, "org", "", "only this organisation")
	return cmd
}

func labelsStatsCmd() *cobra.Command {
	var (
		opts          label.StatsOptions
		at, orgs      string
		showConflicts bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Per org and source counts, reference-vs-union agreement, pairwise coverage, conflicts",
		Long: `stats counts each organisation's prefixes and IPv4 addresses per source and measures
how the sources agree: for each org, the share of the reference source's addresses
(default: sources named nict*, the darknet-observed NICT list) that the other sources
cover with the same org or another one, and the pairwise coverage between sources,
as in realdata/scanner_ip_lists/cross_source_agreement.txt. --conflicts lists the
prefixes that sources give to different organisations at overlapping times.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.At, err = parseDateFlag("at", at, false); err != nil {
				return err
			}
			if orgs != "" {
				opts.Orgs = strings.Split(orgs, ",")
			}
			opts.Conflicts = showConflicts
			db, done, err := openLabels(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if err := checkLabelOrg(cmd.Context(), db, "org", opts.Org); err != nil {
				return err
			}
			for _, o := range opts.Orgs {
				if err := checkLabelOrg(cmd.Context(), db, "orgs", o); err != nil {
					return err
				}
			}
			if len(opts.Orgs) > 0 {
				for i, o := range opts.Orgs {
					opts.Orgs[i] = db.Registry().Canonical(o)
				}
			}
			st, err := db.Stats(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if global.JSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
			}
			return st.WriteText(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Reference, "reference", "nict*", "reference source name or glob")
	fl.StringVar(&at, "at", "", "only labels valid at this date")
	fl.StringVar(&orgs, "orgs", "", "comma-separated orgs of the agreement tables (default: the 21 of cross_source_agreement.txt)")
	fl.StringVar(&opts.Org, "org", "", "per-source table for this org only")
	fl.BoolVar(&showConflicts, "conflicts", false, "list prefixes given to different orgs by different sources")
	return cmd
}

// registerKeyFile adds --key-file; import-tags must read the key that tag
// wrote with, so both take it alike.
func registerKeyFile(fl *pflag.FlagSet, keyFile *string) {
	fl.StringVar(keyFile, "key-file", "", "tag key file (hex, base64 or raw; default: $"+label.TagKeyEnv+")")
}

// tagKey loads the cookie-tag key from --key-file or the environment.
func tagKey(keyFile string) ([]byte, error) {
	key, err := label.LoadTagKey(keyFile, os.Getenv)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return key, nil
}

func labelsImportTagsCmd() *cobra.Command {
	var engine, keyFile string
	cmd := &cobra.Command{
		Use:   "import-tags FILE",
		Short: "Label scanner IPs from a search-engine export that shows our cookie tags",
		Long: `import-tags reads what a search engine (Censys, Shodan, ...) published about our
honeypots: JSON lines, a JSON array, or CSV. Every cookie tag found anywhere in the
records is authenticated and decrypted with the key; the scanner IP that received the
tag (recorded by 'labels tag --ip') is labelled with the engine's organisation
(source cookie-tag). Tampered or foreign tags are rejected and reported.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if engine == "" {
				return usagef("--org ENGINE is required")
			}
			key, err := tagKey(keyFile)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			db, done, err := openLabels(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			rep, err := db.ImportTags(cmd.Context(), f, args[0], engine, label.NewTagger(key, ""))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if global.JSON {
				return json.NewEncoder(out).Encode(rep)
			}
			fmt.Fprintf(out, "%s (%s): %d records, %d tags: %d valid, %d rejected, %d never recorded; %d scanner labels (%d new) for %s\n",
				rep.File, rep.Format, rep.Records, rep.Tags, rep.Valid, rep.Rejected, rep.Unrecorded, rep.Labels, rep.Added, db.Registry().Canonical(engine))
			for _, s := range rep.Scanners {
				fmt.Fprintf(out, "  %s\n", s)
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(cmd.ErrOrStderr(), userMessage(p))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&engine, "org", "", "organisation of the search engine whose export this is")
	registerKeyFile(cmd.Flags(), &keyFile)
	return cmd
}

func labelsTagCmd() *cobra.Command {
	var sensor, keyFile, ip, at string
	cmd := &cobra.Command{
		Use:   "tag",
		Short: "Print a fresh cookie tag for a honeypot reply (and record who got it with --ip)",
		Long: `tag prints a new cookie tag (AES-GCM over the time and the sensor id, URL-safe) for
a honeypot to put into Set-Cookie. With --ip, the tag is recorded as given to that
scanner so that import-tags can attribute it later. Nonces come from crypto/rand on
purpose: a seeded nonce would repeat across runs and break AES-GCM.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := tagKey(keyFile)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			if at != "" {
				if now, err = parseTimeFlag("at", at); err != nil {
					return err
				}
			}
			var scanner netip.Addr
			if ip != "" {
				if scanner, err = netip.ParseAddr(ip); err != nil {
					return usagef("--ip %q is not an IP address", ip)
				}
			}
			tag := label.NewTagger(key, sensor).Tag(now)
			if scanner.IsValid() {
				db, done, err := openLabels(cmd.Context())
				if err != nil {
					return err
				}
				defer done()
				if err := db.RecordTag(cmd.Context(), tag, scanner, sensor, now); err != nil {
					return err
				}
			}
			if global.JSON {
				rec := struct {
					Tag  string `json:"tag"`
					At   string `json:"at"`
					IP   string `json:"ip,omitempty"`
					Sens string `json:"sensor,omitempty"`
				}{Tag: tag, At: now.Format(time.RFC3339), Sens: sensor}
				if scanner.IsValid() {
					rec.IP = scanner.String()
				}
				return writeJSON(cmd.OutOrStdout(), rec)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tag)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&sensor, "sensor", "", "sensor id carried in the tag")
	registerKeyFile(fl, &keyFile)
	fl.StringVar(&ip, "ip", "", "record that this scanner IP received the tag")
	fl.StringVar(&at, "at", "", "issue time (default: now)")
	return cmd
}

func labelsOrgsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "orgs",
		Short: "Print the organisation registry (canonical name, role, homepage, aliases, rDNS patterns)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := loadRegistry()
			if err != nil {
				return err
			}
			var orgs []label.Org
			for _, n := range reg.Names() {
				o, _ := reg.Org(n)
				orgs = append(orgs, o)
			}
			return writeListing(cmd.OutOrStdout(), orgs, "org\trole\thomepage\trdns\taliases",
				func(o label.Org) any { return o },
				func(w io.Writer, o label.Org) {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.Role, o.Homepage, strings.Join(o.RDNS, ","), strings.Join(o.Aliases, ","))
				})
		},
	}
}
