// Package pipeline runs ScannerGrouper end to end: from stored probes and
// ground truth to per-service open-set classifiers, the ensemble, scanner
// attributions and the evaluation report (docs/architecture.md, docs/formats.md §4,
// docs/paper-faithful.md).
package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	// Services is computed when the package initialises, so the registry
	// must be filled before: importing service/all here orders its init
	// first (a lazy Services would change the exported API).
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Services are the services ScannerGrouper classifies, in ensemble order:
// every registered service, in the order of internal/service/all.
var Services = probe.ServiceNames()

// Labeler returns the organisation of a scanner address at a time ("" when
// unattributed); label.Resolver.Lookup fits after a small adapter.
type Labeler func(addr netip.Addr, t time.Time) string

// Data is the labelled probes of a time range, per service, in time order.
type Data struct {
	Probes map[string][]probe.Probe
	Orgs   map[string][]string // parallel to Probes: org at probe time, "" unattributed
}

// honeypotFilter drops probes whose source is a honeypot itself (the
// artifact's SD25 DNS arrays held honeypot responses as probes).
type honeypotFilter func(netip.Addr) bool

// Load reads the probes of services in [from, to) and labels them.
func Load(ctx context.Context, st store.Store, services []string, from, to time.Time, labelOf Labeler) (*Data, error) {
	return LoadQuery(ctx, st, services, store.ProbeQuery{From: from, To: to}, labelOf)
}

// LoadQuery reads the probes of services that q selects (its Service and
// Limit are ignored) and labels them.
func LoadQuery(ctx context.Context, st store.Store, services []string, q store.ProbeQuery, labelOf Labeler) (*Data, error) {
	return loadQuery(ctx, st, services, q, labelOf, nil)
}

// LoadQuery reads the probes of every service that q selects, as the
// package's LoadQuery does, keeping of each probe only the fields its
// service's model encodes (none for a service without a model):
// identification reads nothing else, and a probe's fields are most of the
// memory it takes, which grows with the period's probes.
func (m *Models) LoadQuery(ctx context.Context, st store.Store, q store.ProbeQuery, labelOf Labeler) (*Data, error) {
	return loadQuery(ctx, st, Services, q, labelOf, m.encodedFields())
}

// encodedFields names, per service, the fields its model's layout encodes.
func (m *Models) encodedFields() map[string]map[string]bool {
	keep := map[string]map[string]bool{}
	for _, svc := range Services {
		keep[svc] = map[string]bool{}
		if sm := m.Services[svc]; sm != nil && sm.Layout != nil {
			for _, f := range sm.Layout.Fields {
				keep[svc][f.Name] = true
			}
		}
	}
	return keep
}

// loadQuery is LoadQuery keeping, when keep is set, only the fields of
// keep[service] of each probe. Every service is read in one pass over the
// period (the store reads a period in time order whatever the service),
// each probe going to its service's list, which stays in time order.
func loadQuery(ctx context.Context, st store.Store, services []string, q store.ProbeQuery, labelOf Labeler, keep map[string]map[string]bool) (*Data, error) {
	d := &Data{Probes: map[string][]probe.Probe{}, Orgs: map[string][]string{}}
	wanted := make(map[string]bool, len(services))
	for _, svc := range services {
		wanted[svc] = true
		d.Probes[svc], d.Orgs[svc] = nil, nil
	}
	q.Limit = 0
	q.NoPayload = true // the fields carry what the models need
	q.Service = ""
	if len(services) == 1 {
		q.Service = services[0]
	}
	for p, err := range st.Probes(ctx, q) {
		if err != nil {
			return nil, err
		}
		svc := p.Service
		if !wanted[svc] {
			continue
		}
		p.Payload = nil // the fields carry what the models need
		if keep != nil {
			p.Fields = keepFields(p.Fields, keep[svc])
		}
		d.Probes[svc] = append(d.Probes[svc], p)
		d.Orgs[svc] = append(d.Orgs[svc], labelOf(p.SrcIP, p.Time))
	}
	return d, nil
}

// keepFields returns the fields of fs named in keep, in a slice of their
// own (fs itself when it keeps them all).
func keepFields(fs probe.Fields, keep map[string]bool) probe.Fields {
	n := 0
	for _, f := range fs {
		if keep[f.Name] {
			n++
		}
	}
	if n == len(fs) {
		return fs
	}
	out := make(probe.Fields, 0, n)
	for _, f := range fs {
		if keep[f.Name] {
			out = append(out, f)
		}
	}
	return out
}

