package abuse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// fakeClock advances only when the client sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 8, 10, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.sleeps = append(c.sleeps, d)
		c.now = c.now.Add(d)
	}
	return nil
}

// checkBody is a check answer in the documented shape (verbose).
func checkBody(ip string, score int) string {
	return fmt.Sprintf(`{"data":{"ipAddress":%q,"isPublic":true,"ipVersion":4,"isWhitelisted":false,
"abuseConfidenceScore":%d,"countryCode":"US","countryName":"United States","usageType":"Data Center/Web Hosting/Transit",
"isp":"Example Hosting","domain":"example.net","hostnames":["scanner.example.net"],"isTor":false,"totalReports":3,
"numDistinctUsers":2,"lastReportedAt":"2026-08-09T20:55:14+00:00","reports":[
{"reportedAt":"2026-08-09T20:55:14+00:00","comment":"port scan","categories":[14,15],"reporterId":1,"reporterCountryCode":"DE","reporterCountryName":"Germany"},
{"reportedAt":"2026-08-08T10:00:00+00:00","comment":"","categories":[14],"reporterId":2,"reporterCountryCode":"FR","reporterCountryName":"France"},
{"reportedAt":"2026-08-07T10:00:00+00:00","comment":"ssh","categories":[18,22],"reporterId":3,"reporterCountryCode":"FR","reporterCountryName":"France"}]}}`, ip, score)
}

const (
	body401 = `{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.","status":401}]}`
	body422 = `{"errors":[{"detail":"The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).","status":422,"source":{"parameter":"ipAddress"}}]}`
	body429 = `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.","status":429}]}`
)

// server answers with handle and counts the requests.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newServer(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		n := len(s.reqs)
		s.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func answer(w http.ResponseWriter, status int, body string, headers ...string) {
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func newTestClient(t *testing.T, s *server, clock Clock, opts Options) *Client {
	t.Helper()
	opts.BaseURL, opts.Clock = s.URL, clock
	c, err := NewClient("test-key", opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var ip1 = netip.MustParseAddr("198.51.100.7")

func TestCheckDocumentedAnswer(t *testing.T) {
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		answer(w, 200, checkBody(r.URL.Query().Get("ipAddress"), 42), "X-RateLimit-Limit", "1000", "X-RateLimit-Remaining", "999")
	})
	clock := newFakeClock()
	c := newTestClient(t, s, clock, Options{})
	got, err := c.Check(context.Background(), ip1)
	if err != nil {
		t.Fatal(err)
	}
	want := Check{IP: "198.51.100.7", Score: 42, CountryCode: "US", UsageType: "Data Center/Web Hosting/Transit", ISP: "Example Hosting",
		Domain: "example.net", TotalReports: 3, DistinctUsers: 2, LastReportedAt: time.Date(2026, 8, 9, 20, 55, 14, 0, time.UTC),
		Categories: []int{14, 15, 18, 22}, CheckedAt: clock.Now(), Source: "api"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("check\n%+v\nwant\n%+v", got, want)
	}
	r := s.reqs[0]
	if r.URL.Path != "/check" || r.Header.Get("Key") != "test-key" || r.Header.Get("Accept") != "application/json" {
		t.Errorf("request %s %v", r.URL, r.Header)
	}
	q := r.URL.Query()
	if q.Get("ipAddress") != "198.51.100.7" || q.Get("maxAgeInDays") != "90" || !q.Has("verbose") || strings.Contains(r.URL.RawQuery, "test-key") {
		t.Errorf("query %s", r.URL.RawQuery)
	}
	// An IPv6 address travels URL-encoded.
	if _, err := c.Check(context.Background(), netip.MustParseAddr("2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if s.reqs[1].URL.Query().Get("ipAddress") != "2001:db8::1" {
		t.Errorf("IPv6 query %s", s.reqs[1].URL.RawQuery)
	}
}

func TestCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		want     error
		requests int
	}{
		{"wrong key", 401, body401, ErrUnauthorized, 1},
		{"rejected IP", 422, body422, ErrRejected, 1},
		{"quota spent", 429, body429, ErrQuota, 1}, // Retry-After of hours: no wait
		{"server down", 503, `<html>busy</html>`, nil, 5},
		{"malformed JSON", 200, `{"data": {"ipAddress": "198.51.100.7", "abuseConfidenceScore": `, nil, 1},
		{"score out of range", 200, strings.Replace(checkBody("198.51.100.7", 0), `"abuseConfidenceScore":0`, `"abuseConfidenceScore":140`, 1), nil, 1},
		{"other IP", 200, checkBody("192.0.2.1", 0), nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if tc.status == 429 {
					w.Header().Set("Retry-After", "43200")
				}
				answer(w, tc.status, tc.body)
			})
			clock := newFakeClock()
			_, err := newTestClient(t, s, clock, Options{}).Check(context.Background(), ip1)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "198.51.100.7") {
				t.Errorf("%q does not name the IP", err)
			}
			if s.count() != tc.requests {
				t.Errorf("%d requests, want %d", s.count(), tc.requests)
			}
			if tc.name == "server down" && !slices.Equal(clock.sleeps, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}) {
				t.Errorf("sleeps %v", clock.sleeps)
			}
		})
	}
}

