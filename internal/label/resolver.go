package label

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gaissmai/bart"
)

// PolicyMode says how labels of several sources become one answer.
type PolicyMode int

const (
	// AnySource trusts every source: the most specific covering prefix
	// decides; several orgs at that prefix are settled by the number of
	// sources naming each, then by Policy.Priority, then by name.
	AnySource PolicyMode = iota
	// MinSources requires at least Policy.MinSources distinct sources to
	// name the org for an address (counting every covering prefix).
	MinSources
	// Priority asks the sources in Policy.Priority order (unlisted sources
	// after them, by name); the first source with a label for the address
	// decides, using its most specific prefix.
	Priority
)

// Policy is the consensus policy of a Resolver.
type Policy struct {
	Mode       PolicyMode
	MinSources int
	Priority   []string
}

// ParsePolicy reads "any", "min:N" (N ≥ 1) or "priority:src1,src2,...".
func ParsePolicy(s string) (Policy, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "any":
		return Policy{Mode: AnySource}, nil
	case strings.HasPrefix(s, "min:"):
		n, err := strconv.Atoi(s[len("min:"):])
		if err != nil || n < 1 {
			return Policy{}, fmt.Errorf("policy %q: want min:N with N ≥ 1", s)
		}
		return Policy{Mode: MinSources, MinSources: n}, nil
	case strings.HasPrefix(s, "priority:"):
		var srcs []string
		for _, p := range strings.Split(s[len("priority:"):], ",") {
			if p = strings.TrimSpace(p); p != "" {
				srcs = append(srcs, p)
			}
		}
		if len(srcs) == 0 {
			return Policy{}, fmt.Errorf("policy %q: name at least one source", s)
		}
		return Policy{Mode: Priority, Priority: srcs}, nil
	}
	return Policy{}, fmt.Errorf("policy %q: want any, min:N or priority:SRC,SRC", s)
}

func (p Policy) String() string {
	switch p.Mode {
	case MinSources:
		return "min:" + strconv.Itoa(p.MinSources)
	case Priority:
		return "priority:" + strings.Join(p.Priority, ",")
	}
	return "any"
}

// Resolver answers "which org had this address at that time" from a
// snapshot of the labels. It is read-only and safe for concurrent use.
type Resolver struct {
	// table maps each stored prefix to a ref: with complexRef set, the
	// low bits index entries (a timeline); otherwise they index orgs
	// directly, so the common always-valid label costs one lookup and no
	// further memory access but the org string.
	table   bart.Fast[uint32]
	entries []entry
	orgs    []string // orgs[0] = "" (no org)
	nPrefix int
	// networks are the stored prefixes wider than one address, in address
	// order, with their refs (Networks).
	networks []prefixRef
}

type prefixRef struct {
	prefix netip.Prefix
	ref    uint32
}

const complexRef = 1 << 31

// entry is the decided timeline of one stored prefix, with the labels of
// every covering prefix already folded in, so a lookup needs only the
// longest-prefix match and never walks up the tree.
type entry struct {
	always string    // set when one org holds for all time (the common case)
	segs   []segment // otherwise: disjoint, sorted validity segments
	latest string    // org of the last segment with one (lookups at zero time)
}

type segment struct {
	from, until int64 // [from, until) in Unix seconds
	org         string
}

const (
	openStart = math.MinInt64
	openEnd   = math.MaxInt64
)

// Resolver builds a resolver over every stored label under policy.
func (s *LabelDB) Resolver(ctx context.Context, policy Policy) (*Resolver, error) {
	labels, err := s.Labels(ctx, Query{})
	if err != nil {
		return nil, err
	}
	return NewResolver(labels, policy)
}

// NewResolver builds a resolver over labels.
func NewResolver(labels []Label, policy Policy) (*Resolver, error) {
	if policy.Mode == MinSources && policy.MinSources < 1 {
		return nil, fmt.Errorf("resolver: min sources must be ≥ 1")
	}
	groups, table := groupByPrefix(labels)
	rank := sourceRank(policy.Priority)
	r := &Resolver{orgs: []string{""}, nPrefix: len(groups)}
	orgIndex := map[string]uint32{"": 0}
	var effective []spanLabel
	for _, g := range groups {
		effective = effective[:0]
		for _, gi := range table.Supernets(g.prefix) {
			effective = append(effective, groups[gi].labels...)
		}
		e := decideTimeline(effective, policy, rank)
		if e.segs == nil {
			id, ok := orgIndex[e.always]
			if !ok {
				id = uint32(len(r.orgs))
				orgIndex[e.always] = id
				r.orgs = append(r.orgs, e.always)
			}
			r.table.Insert(g.prefix, id)
			continue
		}
		if len(r.entries) >= complexRef-1 {
			return nil, fmt.Errorf("resolver: too many prefixes with validity periods")
		}
		r.table.Insert(g.prefix, complexRef|uint32(len(r.entries)))
		r.entries = append(r.entries, e)
	}
	for p, ref := range r.table.AllSorted() {
		if !p.IsSingleIP() {
			r.networks = append(r.networks, prefixRef{p, ref})
		}
	}
	return r, nil
}

