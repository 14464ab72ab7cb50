package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/lists"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// combinedList is the file stem of --combined: every benign research
// scanner in one list.
const combinedList = "research-scanners"

func init() {
	var org, out, format, table, sensor string
	var all, combined bool
	cmd := &cobra.Command{
		Use:   "lists (--org NAME | --all) --out DIR [--format txt|misp|cidr|nft|ipset] [--combined] [--sensor NAME]",
		Short: "Write per-organisation scanner IP lists (txt/csv/json, MISP warninglist, CIDR blocklist, nft or ipset set) from the stored attributions",
		Long: `lists writes the scanner IPs that identify attributed, per organisation, in --out.
--format txt (the default) writes <org>.txt (distinct IPs), <org>.csv and
<org>.json (every verdict). The other formats aggregate adjacent addresses into
the fewest CIDR prefixes (IPv4 and IPv6) and write one file per organisation:
  misp   <org>.misp.json  a MISP warninglist (type cidr), to suppress benign
                          research scanners in alerts
  cidr   <org>.cidr       a CIDR blocklist, one prefix a line
  nft    <org>.nft        nftables interval sets (nft -f), table inet --table
  ipset  <org>.ipset      hash:net sets (ipset restore)
--combined writes one list, research-scanners.<ext>, of every benign research
scanner organisation instead (not unknown, not aggregate lists). docs/formats.md
describes each format.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (org == "") == !all {
				return usagef("give exactly one of --org NAME or --all")
			}
			if out == "" {
				return usagef("--out is required")
			}
			if format != "txt" && !slices.Contains(lists.Formats, format) {
				return usagef("--format %q: want txt, %s", format, strings.Join(lists.Formats, ", "))
			}
			if combined && format == "txt" {
				return usagef("--combined needs --format %s", strings.Join(lists.Formats, ", "))
			}
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			want := label.Canonical(org)
			if org == label.Unknown {
				want = label.Unknown
			}
			var atts []pipeline.StoredAttribution
			if sensor != "" {
				atts, err = st.SensorAttributions(cmd.Context(), "", sensor)
			} else {
				atts, err = pipeline.Attributions(cmd.Context(), st, "")
			}
			if err != nil {
				return err
			}
			if org != "" {
				if err := checkListsOrg(org, want, atts); err != nil {
					return err
				}
				atts = slices.DeleteFunc(atts, func(a pipeline.StoredAttribution) bool { return a.Org != want })
			}
			byOrg := map[string][]pipeline.StoredAttribution{}
			for _, a := range atts {
				if a.Org != label.Unknown || org == label.Unknown {
					byOrg[a.Org] = append(byOrg[a.Org], a)
				}
			}
			if _, err := atomicfile.MkdirAll(out); err != nil {
				return err
			}
			written := listsSummary{Out: out, Format: format, Orgs: []orgListSummary{}}
			if combined {
				s, err := writeCombinedList(out, format, table, byOrg)
				if err != nil {
					return err
				}
				if s.IPs > 0 {
					written.Orgs = append(written.Orgs, s)
				}
			} else {
				for _, o := range slices.Sorted(maps.Keys(byOrg)) {
					s, err := writeOrgList(out, o, format, table, byOrg[o])
					if err != nil {
						return err
					}
					written.Orgs = append(written.Orgs, s)
				}
			}
			w := cmd.OutOrStdout()
			if global.JSON {
				return writeJSON(w, written)
			}
			for _, l := range written.Orgs {
				fmt.Fprintf(w, "%-20s %6d rows %6d IPs  %s\n", l.Org, l.Rows, l.IPs, strings.Join(l.Files, " "))
			}
			if len(written.Orgs) == 0 && org != "" {
				fmt.Fprintf(w, "no attributions of %s stored\n", want)
			} else if len(written.Orgs) == 0 {
				fmt.Fprintln(w, "no attributions stored (run scannergrouper identify first)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organisation (canonical name or alias)")
	cmd.Flags().BoolVar(&all, "all", false, "every organisation")
	cmd.Flags().StringVar(&out, "out", "", "output folder")
	cmd.Flags().StringVar(&format, "format", "txt", "txt (txt, csv and json), misp, cidr, nft or ipset")
	cmd.Flags().BoolVar(&combined, "combined", false, "one list of every benign research scanner instead of one per organisation (misp, cidr, nft, ipset)")
	cmd.Flags().StringVar(&table, "table", "scannergrouper", "nftables table of --format nft")
	cmd.Flags().StringVar(&sensor, "sensor", "", "only IPs that sent this sensor a probe within the verdict's window")
	rootCmd.AddCommand(cmd)
}

// checkListsOrg accepts an org the registry knows (its list may be empty) or
// one the stored verdicts name; anything else is a usage error listing the
// orgs that have verdicts, so a typo does not write nothing and succeed.
func checkListsOrg(org, canonical string, atts []pipeline.StoredAttribution) error {
	if _, ok := label.DefaultRegistry().Org(canonical); ok || canonical == label.Unknown {
		return nil
	}
	stored := map[string]bool{}
	for _, a := range atts {
		stored[a.Org] = true
	}
	if stored[canonical] {
		return nil
	}
	if len(stored) == 0 {
		return usagef("--org %q: no such organisation, and no verdicts are stored (run scannergrouper identify first; scannergrouper labels orgs lists the known names)", org)
	}
	return usagef("--org %q: no such organisation; the stored verdicts name %s (scannergrouper labels orgs lists every known name)",
		org, strings.Join(slices.Sorted(maps.Keys(stored)), ", "))
}

// listsSummary is what lists prints under --json: the files written.
type listsSummary struct {
	Out    string           `json:"out"`
	Format string           `json:"format"`
	Orgs   []orgListSummary `json:"orgs"`
}

type orgListSummary struct {
	Org      string   `json:"org"`
	Rows     int      `json:"rows"`               // verdicts (one per IP and window)
	IPs      int      `json:"ips"`                // distinct IPs
	Prefixes int      `json:"prefixes,omitempty"` // aggregated CIDR prefixes (misp, cidr, nft, ipset)
	Files    []string `json:"files"`
}

// listExt is the file name ending of each aggregated format.
var listExt = map[string]string{"misp": ".misp.json", "cidr": ".cidr", "nft": ".nft", "ipset": ".ipset"}

// benignResearchOrg tells the organisations --combined lists: every
// attributed org but the unknown class and the registry's aggregate lists.
func benignResearchOrg(org string) bool {
	if org == label.Unknown {
		return false
	}
	o, ok := label.DefaultRegistry().Org(org)
	return !ok || o.Role != label.RoleAggregate
}

func writeCombinedList(dir, format, table string, byOrg map[string][]pipeline.StoredAttribution) (orgListSummary, error) {
	var rows []pipeline.StoredAttribution
	var orgs []string
	for _, o := range slices.Sorted(maps.Keys(byOrg)) {
		if benignResearchOrg(o) {
			rows = append(rows, byOrg[o]...)
			orgs = append(orgs, o)
		}
	}
	if len(rows) == 0 {
		return orgListSummary{Org: combinedList}, nil
	}
	meta := listMeta{
		name:  "ScannerGrouper: benign research scanners",
		descr: "Scanner IPs of benign Internet research scanners attributed by ScannerGrouper from honeypot traffic: " + strings.Join(orgs, ", "),
		title: "benign research scanner IPs attributed by scannergrouper (" + strings.Join(orgs, ", ") + ")",
	}
	return writeAggregated(dir, combinedList, format, table, meta, rows)
}

type listMeta struct{ name, descr, title string }

// writeOrgList writes one org's list in format and says what it wrote.
func writeOrgList(dir, org, format, table string, rows []pipeline.StoredAttribution) (orgListSummary, error) {
	if format != "txt" {
		meta := listMeta{
			name:  "ScannerGrouper: " + org + " scanner IPs",
			descr: "Scanner IPs of " + org + " attributed by ScannerGrouper from honeypot traffic",
			title: org + " scanner IPs attributed by scannergrouper",
		}
		return writeAggregated(dir, org, format, table, meta, rows)
	}
	base := filepath.Join(dir, org)
	sum := orgListSummary{Org: org, Rows: len(rows), Files: []string{base + ".txt", base + ".csv", base + ".json"}}
	ips, err := app.WriteOrgList(dir, org, rows)
	sum.IPs = ips
	return sum, err
}

// writeAggregated writes rows' distinct IPs as one aggregated list.
func writeAggregated(dir, stem, format, table string, meta listMeta, rows []pipeline.StoredAttribution) (orgListSummary, error) {
	path := filepath.Join(dir, stem+listExt[format])
	s := orgListSummary{Org: stem, Rows: len(rows), Files: []string{path}}
	seen := map[string]bool{}
	var addrs []string
	var last time.Time
	for _, r := range rows {
		if !seen[r.IP] {
			seen[r.IP] = true
			addrs = append(addrs, r.IP)
		}
		if r.To.After(last) {
			last = r.To
		}
	}
	s.IPs = len(addrs)
	prefixes, err := lists.ParseAddrs(addrs)
	if err != nil {
		return s, err
	}
	s.Prefixes = len(lists.Aggregate(prefixes))
	return s, atomicfile.Write(path, func(w io.Writer) error {
		switch format {
		case "misp":
			return lists.WriteMISP(w, lists.NewWarninglist(meta.name, meta.descr, mispVersion(last), prefixes))
		case "cidr":
			return lists.WriteCIDR(w, meta.title, prefixes)
		case "nft":
			return lists.WriteNFT(w, table, stem, meta.title, prefixes)
		default:
			return lists.WriteIPSet(w, stem, meta.title, prefixes)
		}
	})
}

// mispVersion is a warninglist version from the end of the newest verdict
// listed, as YYYYMMDD: a list of later verdicts has a higher version, and
// the same verdicts give the same file.
func mispVersion(t time.Time) int64 {
	if t.IsZero() {
		return 1
	}
	t = t.UTC()
	return int64(t.Year()*10000 + int(t.Month())*100 + t.Day())
}
