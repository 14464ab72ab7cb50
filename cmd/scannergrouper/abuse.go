package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/abuse"
	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// abuseKeyEnv names the environment variable that holds the API key.
const abuseKeyEnv = "ABUSEIPDB_KEY"

func init() {
	cmd := &cobra.Command{
		Use:   "abuse",
		Short: "Abuse reputation of the scanner IPs (AbuseIPDB): check, import offline results, statistics per organisation",
		Long: `abuse enriches the scanner IPs of the stored verdicts with their AbuseIPDB
reputation (abuseConfidenceScore, report categories) and reports, per
organisation, how many of its listed and of its attributed IPs are abusive.
Checks are kept in the store with their date; docs/formats.md §6.`,
	}
	cmd.AddCommand(abuseCheckCmd(), abuseImportCmd(), abuseStatsCmd())
	rootCmd.AddCommand(cmd)
}

// abuseKey reads the API key from --key-file or the environment; never
// from a flag value, which other users see in ps.
func abuseKey(keyFile string) (string, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return "", err
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("%s holds no key", keyFile)
	}
	if k := strings.TrimSpace(os.Getenv(abuseKeyEnv)); k != "" {
		return k, nil
	}
	return "", usagef("no AbuseIPDB key: set %s or pass --key-file FILE", abuseKeyEnv)
}

// parseAge reads a duration in days ("30d") or Go's form ("36h").
func parseAge(flag, s string) (time.Duration, error) {
	d, err := parseWindow(s)
	if err != nil || d == 0 {
		return 0, usagef("--%s %q: want a positive number of days (30d) or a duration (36h)", flag, s)
	}
	return d, nil
}

