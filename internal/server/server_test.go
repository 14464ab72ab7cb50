package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func do(t *testing.T, h http.Handler, method, path string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestLookupIsTheCLIsExplanation: GET /v1/ip/{ip} and POST /v1/ip answer
// with exactly the JSON `scannergrouper ip --json` writes (app.Lookup,
// encoded the same way), first computed, then from the cache.
func TestLookupIsTheCLIsExplanation(t *testing.T) {
	srv, f := newTestServer(t, nil)
	st, err := store.Open(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lk, err := app.NewLookup(context.Background(), st, f.models)
	if err != nil {
		t.Fatal(err)
	}
	notSeen := netip.MustParseAddr("192.0.2.77")
	ips := []netip.Addr{netip.MustParseAddr(f.attributed), f.ips[len(f.ips)-1], notSeen}
	exps, err := lk.Explain(context.Background(), ips, zeroTime, zeroTime)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i, ip := range ips {
			var want bytes.Buffer
			json.NewEncoder(&want).Encode(exps[i])
			rec := do(t, srv, "GET", "/v1/ip/"+ip.String(), nil)
			if rec.Code != 200 || rec.Body.String() != want.String() {
				t.Fatalf("round %d, %s: %d\n%s\nwant\n%s", round, ip, rec.Code, rec.Body, want.String())
			}
		}
	}
	if exps[0].Org != f.org || exps[2].Classification != app.ClassNotSeen {
		t.Fatalf("verdicts %s/%s, %s; want %s and not-seen", exps[0].Org, exps[0].Classification, exps[2].Classification, f.org)
	}
	body, _ := json.Marshal([]string{ips[0].String(), ips[1].String(), notSeen.String()})
	rec := do(t, srv, "POST", "/v1/ip", bytes.NewReader(body), "Content-Type", "application/json")
	var batch []pipeline.Explanation
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &batch) != nil || len(batch) != 3 {
		t.Fatalf("POST /v1/ip: %d %s", rec.Code, rec.Body)
	}
	for i := range batch {
		a, _ := json.Marshal(batch[i])
		b, _ := json.Marshal(exps[i])
		if !bytes.Equal(a, b) {
			t.Fatalf("batch element %d differs:\n%s\n%s", i, a, b)
		}
	}
	// IPv4-mapped IPv6 is the IPv4 address, as in the CLI.
	rec = do(t, srv, "GET", "/v1/ip/::ffff:"+ips[0].String(), nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ip":"`+ips[0].String()+`"`) {
		t.Fatalf("mapped address: %d %s", rec.Code, rec.Body)
	}
}

var zeroTime time.Time

// TestHostileInput: every endpoint answers bad input with the status that
// says what is wrong, and keeps serving.
func TestHostileInput(t *testing.T) {
	var triggered int
	srv, _ := newTestServer(t, func(c *Config) {
		c.Token = "s3cret"
		c.Trigger = func() error { triggered++; return nil }
		c.ImportLabels = func(ctx context.Context, r io.Reader, name string) (any, error) {
			b, err := io.ReadAll(r)
			if err != nil {
				return nil, err
			}
			if !bytes.HasPrefix(b, []byte("ip,org")) {
				return nil, errors.New("no ip,org header")
			}
			return map[string]int{"rows": bytes.Count(b, []byte("\n")) - 1}, nil
		}
	})
	many := make([]string, MaxBatch+1)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	manyJSON, _ := json.Marshal(many)
	huge := `["` + strings.Repeat("1", MaxBody) + `"]`
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"malformed IP", "GET", "/v1/ip/999.1.1.1", "", nil, 400},
		{"word for IP", "GET", "/v1/ip/localhost", "", nil, 400},
		{"zoned IPv6", "GET", "/v1/ip/fe80::1%25eth0", "", nil, 400},
		{"NUL in IP", "GET", "/v1/ip/1.2.3.4%00", "", nil, 400},
		{"very long IP", "GET", "/v1/ip/" + strings.Repeat("1", 5000), "", nil, 400},
		{"CIDR for IP", "GET", "/v1/ip/10.0.0.0%2F8", "", nil, 400},
		{"history malformed", "GET", "/v1/ip/x/history", "", nil, 400},
		{"batch not JSON", "POST", "/v1/ip", "1.2.3.4", nil, 400},
		{"batch object", "POST", "/v1/ip", `{"ip":"1.2.3.4"}`, nil, 400},
		{"batch numbers", "POST", "/v1/ip", `[1,2]`, nil, 400},
		{"batch bad element", "POST", "/v1/ip", `["1.2.3.4","nope"]`, nil, 400},
		{"batch empty", "POST", "/v1/ip", `[]`, nil, 400},
		{"batch null", "POST", "/v1/ip", `null`, nil, 400},
		{"batch trailing", "POST", "/v1/ip", `["1.2.3.4"] ["5.6.7.8"]`, nil, 400},
		{"batch too many", "POST", "/v1/ip", string(manyJSON), nil, 413},
		{"batch too large", "POST", "/v1/ip", huge, nil, 413},
		{"batch wrong type", "POST", "/v1/ip", `["1.2.3.4"]`, []string{"Content-Type", "text/xml"}, 415},
		{"unknown org", "GET", "/v1/orgs/no-such-org/ips", "", nil, 404},
		{"org with slash", "GET", "/v1/orgs/..%2F..%2Fetc/ips", "", nil, 404},
		{"bad format", "GET", "/v1/orgs/unknown/ips?format=xml", "", nil, 400},
		{"bad since", "GET", "/v1/orgs/unknown/ips?since=yesterday", "", nil, 400},
		{"figure traversal", "GET", "/v1/clusters/figures/..%2F..%2Fstate.json", "", nil, 404},
		{"figure not an image", "GET", "/v1/clusters/figures/clusters.json", "", nil, 404},
		{"asset traversal", "GET", "/assets/..%2Fserver.go", "", nil, 404},
		{"no such endpoint", "GET", "/v2/everything", "", nil, 404},
		{"wrong method", "DELETE", "/v1/orgs", "", nil, 405},
		{"update without token", "POST", "/v1/update", "", nil, 401},
		{"update wrong token", "POST", "/v1/update", "", bearer("guess"), 403},
		{"update basic auth", "POST", "/v1/update", "", []string{"Authorization", "Basic czNjcmV0"}, 401},
		{"labels without token", "POST", "/v1/labels", "ip,org\n1.2.3.4,shodan\n", nil, 401},
		{"labels garbage", "POST", "/v1/labels", "\x00\x01garbage", bearer("s3cret"), 400},
		{"labels too large", "POST", "/v1/labels", "ip,org\n" + strings.Repeat("1.2.3.4,shodan\n", MaxLabelBody/15+1), bearer("s3cret"), 413},
		{"update with token", "POST", "/v1/update", "", bearer("s3cret"), 202},
		{"labels with token", "POST", "/v1/labels", "ip,org\n1.2.3.4,shodan\n", bearer("s3cret"), 200},
		{"reads stay open", "GET", "/v1/stats", "", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			rec := do(t, srv, c.method, c.path, body, c.hdr...)
			if rec.Code != c.want {
				t.Fatalf("%s %s: %d %s; want %d", c.method, c.path, rec.Code, rec.Body.String()[:min(300, rec.Body.Len())], c.want)
			}
			if c.want >= 400 && !strings.HasPrefix(c.name, "no such endpoint") && c.want != 405 {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != c.want || e.Error == "" {
					t.Fatalf("error body %q is not {error, code}", rec.Body)
				}
			}
			if c.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if triggered != 1 {
		t.Fatalf("update triggered %d times, want 1 (only with the token)", triggered)
	}
	// Still serving after all that.
	if rec := do(t, srv, "GET", "/healthz", nil); rec.Code != 200 {
		t.Fatalf("healthz after hostile input: %d", rec.Code)
	}
}

