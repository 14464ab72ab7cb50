package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/abuse"
	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// AbuseMembers gathers the scanner IPs of the verdicts whose window
// overlaps [from, to) (zero bounds do not limit) per organisation: listed
// when a stored list gives the IP to the org at the window's start,
// attributed when identify gave it to the org and no list does (an IP
// listed for the org in any window is listed only). orgs, when given,
// keeps only those organisations. It returns the members and their
// distinct addresses in order.
func AbuseMembers(ctx context.Context, st store.Store, from, to time.Time, orgs []string, log *slog.Logger) (abuse.Membership, []netip.Addr, error) {
	atts, err := st.Attributions(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	ls, err := LoadLabels(ctx, st, "", log)
	if err != nil {
		return nil, nil, err
	}
	keep := func(org string) bool {
		return org != "" && org != label.Unknown && (len(orgs) == 0 || slices.Contains(orgs, org))
	}
	m := abuse.Membership{}
	attributed := map[string]map[string]bool{}
	for _, a := range atts {
		if (!from.IsZero() && !a.To.After(from)) || (!to.IsZero() && !a.From.Before(to)) {
			continue
		}
		addr, err := netip.ParseAddr(a.IP)
		if err != nil {
			continue // the store holds only parsed addresses
		}
		listed := ls.LabelOf(addr.Unmap(), a.From)
		if keep(listed) {
			m.Add(listed, abuse.Listed, a.IP)
		}
		if keep(a.Org) && a.Org != listed {
			if attributed[a.Org] == nil {
				attributed[a.Org] = map[string]bool{}
			}
			attributed[a.Org][a.IP] = true
		}
	}
	for org, ips := range attributed {
		for _, ip := range slices.Sorted(maps.Keys(ips)) {
			if !slices.Contains(m[org][abuse.Listed], ip) {
				m.Add(org, abuse.Attributed, ip)
			}
		}
	}
	seen := map[netip.Addr]bool{}
	var addrs []netip.Addr
	for _, kinds := range m {
		for _, ips := range kinds {
			for _, ip := range ips {
				a := netip.MustParseAddr(ip).Unmap()
				if !seen[a] {
					seen[a] = true
					addrs = append(addrs, a)
				}
			}
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return m, addrs, nil
}

// AbuseSummary is the abuse statistics of a period as reports write them:
// the threshold, per org its listed and attributed IPs apart, and the
// figures drawn.
type AbuseSummary struct {
	Abusive int              `json:"abusive_threshold"`
	Orgs    []abuse.OrgStats `json:"orgs"`
	Figures []string         `json:"figures,omitempty"`
}

// WriteAbuseSection writes the abuse statistics of the stored verdicts of
// [from, to) into dir (abuse.json, abuse_by_org.png and .svg) when the
// store holds abuse checks; nil when it holds none or no org has an IP.
// analyze and serve's still-unknown analysis (which the dashboard shows)
// both write it.
func WriteAbuseSection(ctx context.Context, st store.Store, from, to time.Time, dir string, log *slog.Logger) (*AbuseSummary, error) {
	checks, err := st.AbuseChecks(ctx)
	if err != nil || len(checks) == 0 {
		return nil, err
	}
	members, _, err := AbuseMembers(ctx, st, from, to, nil, log)
	if err != nil {
		return nil, err
	}
	sum := &AbuseSummary{Abusive: abuse.DefaultAbusive, Orgs: abuse.Stats(members, checks, abuse.DefaultAbusive)}
	if len(sum.Orgs) == 0 {
		return nil, nil
	}
	if sum.Figures, err = abuse.WriteFigure(dir, sum.Orgs, sum.Abusive); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "abuse.json")
	if err := atomicfile.Write(path, func(w io.Writer) error { return json.NewEncoder(w).Encode(sum) }); err != nil {
		return nil, err
	}
	sum.Figures = append(sum.Figures, path)
	return sum, nil
}