// spanLabel is a label reduced to what a decision needs.
type spanLabel struct {
	org, source string
	bits        int
	from, until int64
}

type prefixGroup struct {
	prefix netip.Prefix
	labels []spanLabel
}

func groupByPrefix(labels []Label) ([]prefixGroup, *bart.Table[int]) {
	var groups []prefixGroup
	index := map[netip.Prefix]int{}
	table := &bart.Table[int]{}
	for _, l := range labels {
		p := unmapPrefix(l.Prefix)
		if !p.IsValid() {
			continue
		}
		sl := spanLabel{org: l.Org, source: l.Source, bits: p.Bits(), from: openStart, until: openEnd}
		if !l.ValidFrom.IsZero() {
			sl.from = l.ValidFrom.Unix()
		}
		if !l.ValidUntil.IsZero() {
			sl.until = l.ValidUntil.Unix()
		}
		if sl.from >= sl.until {
			continue // an empty period labels nothing
		}
		gi, ok := index[p]
		if !ok {
			gi = len(groups)
			index[p] = gi
			groups = append(groups, prefixGroup{prefix: p})
			table.Insert(p, gi)
		}
		groups[gi].labels = append(groups[gi].labels, sl)
	}
	return groups, table
}

// unmapPrefix turns ::ffff:a.b.c.d/n+96 into a.b.c.d/n so IPv4 labels
// written in IPv6 notation match IPv4 lookups.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	a := p.Addr()
	if a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

func sourceRank(priority []string) map[string]int {
	rank := map[string]int{}
	for i, s := range priority {
		if _, dup := rank[s]; !dup {
			rank[s] = i
		}
	}
	return rank
}

