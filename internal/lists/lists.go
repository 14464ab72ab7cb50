// Package lists writes scanner IP lists in the formats other tools read:
// MISP warninglists, CIDR-aggregated blocklists and firewall set
// definitions (nftables, ipset). docs/formats.md describes each one. It
// works on addresses and writers only: no store, no files of its own.
package lists

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"go4.org/netipx"
)

// Formats lists the list formats Write understands, in the order the CLI
// documents them.
var Formats = []string{"misp", "cidr", "nft", "ipset"}

// Aggregate merges addresses and prefixes into the fewest prefixes that
// cover exactly the same addresses: adjacent and overlapping entries
// become one (192.0.2.0 and 192.0.2.1 become 192.0.2.0/31), IPv4 and IPv6
// alike. IPv4-mapped IPv6 addresses count as IPv4. The result is sorted,
// IPv4 first.
func Aggregate(prefixes []netip.Prefix) []netip.Prefix {
	var b netipx.IPSetBuilder
	for _, p := range prefixes {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		b.AddPrefix(p.Masked())
	}
	set, err := b.IPSet()
	if err != nil {
		// IPSetBuilder only reports prefixes it was given invalid; every
		// prefix here came from netip parsing, so this is a bug.
		panic(fmt.Sprintf("lists: aggregate: %v", err))
	}
	return set.Prefixes()
}

// ParseAddrs reads addresses or CIDR prefixes (as stored verdicts and
// labels spell them) into prefixes; a single address becomes a /32 or
// /128.
func ParseAddrs(addrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, s := range addrs {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("lists: %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("lists: %q: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// WriteCIDR writes the aggregated prefixes one a line, after a # comment
// line naming the list.
func WriteCIDR(w io.Writer, title string, prefixes []netip.Prefix) error {
	if _, err := fmt.Fprintf(w, "# %s\n", oneLine(title)); err != nil {
		return err
	}
	for _, p := range Aggregate(prefixes) {
		if _, err := fmt.Fprintln(w, p); err != nil {
			return err
		}
	}
	return nil
}

// Warninglist is a MISP warninglist (the list.json of the
// misp-warninglists repository).
type Warninglist struct {
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Version            int64    `json:"version"`
	Type               string   `json:"type"`
	List               []string `json:"list"`
	MatchingAttributes []string `json:"matching_attributes"`
}

// MatchingAttributes are the MISP attribute types a scanner address list
// applies to: the address attributes the published scanning lists use.
var MatchingAttributes = []string{"ip-src", "ip-dst", "domain|ip", "ip-src|port", "ip-dst|port"}

// NewWarninglist builds a cidr warninglist over prefixes (aggregated).
// version is MISP's integer version: callers pass a date such as 20260810
// so that a newer export always has a higher version.
func NewWarninglist(name, description string, version int64, prefixes []netip.Prefix) Warninglist {
	agg := Aggregate(prefixes)
	list := make([]string, len(agg))
	for i, p := range agg {
		list[i] = p.String()
	}
	return Warninglist{Name: name, Description: description, Version: version, Type: "cidr",
		List: list, MatchingAttributes: slices.Clone(MatchingAttributes)}
}

// WriteMISP writes wl as indented JSON.
func WriteMISP(w io.Writer, wl Warninglist) error {
	if wl.Name == "" || wl.Version <= 0 {
		return fmt.Errorf("lists: a MISP warninglist needs a name and a positive version")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(wl)
}

// setNameRE is what nftables and ipset accept as a set name without
// quoting.
var setNameRE = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// SetName turns a list name into a firewall set name: letters, digits and
// _, at most 31 characters (ipset's limit), never starting with a digit.
func SetName(name string) string {
	s := strings.Trim(setNameRE.ReplaceAllString(name, "_"), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "s_" + s
	}
	if len(s) > 31 {
		s = s[:31]
	}
	return s
}

func split(prefixes []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range Aggregate(prefixes) {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

// WriteNFT writes nftables set definitions for `nft -f`: one interval set
// per address family that has entries (<name>_v4, <name>_v6) in table
// `inet <table>`, which the script creates if it is missing.
func WriteNFT(w io.Writer, table, name, title string, prefixes []netip.Prefix) error {
	v4, v6 := split(prefixes)
	table, name = SetName(table), SetName(name)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", oneLine(title))
	fmt.Fprintf(&b, "table inet %s {\n", table)
	for _, fam := range []struct {
		suffix, typ string
		ps          []netip.Prefix
	}{{"_v4", "ipv4_addr", v4}, {"_v6", "ipv6_addr", v6}} {
		if len(fam.ps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n\t\telements = {\n", setSuffix(name, fam.suffix), fam.typ)
		for i, p := range fam.ps {
			sep := ","
			if i == len(fam.ps)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "\t\t\t%s%s\n", p, sep)
		}
		b.WriteString("\t\t}\n\t}\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteIPSet writes an `ipset restore` script: one hash:net set per
// address family that has entries (<name>_v4 family inet, <name>_v6 family
// inet6), created if missing.
func WriteIPSet(w io.Writer, name, title string, prefixes []netip.Prefix) error {
	v4, v6 := split(prefixes)
	name = SetName(name)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", oneLine(title))
	for _, fam := range []struct {
		suffix, family string
		ps             []netip.Prefix
	}{{"_v4", "inet", v4}, {"_v6", "inet6", v6}} {
		if len(fam.ps) == 0 {
			continue
		}
		set := setSuffix(name, fam.suffix)
		fmt.Fprintf(&b, "create %s hash:net family %s maxelem %d -exist\n", set, fam.family, max(65536, len(fam.ps)))
		for _, p := range fam.ps {
			fmt.Fprintf(&b, "add %s %s -exist\n", set, p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// setSuffix appends suffix, shortening name so the whole stays within 31
// characters.
func setSuffix(name, suffix string) string {
	if len(name)+len(suffix) > 31 {
		name = name[:31-len(suffix)]
	}
	return name + suffix
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
