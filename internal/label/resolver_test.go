package label

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func day(s string) time.Time {
	t, err := ParseDate(s, false)
	if err != nil {
		panic(err)
	}
	return t
}

func TestResolverPolicies(t *testing.T) {
	labels := []Label{
		{Prefix: mustPrefix("10.0.0.0/8"), Org: "censys", Source: "a"},
		{Prefix: mustPrefix("10.1.0.0/16"), Org: "shodan", Source: "b"},
		{Prefix: mustPrefix("10.1.0.0/16"), Org: "shodan", Source: "c"},
		{Prefix: mustPrefix("10.1.2.3/32"), Org: "stretchoid", Source: "c"},
		{Prefix: mustPrefix("2001:db8::/32"), Org: "onyphe", Source: "a"},
		{Prefix: mustPrefix("2001:db8::/32"), Org: "onyphe", Source: "b"},
	}
	type q struct {
		addr, org string
	}
	cases := []struct {
		policy string
		want   []q
	}{
		{"any", []q{{"10.9.9.9", "censys"}, {"10.1.5.5", "shodan"}, {"10.1.2.3", "stretchoid"}, {"2001:db8::5", "onyphe"}, {"11.0.0.1", ""}, {"::ffff:10.1.2.3", "stretchoid"}}},
		// Two sources must agree: censys (one source) drops out; at
		// 10.1.2.3 shodan has two sources (b, c via the /16), stretchoid one.
		{"min:2", []q{{"10.9.9.9", ""}, {"10.1.5.5", "shodan"}, {"10.1.2.3", "shodan"}, {"2001:db8::5", "onyphe"}}},
		{"min:3", []q{{"10.1.5.5", ""}, {"2001:db8::5", ""}}},
		// Source a first: its /8 decides everywhere under it.
		{"priority:a,b", []q{{"10.1.5.5", "censys"}, {"10.1.2.3", "censys"}}},
		// b before a; c unlisted comes last.
		{"priority:b,a", []q{{"10.1.5.5", "shodan"}, {"10.1.2.3", "shodan"}, {"10.9.9.9", "censys"}}},
		{"priority:c", []q{{"10.1.2.3", "stretchoid"}, {"10.1.5.5", "shodan"}}},
	}
	for _, c := range cases {
		pol, err := ParsePolicy(c.policy)
		if err != nil {
			t.Fatal(err)
		}
		if pol.String() != c.policy {
			t.Errorf("policy %q prints as %q", c.policy, pol.String())
		}
		r, err := NewResolver(labels, pol)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			org, ok := r.Lookup(netip.MustParseAddr(w.addr), day("2024-03-01"))
			if org != w.org || ok != (w.org != "") {
				t.Errorf("%s: Lookup(%s) = %q, %v; want %q", c.policy, w.addr, org, ok, w.org)
			}
		}
	}
	for _, bad := range []string{"min:0", "min:x", "priority:", "majority"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

func TestResolverValidity(t *testing.T) {
	// A cloud address first used by stretchoid, then reused by binaryedge;
	// the /24 around it is shadowserver's for 2024 only.
	labels := []Label{
		{Prefix: mustPrefix("198.51.100.7/32"), Org: "stretchoid", Source: "nict", ValidFrom: day("2023-01-01"), ValidUntil: day("2024-01-01")},
		{Prefix: mustPrefix("198.51.100.7/32"), Org: "binaryedge", Source: "nict", ValidFrom: day("2024-04-01"), ValidUntil: day("2024-07-01")},
		{Prefix: mustPrefix("198.51.100.0/24"), Org: "shadowserver", Source: "x", ValidFrom: day("2024-01-01"), ValidUntil: day("2025-01-01")},
	}
	r, err := NewResolver(labels, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr, at, org string
	}{
		{"198.51.100.7", "2022-12-31", ""},
		{"198.51.100.7", "2023-06-01", "stretchoid"},
		{"198.51.100.7", "2024-02-01", "shadowserver"}, // gap between the /32 periods: the /24 holds
		{"198.51.100.7", "2024-04-01", "binaryedge"},
		{"198.51.100.7", "2024-08-01", "shadowserver"},
		{"198.51.100.7", "2025-01-01", ""},
		{"198.51.100.8", "2024-04-01", "shadowserver"},
		{"198.51.100.8", "2023-06-01", ""},
	}
	for _, c := range cases {
		org, ok := r.Lookup(netip.MustParseAddr(c.addr), day(c.at))
		if org != c.org || ok != (c.org != "") {
			t.Errorf("Lookup(%s, %s) = %q, %v; want %q", c.addr, c.at, org, ok, c.org)
		}
	}
	// Zero time: the latest knowledge.
	if org, _ := r.Lookup(netip.MustParseAddr("198.51.100.7"), time.Time{}); org != "shadowserver" {
		t.Errorf("latest org %q, want shadowserver", org)
	}
	// The fingerprint follows the labels.
	if r2, _ := NewResolver(labels, Policy{}); r2.Fingerprint() != r.Fingerprint() {
		t.Error("the same labels give another fingerprint")
	}
	moved := append([]Label(nil), labels...)
	moved[1].ValidUntil = day("2024-08-01")
	if r3, _ := NewResolver(moved, Policy{}); r3.Fingerprint() == r.Fingerprint() {
		t.Error("a label valid longer leaves the fingerprint as it was")
	}
	// Networks are All's entries wider than one address.
	for _, at := range []string{"2023-06-01", "2024-04-01", "2025-06-01"} {
		var all, nets []string
		for p, org := range r.All(day(at)) {
			if !p.IsSingleIP() {
				all = append(all, p.String()+"="+org)
			}
		}
		for p, org := range r.Networks(day(at)) {
			nets = append(nets, p.String()+"="+org)
		}
		if fmt.Sprint(all) != fmt.Sprint(nets) {
			t.Errorf("networks at %s: %v, want %v", at, nets, all)
		}
	}
}

// loadUnified builds the resolver over the full unified list once per test
// binary run.
func loadUnified(tb testing.TB) (*Resolver, []Label) {
	tb.Helper()
	f := sharedtest.Path(tb, "realdata", "scanner_ip_lists", "unified_scanner_ips.csv")
	fh, err := os.Open(f)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	p, err := Parse(fh, f, nil, ImportOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := NewResolver(p.Labels, Policy{})
	if err != nil {
		tb.Fatal(err)
	}
	return r, p.Labels
}

func TestResolverUnifiedList(t *testing.T) {
	r, labels := loadUnified(t)
	if r.Len() < 30000 {
		t.Fatalf("only %d prefixes", r.Len())
	}
	// Every non-NICT /32 labelled by exactly one org resolves to it.
	orgsOf := map[netip.Prefix]map[string]bool{}
	for _, l := range labels {
		if orgsOf[l.Prefix] == nil {
			orgsOf[l.Prefix] = map[string]bool{}
		}
		orgsOf[l.Prefix][l.Org] = true
	}
	checked := 0
	for p, orgs := range orgsOf {
		if !p.IsSingleIP() || len(orgs) != 1 {
			continue
		}
		var want string
		for o := range orgs {
			want = o
		}
		got, ok := r.Lookup(p.Addr(), day("2026-02-01"))
		if !ok || got != want {
			t.Errorf("%s → %q, want %q", p, got, want)
		}
		checked++
	}
	if checked < 20000 {
		t.Errorf("checked only %d addresses", checked)
	}
	// Inside a CIDR but not listed alone.
	if org, _ := r.Lookup(netip.MustParseAddr("162.142.125.77"), time.Time{}); org != "censys" {
		t.Errorf("162.142.125.77 → %q", org)
	}
}

// BenchmarkResolverLookup measures lookups on one goroutine against the
// full unified list: half of the addresses fall in labelled prefixes, half
// are random.
func BenchmarkResolverLookup(b *testing.B) {
	r, labels := loadUnified(b)
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.Addr, 1<<16)
	for i := range addrs {
		if i%2 == 0 {
			l := labels[rng.IntN(len(labels))]
			addrs[i] = l.Prefix.Addr()
		} else {
			var b4 [4]byte
			v := rng.Uint32()
			b4[0], b4[1], b4[2], b4[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
			addrs[i] = netip.AddrFrom4(b4)
		}
	}
	at := day("2026-02-01")
	hits := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := r.Lookup(addrs[i&(len(addrs)-1)], at); ok {
			hits++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
	if hits == 0 {
		b.Fatal("no lookup hit")
	}
}

func BenchmarkNewResolverUnified(b *testing.B) {
	_, labels := loadUnified(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := NewResolver(labels, Policy{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A resolver over only the labels covering an address answers like the
// full one (what `labels lookup` relies on), under every policy and at
// several times.
func TestResolverCoveringSubsetAgrees(t *testing.T) {
	_, labels := loadUnified(t)
	rng := rand.New(rand.NewPCG(7, 7))
	times := []time.Time{{}, day("2025-06-01"), day("2026-02-01")}
	for _, ps := range []string{"any", "min:2", "priority:nict-2026Q1,openfilters"} {
		pol, _ := ParsePolicy(ps)
		full, err := NewResolver(labels, pol)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			addr := labels[rng.IntN(len(labels))].Prefix.Addr()
			var covering []Label
			for _, l := range labels {
				if l.Prefix.Contains(addr) {
					covering = append(covering, l)
				}
			}
			sub, err := NewResolver(covering, pol)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range times {
				a, aok := full.Lookup(addr, at)
				b, bok := sub.Lookup(addr, at)
				if a != b || aok != bok {
					t.Fatalf("%s %s at %v: full %q/%v, covering-only %q/%v", ps, addr, at, a, aok, b, bok)
				}
			}
		}
	}
}

func BenchmarkParseUnified(b *testing.B) {
	f := sharedtest.Path(b, "realdata", "scanner_ip_lists", "unified_scanner_ips.csv")
	data, err := os.ReadFile(f)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse(bytes.NewReader(data), f, nil, ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