// abusePeriod opens the store and gathers the listed and attributed IPs
// of the verdicts of [from, to) per org (app.AbuseMembers); the caller
// closes the store.
func abusePeriod(cmd *cobra.Command, from, to string, orgs []string) (store.Store, abuse.Membership, []netip.Addr, error) {
	f, t, err := timeRange(from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	want, err := canonicalOrgs(orgs)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := store.Open(cmd.Context(), global.DB)
	if err != nil {
		return nil, nil, nil, err
	}
	members, ips, err := app.AbuseMembers(cmd.Context(), st, f, t, want, consoleFor(cmd).Logger())
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, members, ips, nil
}

func canonicalOrgs(orgs []string) ([]string, error) {
	var out []string
	for _, o := range orgs {
		c := label.Canonical(o)
		if c == "" {
			return nil, usagef("--org %q names no organisation", o)
		}
		out = append(out, c)
	}
	return out, nil
}

func abuseCheckCmd() *cobra.Command {
	var from, to, keyFile, maxAge, apiURL string
	var orgs []string
	var daily, reportAge int
	var maxWait time.Duration
	cmd := &cobra.Command{
		Use:   "check [--from T --to T] [--org NAME...] [--key-file FILE] [--max-age 30d] [--daily-limit 1000]",
		Short: "Check the scanner IPs of a period's verdicts against the AbuseIPDB API (only those without a fresh check)",
		Long: `check asks the AbuseIPDB API v2 check endpoint about every scanner IP of the
verdicts whose window overlaps [--from, --to) (of the --org organisations, listed
or attributed), except those checked within --max-age and those that are not
public addresses. The key comes from $ABUSEIPDB_KEY or --key-file. Checks are
limited to --daily-limit a day (checks made today count), answers 429 and 5xx
are retried honouring Retry-After, and every check is stored as it arrives: a
wrong key or a spent quota stops the run with what was checked kept, and a rerun
continues with the rest. An IP the API rejects is reported and skipped.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			age, err := parseAge("max-age", maxAge)
			if err != nil {
				return err
			}
			if daily < 1 {
				return usagef("--daily-limit %d: want at least 1", daily)
			}
			key, err := abuseKey(keyFile)
			if err != nil {
				return err
			}
			st, _, ips, err := abusePeriod(cmd, from, to, orgs)
			if err != nil {
				return err
			}
			defer st.Close()
			con := consoleFor(cmd)
			now := time.Now().UTC()
			used, err := st.AbuseAPIChecksSince(cmd.Context(), now.Truncate(24*time.Hour))
			if err != nil {
				return err
			}
			client, err := abuse.NewClient(key, abuse.Options{BaseURL: apiURL, DailyLimit: daily, UsedToday: used, MaxWait: maxWait, MaxAgeDays: reportAge})
			if err != nil {
				return usagef("%s", userMessage(err))
			}
			rep, runErr := abuse.Run(cmd.Context(), client, st, ips, age, func(done, total int) {
				con.Progress("abuse check", int64(done), int64(total), "IPs")
			})
			w := cmd.OutOrStdout()
			if global.JSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%d IPs: %d checked now, %d fresh (within %s), %d not public, %d rejected, %d failed, %d left for a rerun\n",
					rep.Wanted, rep.Checked, rep.Fresh, maxAge, rep.Private, len(rep.Rejected), len(rep.Failed), rep.Left)
			}
			for _, r := range rep.Rejected {
				fmt.Fprintf(cmd.ErrOrStderr(), "rejected: %s\n", r)
			}
			for _, r := range rep.Failed {
				fmt.Fprintf(cmd.ErrOrStderr(), "failed: %s\n", r)
			}
			if runErr != nil {
				switch {
				case errors.Is(runErr, abuse.ErrQuota):
					return fmt.Errorf("%w; %d checks stored, rerun later to check the %d left", runErr, rep.Checked, rep.Left)
				case errors.Is(runErr, abuse.ErrUnauthorized):
					return fmt.Errorf("%w; check the key in $%s or --key-file", runErr, abuseKeyEnv)
				}
				return runErr
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first verdict window to take (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&to, "to", "", "end of the period (exclusive)")
	fl.StringSliceVar(&orgs, "org", nil, "only these organisations (repeatable)")
	fl.StringVar(&keyFile, "key-file", "", "file holding the AbuseIPDB API key (default: $"+abuseKeyEnv+")")
	fl.StringVar(&maxAge, "max-age", "30d", "check again what was checked longer ago than this")
	fl.IntVar(&daily, "daily-limit", abuse.DefaultDailyLimit, "checks a day the plan allows")
	fl.IntVar(&reportAge, "report-age", 90, "only reports of the last N days count (the API's maxAgeInDays, 1..365)")
	fl.DurationVar(&maxWait, "max-wait", time.Minute, "longest wait for the limiter or a Retry-After before stopping")
	fl.StringVar(&apiURL, "api-url", abuse.DefaultBaseURL, "API root")
	fl.MarkHidden("api-url")
	return cmd
}

func abuseImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import offline AbuseIPDB results: the API's check answers (one JSON object a line) or a CSV",
		Long: `import reads check results saved elsewhere (for machines without Internet
access): the check endpoint's JSON answers, one a line ({"data": {...}} or the
bare data object), or a CSV whose header names the answer's fields
(ipAddress,abuseConfidenceScore at least). A check is dated by its checkedAt
field, else by the file's modification time. Lines that hold no check are
reported by number and the rest is stored; a newer stored check is never
replaced by an older one, so importing again is harmless.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			var reports []abuse.ImportReport
			var failed error
			for _, path := range args {
				rep, err := importAbuseFile(cmd, st, path)
				reports = append(reports, rep)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), userMessage(err))
					failed = errors.Join(failed, err)
				}
			}
			w := cmd.OutOrStdout()
			for _, r := range reports {
				if global.JSON {
					writeJSON(w, r)
				} else if r.Format != "" {
					fmt.Fprintf(w, "%s: %s, %d lines, %d checks stored, %d skipped\n", r.File, r.Format, r.Lines, r.Checks, len(r.Skipped))
				}
				for _, s := range r.Skipped {
					fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s\n", s)
				}
			}
			if failed != nil {
				return fmt.Errorf("%d of %d files not imported", countErrs(failed), len(args))
			}
			return nil
		},
	}
	return cmd
}

