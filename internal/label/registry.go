// Package label keeps the ground truth of ScannerGrouper: which organisation
// operates a scanner IP, according to which source, and when. It holds the
// organisation registry (canonical names, aliases, roles, reverse-DNS
// patterns), time-aware IP/CIDR labels stored in the shared store, a fast
// longest-prefix resolver for the pipeline, importers for the published
// scanner lists, reverse-DNS mapping and the honeypot cookie tags of the
// paper's Appendix A.
package label

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// Org roles. A fully disclosed organisation publishes every scanner IP it
// uses; training treats it as the unknown class (docs/formats.md §3).
const (
	RoleKnown          = "known"
	RoleFullyDisclosed = "fully_disclosed"
	// RoleAggregate marks a list name that groups several operators
	// ("universities", "other"); it is a label but not one organisation.
	RoleAggregate = "aggregate"
)

// Org is one organisation of the registry.
type Org struct {
	Name     string   `json:"org"`
	Role     string   `json:"role"`
	Homepage string   `json:"homepage"`
	Aliases  []string `json:"aliases"`
	// RDNS are reverse-DNS name patterns: "*.example.com" matches
	// example.com and every name below it; "scan*.example.com" globs the
	// first label.
	RDNS []string `json:"rdns"`
}

// Registry maps every spelling of an organisation to its canonical name.
// It is read-only after construction and safe for concurrent use.
type Registry struct {
	orgs    map[string]*Org
	aliases map[string]string // normalised spelling -> canonical name
	rdns    []rdnsRule        // longest suffix first
}

type rdnsRule struct {
	prefix string // glob prefix of the first label ("" = any name)
	suffix string // domain, lower case, without leading dot
	org    string
}

//go:embed registry.json
var defaultRegistryJSON []byte

var (
	defaultOnce sync.Once
	defaultReg  *Registry
)

// DefaultRegistry returns the registry embedded in the binary
// (internal/label/registry.json).
func DefaultRegistry() *Registry {
	defaultOnce.Do(func() {
		r, err := ParseRegistry(defaultRegistryJSON)
		if err != nil {
			panic("label: embedded registry.json is invalid: " + err.Error())
		}
		defaultReg = r
	})
	return defaultReg
}

type registryFile struct {
	Orgs []Org `json:"orgs"`
}

// ParseRegistry reads a registry document ({"orgs":[...]}, the format of
// registry.json).
func ParseRegistry(data []byte) (*Registry, error) {
	var f registryFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{orgs: map[string]*Org{}, aliases: map[string]string{}}
	for i := range f.Orgs {
		if err := r.add(f.Orgs[i]); err != nil {
			return nil, err
		}
	}
	r.buildRDNS()
	return r, nil
}

// LoadRegistry returns the default registry overridden by the user file at
// path: an org named there replaces the default entry of that name
// (aliases, role, patterns); new orgs are added.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	var f registryFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	return DefaultRegistry().With(f.Orgs...)
}

// With returns a copy of r where each given org replaces the entry of the
// same canonical name or is added.
func (r *Registry) With(orgs ...Org) (*Registry, error) {
	replaced := map[string]bool{}
	for _, o := range orgs {
		replaced[Normalize(o.Name)] = true
	}
	out := &Registry{orgs: map[string]*Org{}, aliases: map[string]string{}}
	for _, name := range r.Names() {
		if !replaced[name] {
			if err := out.add(*r.orgs[name]); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range orgs {
		// A user alias may take over a spelling the default gave to
		// another org: the user file wins.
		for _, a := range o.Aliases {
			delete(out.aliases, Normalize(a))
		}
		if err := out.add(o); err != nil {
			return nil, err
		}
	}
	out.buildRDNS()
	return out, nil
}

func (r *Registry) add(o Org) error {
	name := Normalize(o.Name)
	if name == "" {
		return fmt.Errorf("registry: org with empty name")
	}
	if name == Unknown {
		return fmt.Errorf("registry: %q is reserved for unattributed scanners", Unknown)
	}
	switch o.Role {
	case "":
		o.Role = RoleKnown
	case RoleKnown, RoleFullyDisclosed, RoleAggregate:
	default:
		return fmt.Errorf("registry: org %s: unknown role %q", name, o.Role)
	}
	if _, dup := r.orgs[name]; dup {
		return fmt.Errorf("registry: org %s listed twice", name)
	}
	o.Name = name
	if prev, taken := r.aliases[name]; taken && prev != name {
		return fmt.Errorf("registry: %s is both an org and an alias of %s", name, prev)
	}
	r.orgs[name] = &o
	r.aliases[name] = name
	for _, a := range o.Aliases {
		n := Normalize(a)
		if n == "" {
			continue
		}
		if prev, taken := r.aliases[n]; taken && prev != name {
			return fmt.Errorf("registry: alias %q of %s already names %s", a, name, prev)
		}
		r.aliases[n] = name
	}
	return nil
}

func (r *Registry) buildRDNS() {
	r.rdns = r.rdns[:0]
	for _, o := range r.orgs {
		for _, p := range o.RDNS {
			rule, ok := parseRDNSPattern(p)
			if !ok {
				continue
			}
			rule.org = o.Name
			r.rdns = append(r.rdns, rule)
		}
	}
	// Most specific suffix first so *.eecs.umich.edu beats *.umich.edu.
	sort.Slice(r.rdns, func(i, j int) bool {
		a, b := r.rdns[i], r.rdns[j]
		if len(a.suffix) != len(b.suffix) {
			return len(a.suffix) > len(b.suffix)
		}
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return a.org < b.org
	})
}

func parseRDNSPattern(p string) (rdnsRule, bool) {
	p = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), ".")
	first, rest, found := strings.Cut(p, ".")
	if !found || rest == "" {
		return rdnsRule{}, false
	}
	if first == "*" {
		return rdnsRule{suffix: rest}, true
	}
	if strings.HasSuffix(first, "*") && !strings.Contains(first[:len(first)-1], "*") {
		return rdnsRule{prefix: first[:len(first)-1], suffix: rest}, true
	}
	if strings.Contains(p, "*") {
		return rdnsRule{}, false
	}
	// An exact name: the whole pattern is the suffix and must match fully.
	return rdnsRule{suffix: p, prefix: "="}, true
}