func TestRetryAfterAndBackoff(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			answer(w, 429, body429, "Retry-After", "7")
		case 2, 3:
			answer(w, 502, "bad gateway")
		default:
			answer(w, 200, checkBody("198.51.100.7", 100))
		}
	})
	clock := newFakeClock()
	got, err := newTestClient(t, s, clock, Options{}).Check(context.Background(), ip1)
	if err != nil || got.Score != 100 {
		t.Fatalf("check %+v, %v", got, err)
	}
	// Retry-After 7 s, then the backoff from 1 s doubled at each try.
	if want := []time.Duration{7 * time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(clock.sleeps, want) {
		t.Errorf("sleeps %v, want %v", clock.sleeps, want)
	}
	// An HTTP-date Retry-After counts too.
	if d := parseRetryAfter(clock.Now().Add(90*time.Second).Format(http.TimeFormat), clock.Now()); d != 90*time.Second {
		t.Errorf("HTTP-date Retry-After %s", d)
	}
}

func TestSlowAnswerAndCancel(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newTestClient(t, s, newFakeClock(), Options{}).Check(ctx, ip1)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled check: %v after %s", err, time.Since(start))
	}
	// A client timeout (no cancel) is a failed check, retried, then reported.
	c := newTestClient(t, s, newFakeClock(), Options{HTTP: &http.Client{Timeout: 50 * time.Millisecond}, Retries: 1})
	if _, err := c.Check(context.Background(), ip1); err == nil || !strings.Contains(err.Error(), "198.51.100.7") {
		t.Errorf("slow answer: %v", err)
	}
}

func TestOversizedAnswer(t *testing.T) {
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		answer(w, 200, `{"data":{"ipAddress":"198.51.100.7","x":"`+strings.Repeat("a", MaxResponseBytes)+`"}}`)
	})
	if _, err := newTestClient(t, s, newFakeClock(), Options{}).Check(context.Background(), ip1); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized answer: %v", err)
	}
}

func TestDailyLimit(t *testing.T) {
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		answer(w, 200, checkBody(r.URL.Query().Get("ipAddress"), 0))
	})
	clock := newFakeClock()
	// 3 a day, 1 spent already: 2 go at once, the third waits 8 h.
	c := newTestClient(t, s, clock, Options{DailyLimit: 3, UsedToday: 1})
	for i := range 2 {
		if _, err := c.Check(context.Background(), netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("waited %v within the quota", clock.sleeps)
	}
	_, err := c.Check(context.Background(), ip1)
	if !errors.Is(err, ErrQuota) || !strings.Contains(err.Error(), "daily limit of 3") {
		t.Errorf("over the daily limit: %v", err)
	}
	if s.count() != 2 {
		t.Errorf("%d requests, want 2", s.count())
	}
	// Willing to wait: the check goes after the refill.
	c = newTestClient(t, s, clock, Options{DailyLimit: 3, UsedToday: 3, MaxWait: 9 * time.Hour})
	if _, err := c.Check(context.Background(), ip1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(clock.sleeps, []time.Duration{8 * time.Hour}) {
		t.Errorf("sleeps %v, want 8h", clock.sleeps)
	}
}

func TestRemainingZeroStops(t *testing.T) {
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		answer(w, 200, checkBody(r.URL.Query().Get("ipAddress"), 0), "X-RateLimit-Remaining", "0")
	})
	c := newTestClient(t, s, newFakeClock(), Options{})
	if _, err := c.Check(context.Background(), ip1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(context.Background(), ip1); !errors.Is(err, ErrQuota) || s.count() != 1 {
		t.Errorf("after X-RateLimit-Remaining 0: %v, %d requests", err, s.count())
	}
}