func countErrs(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

func importAbuseFile(cmd *cobra.Command, st store.Store, path string) (abuse.ImportReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return abuse.ImportReport{File: path}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return abuse.ImportReport{File: path}, err
	}
	checks, rep, err := abuse.Read(f, path, info.ModTime())
	if err != nil {
		return rep, err
	}
	for i := range checks {
		checks[i].Source = "import"
	}
	return rep, st.PutAbuseChecks(cmd.Context(), checks)
}

// abuseStatsSummary is what stats prints under --json.
type abuseStatsSummary struct {
	Abusive int              `json:"abusive_threshold"`
	Orgs    []abuse.OrgStats `json:"orgs"`
	Figures []string         `json:"figures,omitempty"`
}

func abuseStatsCmd() *cobra.Command {
	var from, to, out string
	var orgs []string
	var abusive int
	cmd := &cobra.Command{
		Use:   "stats [--from T --to T] [--org NAME...] [--out DIR] [--abusive 25]",
		Short: "Abuse statistics per organisation, listed and attributed IPs apart, as a table and a figure",
		Long: `stats reports, per organisation, for its listed IPs (a stored list gives them
to it) and its attributed IPs (identify gave them to it, no list does) of the
verdicts whose window overlaps [--from, --to): IPs, checked IPs, abusive IPs
(score ≥ --abusive) and their share of the checked, mean score and the top report
categories. --out DIR also draws abuse_by_org.png and .svg there (stacked bars per
organisation).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if abusive < 0 || abusive > 100 {
				return usagef("--abusive %d: want a score in 0..100", abusive)
			}
			st, members, _, err := abusePeriod(cmd, from, to, orgs)
			if err != nil {
				return err
			}
			defer st.Close()
			checks, err := st.AbuseChecks(cmd.Context())
			if err != nil {
				return err
			}
			sum := abuseStatsSummary{Abusive: abusive, Orgs: abuse.Stats(members, checks, abusive)}
			if sum.Orgs == nil {
				sum.Orgs = []abuse.OrgStats{}
			}
			if out != "" && len(sum.Orgs) > 0 {
				if _, err := atomicfile.MkdirAll(out); err != nil {
					return err
				}
				if sum.Figures, err = abuse.WriteFigure(out, sum.Orgs, abusive); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if global.JSON {
				return writeJSON(w, sum)
			}
			printAbuseStats(w, sum)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first verdict window to take (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&to, "to", "", "end of the period (exclusive)")
	fl.StringSliceVar(&orgs, "org", nil, "only these organisations (repeatable)")
	fl.StringVar(&out, "out", "", "folder for the figure (abuse_by_org.png, .svg)")
	fl.IntVar(&abusive, "abusive", abuse.DefaultAbusive, "score from which an IP counts as abusive")
	return cmd
}

func printAbuseStats(w interface{ Write([]byte) (int, error) }, sum abuseStatsSummary) {
	if len(sum.Orgs) == 0 {
		fmt.Fprintln(w, "no verdicts in the period (run scannergrouper identify first)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ORG\tKIND\tIPS\tCHECKED\tABUSIVE (≥%d)\tSHARE\tMEAN SCORE\tTOP CATEGORIES\n", sum.Abusive)
	for _, o := range sum.Orgs {
		for _, k := range []struct {
			name string
			g    abuse.Group
		}{{abuse.Listed, o.Listed}, {abuse.Attributed, o.Attributed}} {
			if k.g.IPs == 0 {
				continue
			}
			var cats []string
			for _, c := range k.g.TopCategories {
				cats = append(cats, fmt.Sprintf("%s (%d)", c.Name, c.IPs))
			}
			share, mean := "-", "-"
			if k.g.Checked > 0 {
				share, mean = fmt.Sprintf("%.0f%%", 100*k.g.Share), fmt.Sprintf("%.1f", k.g.MeanScore)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", o.Org, k.name, k.g.IPs, k.g.Checked, k.g.Abusive, share, mean, strings.Join(cats, ", "))
		}
	}
	tw.Flush()
	for _, f := range sum.Figures {
		fmt.Fprintf(w, "figure %s\n", f)
	}
}