// Unknown is the label of unattributed scanners.
const Unknown = "unknown"

// Normalize lower-cases s and turns every run of characters other than
// a-z and 0-9 into one underscore, trimming underscores at both ends:
// "Palo Alto Networks (Cortex-Xpanse)" → "palo_alto_networks_cortex_xpanse".
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteByte(c)
			continue
		}
		pendingSep = true
	}
	return b.String()
}

// Family and list-kind decorations that sources add to an org name; they are
// stripped when a name is not known as written.
var (
	nameSuffixes = []string{"_ipv6", "_ipv4", "_v6", "_v4", "_nt_scanning", "_scanning", "_scanner", "_scanners"}
	namePrefixes = []string{"inactive_"}
	domainTLDs   = []string{"_com", "_io", "_net", "_org", "_info", "_ninja", "_co", "_de", "_ca", "_edu", "_run", "_jp", "_uk", "_fr"}
)

// Canonical returns the canonical org name for any spelling: an alias, a
// list file name (driftnet_v4, inactive_scanopticon), a domain
// (censys.io) or a display name ("Rapid7 (Project Sonar)"). A name the
// registry does not know comes back normalised (see Normalize) so new
// organisations still get a stable name. "" and "unknown" (the
// unattributed label) return "".
func (r *Registry) Canonical(name string) string {
	n := Normalize(name)
	if n == "" || n == Unknown {
		return ""
	}
	if c, ok := r.aliases[n]; ok {
		return c
	}
	stripped := n
	for changed := true; changed; {
		changed = false
		for _, p := range namePrefixes {
			if s, ok := strings.CutPrefix(stripped, p); ok && s != "" {
				stripped, changed = s, true
			}
		}
		for _, sfx := range nameSuffixes {
			if s, ok := strings.CutSuffix(stripped, sfx); ok && s != "" {
				stripped, changed = s, true
			}
		}
		if c, ok := r.aliases[stripped]; ok {
			return c
		}
	}
	for _, tld := range domainTLDs {
		if s, ok := strings.CutSuffix(stripped, tld); ok && s != "" {
			if c, ok := r.aliases[s]; ok {
				return c
			}
		}
	}
	return stripped
}

// Known reports whether name (any spelling) is an org of the registry.
func (r *Registry) Known(name string) bool {
	_, ok := r.orgs[r.Canonical(name)]
	return ok
}

// Org returns the registry entry of name (any spelling).
func (r *Registry) Org(name string) (Org, bool) {
	o, ok := r.orgs[r.Canonical(name)]
	if !ok {
		return Org{}, false
	}
	return *o, true
}

// FullyDisclosed reports whether org publishes all its scanner IPs
// (censys, driftnet in the default registry).
func (r *Registry) FullyDisclosed(org string) bool {
	o, ok := r.orgs[r.Canonical(org)]
	return ok && o.Role == RoleFullyDisclosed
}

// Names returns the canonical names in sorted order.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.orgs))
	for n := range r.orgs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// OrgForPTR maps a reverse-DNS name to the org whose pattern matches it,
// the most specific pattern winning.
func (r *Registry) OrgForPTR(ptr string) (string, bool) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(ptr)), ".")
	if name == "" {
		return "", false
	}
	for _, rule := range r.rdns {
		if rule.prefix == "=" {
			if name == rule.suffix {
				return rule.org, true
			}
			continue
		}
		var head string
		switch {
		case name == rule.suffix:
			if rule.prefix != "" {
				continue
			}
			return rule.org, true
		case strings.HasSuffix(name, "."+rule.suffix):
			head = name[:len(name)-len(rule.suffix)-1]
		default:
			continue
		}
		if rule.prefix == "" {
			return rule.org, true
		}
		first, _, _ := strings.Cut(head, ".")
		if strings.HasPrefix(first, rule.prefix) && !strings.Contains(head, ".") {
			return rule.org, true
		}
	}
	return "", false
}

// Canonical is DefaultRegistry().Canonical(name).
func Canonical(name string) string { return DefaultRegistry().Canonical(name) }

// FullyDisclosed is DefaultRegistry().FullyDisclosed(org).
func FullyDisclosed(org string) bool { return DefaultRegistry().FullyDisclosed(org) }
