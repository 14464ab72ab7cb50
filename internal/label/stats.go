package label

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gaissmai/bart"
)

// DefaultAgreementOrgs are the organisations of the NICT-vs-union table of
// realdata/scanner_ip_lists/cross_source_agreement.txt, in its order.
var DefaultAgreementOrgs = []string{"censys", "shodan", "shadowserver", "stretchoid", "binaryedge", "driftnet",
	"internet_census", "onyphe", "criminalip", "zoomeye", "fofa", "ipip", "internettl", "rapid7", "leakix",
	"intrinsec", "paloalto_expanse", "modat", "alphastrike", "netscout", "nokia_deepfield"}

// StatsOptions select what Stats computes.
type StatsOptions struct {
	// Reference is the independent source compared with the union of the
	// others: a source name or a glob ("nict*", the default).
	Reference string
	// At keeps only labels valid at that time (zero: every label).
	At time.Time
	// Orgs are the organisations of the agreement tables (default
	// DefaultAgreementOrgs); Org restricts the per-source table to one.
	Orgs []string
	Org  string
	// Conflicts also lists the prefixes that sources give to different
	// organisations at overlapping times.
	Conflicts bool
}

// SourceCount is the size of one org's list in one source.
type SourceCount struct {
	Org        string `json:"org"`
	Source     string `json:"source"`
	Prefixes   int    `json:"prefixes"`
	V4Addrs    uint64 `json:"ipv4_addresses"` // distinct, after merging overlaps
	V6Prefixes int    `json:"ipv6_prefixes"`
}

// Agreement is one row of the reference-vs-union table: how many of the
// reference's addresses of Org the other sources cover with the same org,
// and with another org.
type Agreement struct {
	Org       string         `json:"org"`
	RefAddrs  int            `json:"reference_addresses"`
	SameOrg   int            `json:"in_same_org"`
	OtherOrg  int            `json:"in_other_org"`
	OtherOrgs map[string]int `json:"other_orgs,omitempty"`
}

// SamePct and OtherPct are the shares in percent.
func (a Agreement) SamePct() float64  { return pct(a.SameOrg, a.RefAddrs) }
func (a Agreement) OtherPct() float64 { return pct(a.OtherOrg, a.RefAddrs) }

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// Pairwise is, for one org, the share of each source's IPv4 addresses
// that another source also lists for the org.
type Pairwise struct {
	Org     string                        `json:"org"`
	Addrs   map[string]uint64             `json:"ipv4_addresses"`
	Covered map[string]map[string]float64 `json:"covered_pct"` // row source → column source → percent
}

// Conflict is a prefix that sources attribute to different organisations
// at overlapping times.
type Conflict struct {
	Prefix netip.Prefix        `json:"prefix"`
	Orgs   map[string][]string `json:"orgs"` // org → sources
}

// Stats is what `labels stats` prints.
type Stats struct {
	Reference []string       `json:"reference_sources"`
	Sources   []string       `json:"sources"`
	PerSource []SourceCount  `json:"per_source"`
	Agreement []Agreement    `json:"agreement"`
	Pairwise  []Pairwise     `json:"pairwise"`
	Conflicts []Conflict     `json:"conflicts,omitempty"`
	OrgPairs  map[string]int `json:"conflicting_org_pairs,omitempty"`
}

// Stats computes per-source counts, agreement and (optionally) conflicts
// over the stored labels.
func (s *LabelDB) Stats(ctx context.Context, opts StatsOptions) (*Stats, error) {
	labels, err := s.Labels(ctx, Query{At: opts.At})
	if err != nil {
		return nil, err
	}
	return ComputeStats(labels, s.reg, opts)
}