// Scanners is the number of distinct source addresses.
func (d *Data) Scanners() int { return len(d.ips()) }

// ips returns the distinct source addresses.
func (d *Data) ips() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, ps := range d.Probes {
		for _, p := range ps {
			out[p.SrcIP] = true
		}
	}
	return out
}

// scannersPerClass counts the distinct labelled scanners of each known
// class.
func (d *Data) scannersPerClass(classes *Classes) []int {
	seen := map[netip.Addr]bool{}
	out := make([]int, classes.Unknown)
	for svc, ps := range d.Probes {
		for i, p := range ps {
			if c := classes.TrainLabel(d.Orgs[svc][i]); c >= 0 && !seen[p.SrcIP] {
				seen[p.SrcIP] = true
				out[c]++
			}
		}
	}
	return out
}

// Count returns the number of probes over all services.
func (d *Data) Count() int {
	n := 0
	for _, ps := range d.Probes {
		n += len(ps)
	}
	return n
}

// Span returns the first and last probe time.
func (d *Data) Span() (first, last time.Time) {
	for _, ps := range d.Probes {
		if len(ps) == 0 {
			continue
		}
		if first.IsZero() || ps[0].Time.Before(first) {
			first = ps[0].Time
		}
		if l := ps[len(ps)-1].Time; l.After(last) {
			last = l
		}
	}
	return first, last
}

// SplitTime is the single cut of the time-ordered split: the time of the
// first probe past the share split of all probes (every service together,
// as the artifact's 8:2 split).
func (d *Data) SplitTime(share float64) (time.Time, error) {
	var times []int64
	for _, ps := range d.Probes {
		for _, p := range ps {
			times = append(times, p.Time.UnixNano())
		}
	}
	if len(times) < 2 {
		return time.Time{}, fmt.Errorf("pipeline: %d probes are too few to split", len(times))
	}
	slices.Sort(times)
	i := int(float64(len(times)) * share)
	i = min(max(i, 1), len(times)-1)
	return time.Unix(0, times[i]).UTC(), nil
}

// SpanCut is the cut of the paper's time split: share of the captured
// time span (first to last probe), rounded down to a midnight in loc (nil:
// UTC) unless that leaves no training day. SelfDeploy-24 (02-01..04-30,
// UTC+8 days) cut at 0.8 falls on 04-13 00:00 UTC+8.
func (d *Data) SpanCut(share float64, loc *time.Location) (time.Time, error) {
	first, last := d.Span()
	if first.IsZero() || !last.After(first) {
		return time.Time{}, fmt.Errorf("the traffic spans no time (%d probes): nothing to split", d.Count())
	}
	if loc == nil {
		loc = time.UTC
	}
	raw := first.Add(time.Duration(float64(last.Sub(first)) * share))
	l := raw.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	if !day.After(first) {
		return raw.UTC(), nil
	}
	return day.UTC(), nil
}

// Slice returns the probes of [from, to) (zero bounds are open).
func (d *Data) Slice(from, to time.Time) *Data {
	out := &Data{Probes: map[string][]probe.Probe{}, Orgs: map[string][]string{}}
	for svc, ps := range d.Probes {
		lo := 0
		if !from.IsZero() {
			lo = sort.Search(len(ps), func(i int) bool { return !ps[i].Time.Before(from) })
		}
		hi := len(ps)
		if !to.IsZero() {
			hi = sort.Search(len(ps), func(i int) bool { return !ps[i].Time.Before(to) })
		}
		if hi < lo {
			hi = lo
		}
		out.Probes[svc] = ps[lo:hi]
		out.Orgs[svc] = d.Orgs[svc][lo:hi]
	}
	return out
}

// Classes maps organisations to model classes: the known organisations
// (labelled in training and not fully disclosed) in alphabetical order are
// 0..K-1, and K is "unknown" (the artifact's order, docs/paper-faithful.md §1.3).
type Classes struct {
	Names   []string // K known orgs then "unknown"
	index   map[string]int
	Unknown int
	// fullyDisclosed orgs are scored as the unknown class.
	fullyDisclosed func(string) bool
}