// decideTimeline cuts time at every validity bound of the labels and
// decides each piece under the policy.
func decideTimeline(labels []spanLabel, policy Policy, rank map[string]int) entry {
	points := []int64{openStart}
	for _, l := range labels {
		points = append(points, l.from, l.until)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	var segs []segment
	var active []spanLabel
	for i, start := range points {
		if start == openEnd {
			break
		}
		end := int64(openEnd)
		if i+1 < len(points) {
			end = points[i+1]
		}
		active = active[:0]
		for _, l := range labels {
			if l.from <= start && start < l.until {
				active = append(active, l)
			}
		}
		org := decide(active, policy, rank)
		if n := len(segs); n > 0 && segs[n-1].org == org && segs[n-1].until == start {
			segs[n-1].until = end
			continue
		}
		segs = append(segs, segment{from: start, until: end, org: org})
	}
	var e entry
	for _, s := range segs {
		if s.org != "" {
			e.latest = s.org
		}
	}
	if len(segs) == 1 && segs[0].from == openStart && segs[0].until == openEnd {
		e.always = segs[0].org
		return e
	}
	// Segments without an org are dropped: a lookup that falls in a gap
	// finds nothing, which is the answer for them.
	for _, s := range segs {
		if s.org != "" {
			e.segs = append(e.segs, s)
		}
	}
	return e
}

// decide picks the org for one set of simultaneously valid labels.
func decide(active []spanLabel, policy Policy, rank map[string]int) string {
	if len(active) == 0 {
		return ""
	}
	switch policy.Mode {
	case Priority:
		best := -1
		for i, l := range active {
			if best < 0 || betterPriority(l, active[best], rank) {
				best = i
			}
		}
		return active[best].org
	case MinSources:
		votes := countSources(active)
		org, n := bestVote(votes, rank)
		if n < policy.MinSources {
			return ""
		}
		return org
	default:
		maxBits := -1
		for _, l := range active {
			maxBits = max(maxBits, l.bits)
		}
		var top []spanLabel
		for _, l := range active {
			if l.bits == maxBits {
				top = append(top, l)
			}
		}
		org, _ := bestVote(countSources(top), rank)
		return org
	}
}

func betterPriority(a, b spanLabel, rank map[string]int) bool {
	ra, aok := rank[a.source]
	rb, bok := rank[b.source]
	if aok != bok {
		return aok
	}
	if aok && ra != rb {
		return ra < rb
	}
	if !aok && a.source != b.source {
		return a.source < b.source
	}
	if a.bits != b.bits {
		return a.bits > b.bits
	}
	return a.org < b.org
}

type vote struct {
	sources  map[string]bool
	bestRank int
	maxBits  int
}

func countSources(labels []spanLabel) map[string]*vote {
	votes := map[string]*vote{}
	for _, l := range labels {
		v := votes[l.org]
		if v == nil {
			v = &vote{sources: map[string]bool{}, bestRank: math.MaxInt, maxBits: -1}
			votes[l.org] = v
		}
		v.sources[l.source] = true
		v.maxBits = max(v.maxBits, l.bits)
		// bestRank is filled by bestVote, which knows the ranking.
	}
	return votes
}

// bestVote returns the org named by the most sources; ties go to the more
// specific prefix, then the better-ranked source, then the smaller name.
func bestVote(votes map[string]*vote, rank map[string]int) (string, int) {
	orgs := make([]string, 0, len(votes))
	for org, v := range votes {
		for src := range v.sources {
			if r, ok := rank[src]; ok && r < v.bestRank {
				v.bestRank = r
			}
		}
		orgs = append(orgs, org)
	}
	sort.Slice(orgs, func(i, j int) bool {
		a, b := votes[orgs[i]], votes[orgs[j]]
		if len(a.sources) != len(b.sources) {
			return len(a.sources) > len(b.sources)
		}
		if a.maxBits != b.maxBits {
			return a.maxBits > b.maxBits
		}
		if a.bestRank != b.bestRank {
			return a.bestRank < b.bestRank
		}
		return orgs[i] < orgs[j]
	})
	if len(orgs) == 0 {
		return "", 0
	}
	return orgs[0], len(votes[orgs[0]].sources)
}

// Lookup returns the org of addr at time t. A zero t asks for the latest
// knowledge: the org of the most recent period that has one.
func (r *Resolver) Lookup(addr netip.Addr, t time.Time) (org string, ok bool) {
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	ref, found := r.table.Lookup(addr)
	if !found {
		return "", false
	}
	org = r.orgOf(ref, t)
	return org, org != ""
}

func (r *Resolver) orgOf(ref uint32, t time.Time) string {
	if ref&complexRef == 0 {
		return r.orgs[ref]
	}
	return r.entries[ref&^complexRef].at(t)
}

// Len returns the number of distinct prefixes the resolver holds.
func (r *Resolver) Len() int { return r.nPrefix }

// All yields every stored prefix with its org at time t (zero t: latest
// knowledge), in address order, skipping prefixes with no org then.
func (r *Resolver) All(t time.Time) iter.Seq2[netip.Prefix, string] {
	return func(yield func(netip.Prefix, string) bool) {
		for p, ref := range r.table.AllSorted() {
			org := r.orgOf(ref, t)
			if org == "" {
				continue
			}
			if !yield(p, org) {
				return
			}
		}
	}
}

// Fingerprint identifies what the resolver says: the SHA-256 (hex) of
// every stored prefix with its decided timeline, in address order. Two
// resolvers with the same fingerprint label every address at every time
// alike.
func (r *Resolver) Fingerprint() string {
	h := sha256.New()
	var buf []byte
	for p, ref := range r.table.AllSorted() {
		buf = p.AppendTo(buf[:0])
		buf = append(buf, 0)
		if ref&complexRef == 0 {
			buf = append(buf, r.orgs[ref]...)
		} else {
			e := &r.entries[ref&^complexRef]
			buf = append(buf, e.always...)
			for _, sg := range e.segs {
				buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(sg.from))
				buf = binary.BigEndian.AppendUint64(buf, uint64(sg.until))
				buf = append(buf, sg.org...)
			}
			buf = append(append(buf, 2), e.latest...)
		}
		h.Write(append(buf, '\n'))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Networks yields the stored prefixes wider than one address with their
// org at time t, as All does, without walking the single addresses.
func (r *Resolver) Networks(t time.Time) iter.Seq2[netip.Prefix, string] {
	return func(yield func(netip.Prefix, string) bool) {
		for _, n := range r.networks {
			org := r.orgOf(n.ref, t)
			if org == "" {
				continue
			}
			if !yield(n.prefix, org) {
				return
			}
		}
	}
}

func (e *entry) at(t time.Time) string {
	if e.always != "" {
		return e.always
	}
	if t.IsZero() {
		return e.latest
	}
	ts := t.Unix()
	for j := range e.segs {
		s := &e.segs[j]
		if ts < s.from {
			break
		}
		if ts < s.until {
			return s.org
		}
	}
	return ""
}
