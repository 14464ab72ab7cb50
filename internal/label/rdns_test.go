package label

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedResolver answers from a table and counts queries; it never
// touches the network.
type scriptedResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   []string
	block   bool // wait for the query's deadline
}

func (s *scriptedResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	s.mu.Lock()
	s.calls = append(s.calls, addr)
	names, ok := s.answers[addr]
	block := s.block
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !ok {
		return nil, errors.New("no PTR record")
	}
	return names, nil
}

type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func TestRDNSCacheAndRateLimit(t *testing.T) {
	res := &scriptedResolver{answers: map[string][]string{
		"162.142.125.10": {"scanner-10.ch1.Censys-Scanner.com."},
		"65.49.1.20":     {"scan-20.shadowserver.org."},
		"192.0.2.1":      {"host.example.net.", "bad name!"},
	}}
	clock := &fakeClock{now: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	d := NewRDNS(res, RDNSOptions{Interval: 100 * time.Millisecond, CacheTTL: time.Hour, Now: clock.Now, Sleep: clock.Sleep})
	ctx := context.Background()
	reg := DefaultRegistry()

	org, name, err := d.OrgOf(ctx, reg, netip.MustParseAddr("162.142.125.10"))
	if err != nil || org != "censys" || name != "scanner-10.ch1.censys-scanner.com" {
		t.Fatalf("censys: %q %q %v", org, name, err)
	}
	org, _, err = d.OrgOf(ctx, reg, netip.MustParseAddr("::ffff:65.49.1.20"))
	if err != nil || org != "shadowserver" {
		t.Fatalf("shadowserver: %q %v", org, err)
	}
	names, err := d.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || strings.Join(names, ",") != "host.example.net" {
		t.Errorf("names %v %v (an invalid name must be dropped)", names, err)
	}
	if _, err := d.Lookup(ctx, netip.MustParseAddr("192.0.2.2")); err == nil {
		t.Error("missing PTR gave no error")
	}
	// Four queries 100 ms apart: the clock never advanced by itself, so
	// each query after the first waited its turn.
	if len(clock.sleeps) != 3 {
		t.Errorf("sleeps %v, want 3 waits", clock.sleeps)
	}
	// Cached: answers and failures alike, until the TTL runs out.
	d.Lookup(ctx, netip.MustParseAddr("162.142.125.10"))
	d.Lookup(ctx, netip.MustParseAddr("192.0.2.2"))
	if len(res.calls) != 4 {
		t.Errorf("%d resolver calls, want 4 (cache)", len(res.calls))
	}
	clock.now = clock.now.Add(2 * time.Hour)
	d.Lookup(ctx, netip.MustParseAddr("162.142.125.10"))
	if len(res.calls) != 5 {
		t.Errorf("%d resolver calls after TTL, want 5", len(res.calls))
	}
}

func TestRDNSTimeout(t *testing.T) {
	res := &scriptedResolver{block: true}
	d := NewRDNS(res, RDNSOptions{Timeout: 20 * time.Millisecond})
	start := time.Now()
	_, err := d.Lookup(context.Background(), netip.MustParseAddr("192.0.2.9"))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want a deadline error, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("timeout not applied")
	}
}

func TestStorePTRAndImportPTR(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestDB(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)
	org, err := db.StorePTR(ctx, netip.MustParseAddr("198.20.69.74"), "census1.shodan.io", at)
	if err != nil || org != "shodan" {
		t.Fatalf("StorePTR: %q %v", org, err)
	}
	if org, err := db.StorePTR(ctx, netip.MustParseAddr("192.0.2.1"), "mail.example.com", at); err != nil || org != "" {
		t.Fatalf("StorePTR of an unknown name: %q %v", org, err)
	}
	rep, err := db.Import(ctx, strings.NewReader("ip,ptr\n167.94.138.5,scanner-5.ch1.censys-scanner.com\n192.0.2.1,other.example.com\n"), "dump.csv", ImportOptions{})
	if err != nil || rep.Format != FormatPTR || rep.Labels != 1 || rep.PTRs != 2 {
		t.Fatalf("PTR import: %+v %v", rep, err)
	}
	name, ok, err := db.PTR(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || !ok || name != "other.example.com" {
		t.Errorf("stored PTR %q %v %v (a newer dump replaces the name)", name, ok, err)
	}
	r, err := db.Resolver(ctx, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if org, _ := r.Lookup(netip.MustParseAddr("198.20.69.74"), at); org != "shodan" {
		t.Errorf("live PTR label: %q", org)
	}
	if _, ok := r.Lookup(netip.MustParseAddr("198.20.69.74"), at.AddDate(0, 0, -1)); ok {
		t.Error("live PTR label applies before the day it was seen")
	}
	if org, _ := r.Lookup(netip.MustParseAddr("167.94.138.5"), at); org != "censys" {
		t.Errorf("PTR dump label: %q", org)
	}
}