func TestWriteEndpointsDisabledWithoutToken(t *testing.T) {
	srv, _ := newTestServer(t, func(c *Config) { c.Trigger = func() error { return nil } })
	if rec := do(t, srv, "POST", "/v1/update", nil, "Authorization", "Bearer anything"); rec.Code != 403 {
		t.Fatalf("update without a configured token: %d, want 403", rec.Code)
	}
}

func TestProtectedReads(t *testing.T) {
	srv, f := newTestServer(t, func(c *Config) { c.Token, c.ProtectReads = "tok", true })
	for _, p := range []string{"/v1/ip/" + f.attributed, "/v1/orgs", "/v1/stats", "/metrics"} {
		if rec := do(t, srv, "GET", p, nil); rec.Code != 401 {
			t.Fatalf("%s without token: %d", p, rec.Code)
		}
		if rec := do(t, srv, "GET", p, nil, "Authorization", "Bearer tok"); rec.Code != 200 {
			t.Fatalf("%s with token: %d", p, rec.Code)
		}
	}
	if rec := do(t, srv, "GET", "/healthz", nil); rec.Code != 200 {
		t.Fatalf("healthz is for probes: %d", rec.Code)
	}
}

func TestRateLimit(t *testing.T) {
	srv, _ := newTestServer(t, func(c *Config) { c.Rate, c.Burst = 1, 3 })
	codes := map[int]int{}
	for range 10 {
		codes[do(t, srv, "GET", "/healthz", nil).Code]++
	}
	if codes[200] != 3 || codes[429] != 7 {
		t.Fatalf("codes %v; want 3 × 200 (the burst) then 429", codes)
	}
}

// busyStore answers as a store locked by another process.
type busyStore struct{ store.Store }

var errLocked = errors.New("store: query: database is locked (5) (SQLITE_BUSY)")

func (busyStore) ProbeSpan(context.Context) (a, b time.Time, n int, err error) {
	return a, b, 0, errLocked
}
func (busyStore) IPHistory(context.Context, netip.Addr) (store.IPHistory, error) {
	return store.IPHistory{}, errLocked
}
func (busyStore) WindowCounts(context.Context) ([]store.WindowCount, error) { return nil, errLocked }

func TestBusyStoreAndNoModels(t *testing.T) {
	srv, f := newTestServer(t, func(c *Config) { c.Store = busyStore{c.Store} })
	for _, p := range []string{"/healthz", "/v1/ip/" + f.attributed + "/history", "/v1/orgs", "/v1/stats"} {
		rec := do(t, srv, "GET", p, nil)
		if rec.Code != 503 {
			t.Fatalf("%s on a locked store: %d %s", p, rec.Code, rec.Body)
		}
	}
	srv, f = newTestServer(t, func(c *Config) { c.Models = func() string { return "" } })
	rec := do(t, srv, "GET", "/v1/ip/"+f.attributed, nil)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("lookup before the first training: %d %s", rec.Code, rec.Body)
	}
}
