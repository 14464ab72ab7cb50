package label

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// PTR returns the stored reverse-DNS name of addr.
func (s *LabelDB) PTR(ctx context.Context, addr netip.Addr) (name string, ok bool, err error) {
	return s.st.PTR(ctx, addr)
}

// PTRLookuper is the part of *net.Resolver that live reverse DNS needs;
// tests inject their own.
type PTRLookuper interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// RDNSOptions bound live reverse-DNS resolution.
type RDNSOptions struct {
	// Timeout bounds one query (default 3 s).
	Timeout time.Duration
	// Interval is the least time between two queries (default 50 ms,
	// i.e. at most 20 queries per second), so bulk lookups do not flood
	// the resolver.
	Interval time.Duration
	// CacheTTL keeps answers, failures included (default 24 h).
	CacheTTL time.Duration
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
	// Sleep waits (default: a context-aware timer); tests record it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// RDNS resolves PTR names live, with a cache, a rate limit and a timeout
// per query. It is safe for concurrent use.
type RDNS struct {
	res  PTRLookuper
	opts RDNSOptions

	mu    sync.Mutex
	cache map[netip.Addr]rdnsEntry
	next  time.Time // earliest time of the next query
}

type rdnsEntry struct {
	names []string
	err   error
	at    time.Time
}

// NewRDNS wraps res (usually net.DefaultResolver).
func NewRDNS(res PTRLookuper, opts RDNSOptions) *RDNS {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 50 * time.Millisecond
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return &RDNS{res: res, opts: opts, cache: map[netip.Addr]rdnsEntry{}}
}

// Lookup returns the PTR names of addr (lower case, no trailing dot),
// from the cache when fresh.
func (d *RDNS) Lookup(ctx context.Context, addr netip.Addr) ([]string, error) {
	addr = addr.Unmap()
	d.mu.Lock()
	now := d.opts.Now()
	if e, ok := d.cache[addr]; ok && now.Sub(e.at) < d.opts.CacheTTL {
		d.mu.Unlock()
		return e.names, e.err
	}
	wait := d.next.Sub(now)
	start := now
	if wait > 0 {
		start = d.next
	}
	d.next = start.Add(d.opts.Interval)
	d.mu.Unlock()
	if wait > 0 {
		if err := d.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	qctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	raw, err := d.res.LookupAddr(qctx, addr.String())
	if ctx.Err() != nil {
		return nil, ctx.Err() // the caller gave up: do not cache that
	}
	var names []string
	for _, n := range raw {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if validHostname(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if err != nil {
		err = fmt.Errorf("reverse DNS of %s: %w", addr, err)
	}
	d.mu.Lock()
	d.cache[addr] = rdnsEntry{names: names, err: err, at: d.opts.Now()}
	d.mu.Unlock()
	return names, err
}

// OrgOf resolves addr and maps the first matching name to an org.
func (d *RDNS) OrgOf(ctx context.Context, reg *Registry, addr netip.Addr) (org, name string, err error) {
	names, err := d.Lookup(ctx, addr)
	for _, n := range names {
		if o, ok := reg.OrgForPTR(n); ok {
			return o, n, nil
		}
	}
	if len(names) > 0 {
		return "", names[0], err
	}
	return "", "", err
}

// StorePTR records live answers and the labels they imply (source
// "rdns-live", valid from the day of the answer) in one transaction.
func (s *LabelDB) StorePTR(ctx context.Context, addr netip.Addr, name string, at time.Time) (org string, err error) {
	addr = addr.Unmap()
	set := store.LabelSet{Origin: "live", PTRs: []store.PTRRecord{{Addr: addr, Name: name}}, At: at}
	if o, ok := s.reg.OrgForPTR(name); ok {
		org = o
		l := Label{Prefix: netip.PrefixFrom(addr, addr.BitLen()), Org: o, Source: "rdns-live",
			ValidFrom: at.UTC().Truncate(24 * time.Hour), Note: name}
		if set.Labels, err = records([]Label{l}); err != nil {
			return "", err
		}
	}
	if _, err := s.st.WriteLabels(ctx, store.LabelWrite{Sets: []store.LabelSet{set}}); err != nil {
		return "", err
	}
	return org, nil
}