func TestNoKey(t *testing.T) {
	if _, err := NewClient(" \n", Options{}); err == nil {
		t.Error("a client without a key")
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRunCacheAndQuota: fresh checks are kept, stale and missing ones are
// checked; a quota spent mid-run keeps what was checked and a rerun
// continues with the rest.
func TestRunCacheAndQuota(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newFakeClock()
	now := clock.Now()
	if err := st.PutAbuseChecks(ctx, []Check{
		{IP: "198.51.100.1", Score: 10, CheckedAt: now.Add(-10 * 24 * time.Hour), Source: "api"},
		{IP: "198.51.100.2", Score: 20, CheckedAt: now.Add(-40 * 24 * time.Hour), Source: "api"},
	}); err != nil {
		t.Fatal(err)
	}
	quota := 2 // answers before the quota is spent
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		ip := r.URL.Query().Get("ipAddress")
		switch {
		case ip == "198.51.100.4":
			answer(w, 422, body422)
		case n > quota:
			answer(w, 429, body429, "Retry-After", "43200")
		default:
			answer(w, 200, checkBody(ip, 50))
		}
	})
	var ips []netip.Addr
	for _, s := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6", "10.1.2.3", "198.51.100.3"} {
		ips = append(ips, netip.MustParseAddr(s))
	}
	c := newTestClient(t, s, clock, Options{})
	rep, err := Run(ctx, c, st, ips, 30*24*time.Hour, nil)
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("run: %v", err)
	}
	// .2 (stale) and .3 checked; .4 rejected; .5 hits the quota.
	if rep.Wanted != 7 || rep.Fresh != 1 || rep.Private != 1 || rep.Checked != 2 || len(rep.Rejected) != 1 || rep.Left != 2 ||
		!strings.Contains(rep.Rejected[0], "198.51.100.4") || !strings.Contains(rep.Stopped, "198.51.100.5") {
		t.Fatalf("report %+v", rep)
	}
	stored, _ := st.AbuseChecks(ctx)
	if len(stored) != 3 || stored[1].Score != 50 || !stored[1].CheckedAt.Equal(now) || stored[0].Score != 10 {
		t.Fatalf("stored %+v", stored)
	}
	if n, _ := st.AbuseAPIChecksSince(ctx, now.Truncate(24*time.Hour)); n != 2 {
		t.Errorf("%d API checks today, want 2", n)
	}
	// The next day the quota is back: the rerun checks only .4 (rejected
	// again) and what was left.
	quota = 100
	clock.Sleep(ctx, 24*time.Hour)
	before := s.count()
	rep, err = Run(ctx, newTestClient(t, s, clock, Options{}), st, ips, 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fresh != 3 || rep.Checked != 2 || len(rep.Rejected) != 1 || s.count()-before != 3 {
		t.Errorf("rerun %+v, %d requests", rep, s.count()-before)
	}
}

// TestRunStopsOnWrongKey: a wrong key stops at the first IP.
func TestRunStopsOnWrongKey(t *testing.T) {
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) { answer(w, 401, body401) })
	ips := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")}
	rep, err := Run(context.Background(), newTestClient(t, s, newFakeClock(), Options{}), openStore(t), ips, time.Hour, nil)
	if !errors.Is(err, ErrUnauthorized) || s.count() != 1 || rep.Left != 2 || !strings.Contains(rep.Stopped, "Authentication failed") {
		t.Errorf("wrong key: %v, %d requests, %+v", err, s.count(), rep)
	}
}

// TestStoreKeepsNewer: an older check never replaces a newer one.
func TestStoreKeepsNewer(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	st.PutAbuseChecks(ctx, []Check{{IP: "198.51.100.1", Score: 80, CheckedAt: t0, Source: "api", Categories: []int{14, 18}, LastReportedAt: t0}})
	st.PutAbuseChecks(ctx, []Check{{IP: "198.51.100.1", Score: 5, CheckedAt: t0.Add(-time.Hour), Source: "old.jsonl"}})
	got, err := st.AbuseChecks(ctx)
	if err != nil || len(got) != 1 || got[0].Score != 80 || !slices.Equal(got[0].Categories, []int{14, 18}) || !got[0].LastReportedAt.Equal(t0) {
		t.Errorf("stored %+v, %v", got, err)
	}
}