// NewClasses builds the class list from the training orgs.
func NewClasses(train *Data, fullyDisclosed func(string) bool) *Classes {
	seen := map[string]bool{}
	for _, orgs := range train.Orgs {
		for _, o := range orgs {
			if o != "" && !fullyDisclosed(o) {
				seen[o] = true
			}
		}
	}
	names := make([]string, 0, len(seen)+1)
	for o := range seen {
		names = append(names, o)
	}
	sort.Strings(names)
	return newClasses(names, fullyDisclosed)
}

func newClasses(known []string, fullyDisclosed func(string) bool) *Classes {
	c := &Classes{index: map[string]int{}, Unknown: len(known), fullyDisclosed: fullyDisclosed}
	for i, o := range known {
		c.index[o] = i
	}
	c.Names = append(append([]string(nil), known...), "unknown")
	return c
}

// Truth is an org's evaluation class: a known class, Unknown for fully
// disclosed orgs and for labelled orgs the models do not know, or -1 for an
// unattributed scanner (excluded from the metrics).
func (c *Classes) Truth(org string) int {
	if org == "" {
		return -1
	}
	if i, ok := c.index[org]; ok {
		return i
	}
	return c.Unknown
}

// TrainLabel is an org's label for the open-set classifier: its class when
// known, and unlabeled otherwise (fully disclosed and unattributed probes
// are part of the unlabeled pool, docs/paper-faithful.md §1.6).
func (c *Classes) TrainLabel(org string) int {
	if i, ok := c.index[org]; ok {
		return i
	}
	return -1
}

// weakVote is the vote value of a weak prediction of class c (0..Unknown):
// Unknown+1+c, so that the ensemble tells weak votes from strong ones and
// ensemble.VoteProbes can rank them (voteRows marks values above Unknown
// weak).
func (c *Classes) weakVote(class int) int { return c.Unknown + 1 + class }

// probeClass is the class of a probe behind a vote value.
func (c *Classes) probeClass(vote int) int {
	if vote > c.Unknown {
		return vote - c.Unknown - 1
	}
	return vote
}

// Name returns a class's org name.
func (c *Classes) Name(class int) string {
	if class >= 0 && class < len(c.Names) {
		return c.Names[class]
	}
	return "unknown"
}

// LoadIPs reads the stored probes of the given source addresses in
// [from, to) (zero bounds do not filter), each labelled with labelOf at its
// time: the traffic an explanation of those IPs rests on. The addresses
// are read in one query per loadIPsChunk of them, every service at once.
func LoadIPs(ctx context.Context, st store.Store, services []string, ips []netip.Addr, from, to time.Time, labelOf Labeler) (*Data, error) {
	d := &Data{Probes: map[string][]probe.Probe{}, Orgs: map[string][]string{}}
	wanted := make(map[string]bool, len(services))
	for _, svc := range services {
		wanted[svc] = true
		d.Probes[svc], d.Orgs[svc] = nil, nil
	}
	for lo := 0; lo < len(ips); lo += loadIPsChunk {
		chunk := ips[lo:min(lo+loadIPsChunk, len(ips))]
		for p, err := range st.Probes(ctx, store.ProbeQuery{SrcIPs: chunk, From: from, To: to, NoPayload: true}) {
			if err != nil {
				return nil, err
			}
			if !wanted[p.Service] {
				continue
			}
			p.Payload = nil
			d.Probes[p.Service] = append(d.Probes[p.Service], p)
			d.Orgs[p.Service] = append(d.Orgs[p.Service], labelOf(p.SrcIP, p.Time))
		}
	}
	if len(ips) <= loadIPsChunk {
		return d, nil // one query: each service is in time order already
	}
	for _, svc := range services {
		// one chunk after another: put each service back in time order, as
		// Load returns it and the window slicing expects
		idx := make([]int, len(d.Probes[svc]))
		for i := range idx {
			idx[i] = i
		}
		ps, os := d.Probes[svc], d.Orgs[svc]
		slices.SortStableFunc(idx, func(a, b int) int { return ps[a].Time.Compare(ps[b].Time) })
		sp, so := make([]probe.Probe, len(idx)), make([]string, len(idx))
		for i, j := range idx {
			sp[i], so[i] = ps[j], os[j]
		}
		d.Probes[svc], d.Orgs[svc] = sp, so
	}
	return d, nil
}

// loadIPsChunk is how many addresses one query of LoadIPs names (SQLite
// and PostgreSQL take tens of thousands of parameters; the API asks for at
// most 1,000 IPs at once).
const loadIPsChunk = 1000