// ComputeStats is Stats over labels in memory.
func ComputeStats(labels []Label, reg *Registry, opts StatsOptions) (*Stats, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	if opts.Reference == "" {
		opts.Reference = "nict*"
	}
	if _, err := path.Match(opts.Reference, ""); err != nil {
		return nil, fmt.Errorf("stats: reference pattern %q: %w", opts.Reference, err)
	}
	orgs := opts.Orgs
	if len(orgs) == 0 {
		orgs = DefaultAgreementOrgs
	}
	st := &Stats{}
	isRef := func(src string) bool { ok, _ := path.Match(opts.Reference, src); return ok }
	srcSet := map[string]bool{}
	refSet := map[string]bool{}
	for _, l := range labels {
		srcSet[l.Source] = true
		if isRef(l.Source) {
			refSet[l.Source] = true
		}
	}
	st.Sources = sortedKeys(srcSet)
	st.Reference = sortedKeys(refSet)

	st.PerSource = perSource(labels, reg.Canonical(opts.Org))
	st.Agreement = agreement(labels, orgs, isRef)
	st.Pairwise = pairwise(labels, orgs)
	if opts.Conflicts {
		st.Conflicts, st.OrgPairs = conflicts(labels, reg)
	}
	return st, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// v4Range is an inclusive IPv4 address range.
type v4Range struct{ lo, hi uint32 }

func v4RangeOf(p netip.Prefix) (v4Range, bool) {
	if !p.Addr().Is4() {
		return v4Range{}, false
	}
	b := p.Masked().Addr().As4()
	lo := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	size := uint64(1) << (32 - p.Bits())
	return v4Range{lo, uint32(uint64(lo) + size - 1)}, true
}

// mergeRanges sorts and merges overlapping or adjacent ranges.
func mergeRanges(rs []v4Range) []v4Range {
	slices.SortFunc(rs, func(a, b v4Range) int {
		if a.lo != b.lo {
			if a.lo < b.lo {
				return -1
			}
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && uint64(r.lo) <= uint64(out[n-1].hi)+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func rangeSize(rs []v4Range) uint64 {
	var n uint64
	for _, r := range rs {
		n += uint64(r.hi) - uint64(r.lo) + 1
	}
	return n
}

// intersectSize counts the addresses in both merged range lists.
func intersectSize(a, b []v4Range) uint64 {
	var n uint64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			n += uint64(hi) - uint64(lo) + 1
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return n
}

func perSource(labels []Label, onlyOrg string) []SourceCount {
	type key struct{ org, src string }
	type acc struct {
		prefixes map[netip.Prefix]bool
		v4       []v4Range
		v6       int
	}
	m := map[key]*acc{}
	for _, l := range labels {
		if onlyOrg != "" && l.Org != onlyOrg {
			continue
		}
		k := key{l.Org, l.Source}
		a := m[k]
		if a == nil {
			a = &acc{prefixes: map[netip.Prefix]bool{}}
			m[k] = a
		}
		if a.prefixes[l.Prefix] {
			continue // the same prefix in several periods counts once
		}
		a.prefixes[l.Prefix] = true
		if r, ok := v4RangeOf(l.Prefix); ok {
			a.v4 = append(a.v4, r)
		} else {
			a.v6++
		}
	}
	out := make([]SourceCount, 0, len(m))
	for k, a := range m {
		out = append(out, SourceCount{Org: k.org, Source: k.src, Prefixes: len(a.prefixes), V4Addrs: rangeSize(mergeRanges(a.v4)), V6Prefixes: a.v6})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Org != out[j].Org {
			return out[i].Org < out[j].Org
		}
		return out[i].Source < out[j].Source
	})
	return out
}

// agreement reproduces the NICT-vs-union table of
// cross_source_agreement.txt: for each org, the distinct addresses the
// reference sources give it, and the share of them that any other source
// covers (by a prefix containing the address) with the same org or with a
// different one.
func agreement(labels []Label, orgs []string, isRef func(string) bool) []Agreement {
	union := &bart.Table[[]string]{}
	refAddrs := map[string]map[netip.Addr]bool{}
	for _, l := range labels {
		if isRef(l.Source) {
			set := refAddrs[l.Org]
			if set == nil {
				set = map[netip.Addr]bool{}
				refAddrs[l.Org] = set
			}
			expandAddrs(l.Prefix, func(a netip.Addr) { set[a] = true })
			continue
		}
		union.Modify(l.Prefix, func(v []string, ok bool) ([]string, bool) {
			if !slices.Contains(v, l.Org) {
				v = append(slices.Clone(v), l.Org)
			}
			return v, false
		})
	}
	out := make([]Agreement, 0, len(orgs))
	for _, org := range orgs {
		row := Agreement{Org: org, OtherOrgs: map[string]int{}}
		for a := range refAddrs[org] {
			row.RefAddrs++
			same := false
			others := map[string]bool{}
			for _, v := range union.Supernets(netip.PrefixFrom(a, a.BitLen())) {
				for _, o := range v {
					if o == org {
						same = true
					} else {
						others[o] = true
					}
				}
			}
			if same {
				row.SameOrg++
			}
			if len(others) > 0 {
				row.OtherOrg++
				for o := range others {
					row.OtherOrgs[o]++
				}
			}
		}
		out = append(out, row)
	}
	return out
}

// expandAddrs calls fn for each address of p when p holds at most 65,536
// of them (an IPv4 /16); a larger prefix stands for its first address.
func expandAddrs(p netip.Prefix, fn func(netip.Addr)) {
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits > 16 {
		fn(p.Masked().Addr())
		return
	}
	a := p.Masked().Addr()
	for i := 0; i < 1<<hostBits; i++ {
		fn(a)
		a = a.Next()
	}
}

func pairwise(labels []Label, orgs []string) []Pairwise {
	want := map[string]bool{}
	for _, o := range orgs {
		want[o] = true
	}
	ranges := map[string]map[string][]v4Range{}
	for _, l := range labels {
		if !want[l.Org] {
			continue
		}
		r, ok := v4RangeOf(l.Prefix)
		if !ok {
			continue
		}
		if ranges[l.Org] == nil {
			ranges[l.Org] = map[string][]v4Range{}
		}
		ranges[l.Org][l.Source] = append(ranges[l.Org][l.Source], r)
	}
	var out []Pairwise
	for _, org := range orgs {
		bySrc := ranges[org]
		if len(bySrc) < 2 {
			continue // nothing to compare with
		}
		pw := Pairwise{Org: org, Addrs: map[string]uint64{}, Covered: map[string]map[string]float64{}}
		for src, rs := range bySrc {
			bySrc[src] = mergeRanges(rs)
			pw.Addrs[src] = rangeSize(bySrc[src])
		}
		for r, rr := range bySrc {
			pw.Covered[r] = map[string]float64{}
			for c, cr := range bySrc {
				if r != c {
					pw.Covered[r][c] = 100 * float64(intersectSize(rr, cr)) / float64(pw.Addrs[r])
				}
			}
		}
		out = append(out, pw)
	}
	return out
}

// conflicts finds every stored prefix whose own and covering labels name
// more than one organisation at overlapping times. Aggregate list names
// ("universities") conflict with everything by nature and are left out.
func conflicts(labels []Label, reg *Registry) ([]Conflict, map[string]int) {
	var kept []Label
	for _, l := range labels {
		if o, ok := reg.Org(l.Org); ok && o.Role == RoleAggregate {
			continue
		}
		kept = append(kept, l)
	}
	groups, table := groupByPrefix(kept)
	var out []Conflict
	pairs := map[string]int{}
	var eff []spanLabel
	for _, g := range groups {
		eff = eff[:0]
		for _, gi := range table.Supernets(g.prefix) {
			eff = append(eff, groups[gi].labels...)
		}
		orgSources := map[string]map[string]bool{}
		for i := range eff {
			for j := i + 1; j < len(eff); j++ {
				a, b := eff[i], eff[j]
				if a.org == b.org || a.from >= b.until || b.from >= a.until {
					continue
				}
				// A conflict between two covering prefixes is reported
				// where it arises, not again at every stored prefix below.
				if a.bits != g.prefix.Bits() && b.bits != g.prefix.Bits() {
					continue
				}
				for _, l := range []spanLabel{a, b} {
					if orgSources[l.org] == nil {
						orgSources[l.org] = map[string]bool{}
					}
					orgSources[l.org][l.source] = true
				}
			}
		}
		if len(orgSources) < 2 {
			continue
		}
		c := Conflict{Prefix: g.prefix, Orgs: map[string][]string{}}
		for o, srcs := range orgSources {
			c.Orgs[o] = sortedKeys(srcs)
		}
		names := sortedKeys(c.Orgs)
		for i := range names {
			for j := i + 1; j < len(names); j++ {
				pairs[names[i]+" / "+names[j]]++
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Prefix, out[j].Prefix
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return out, pairs
}

// WriteText prints the statistics as aligned tables.
func (st *Stats) WriteText(w io.Writer) error {
	bw := &errWriter{w: w}
	bw.printf("sources: %s\nreference: %s\n\n", strings.Join(st.Sources, ", "), strings.Join(st.Reference, ", "))
	bw.printf("[per org and source]\n%-36s %-24s %9s %14s %9s\n", "org", "source", "prefixes", "ipv4_addrs", "ipv6_pfx")
	for _, c := range st.PerSource {
		bw.printf("%-36s %-24s %9d %14d %9d\n", c.Org, c.Source, c.Prefixes, c.V4Addrs, c.V6Prefixes)
	}
	bw.printf("\n[reference addresses vs union of the other sources]\n%-18s %8s %11s %12s %s\n", "org", "refIPs", "in_same_org", "in_other_org", "other_orgs")
	for _, a := range st.Agreement {
		if a.RefAddrs == 0 {
			bw.printf("%-18s %8d\n", a.Org, 0)
			continue
		}
		bw.printf("%-18s %8d %10.1f%% %11.1f%% %s\n", a.Org, a.RefAddrs, a.SamePct(), a.OtherPct(), formatCounts(a.OtherOrgs))
	}
	bw.printf("\n[pairwise coverage: share of row-source IPv4 addresses also listed by column source, same org]\n")
	for _, pw := range st.Pairwise {
		srcs := sortedKeys(pw.Addrs)
		var sizes []string
		for _, s := range srcs {
			sizes = append(sizes, fmt.Sprintf("%s=%d", s, pw.Addrs[s]))
		}
		bw.printf("%s {%s}\n", pw.Org, strings.Join(sizes, ", "))
		for _, r := range srcs {
			bw.printf("    %-24s", r)
			for _, c := range srcs {
				if c != r {
					bw.printf(" %s=%.0f%%", shortName(c), pw.Covered[r][c])
				}
			}
			bw.printf("\n")
		}
	}
	if st.Conflicts != nil || st.OrgPairs != nil {
		bw.printf("\n[conflicts: prefixes given to different orgs at overlapping times] %d prefixes\n", len(st.Conflicts))
		for _, pair := range sortedKeys(st.OrgPairs) {
			bw.printf("  %-50s %d\n", pair, st.OrgPairs[pair])
		}
		for _, c := range st.Conflicts {
			var parts []string
			for _, o := range sortedKeys(c.Orgs) {
				parts = append(parts, o+"("+strings.Join(c.Orgs[o], ",")+")")
			}
			bw.printf("  %-43s %s\n", c.Prefix, strings.Join(parts, " "))
		}
	}
	return bw.err
}

func shortName(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func formatCounts(m map[string]int) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
