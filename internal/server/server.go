// Package server is the HTTP face of `scannergrouper serve`: the lookup
// API (/v1/...), Prometheus metrics, health, and the dashboard from
// embedded assets. It reads through a store handle of its own and keeps the
// loaded models and labels in memory (app.Lookup), reloaded when the cycle
// publishes new models.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Limits of the API.
const (
	// MaxBatch is the most IPs one POST /v1/ip may ask about.
	MaxBatch = 1000
	// MaxBody bounds a request body (a batch of 1,000 IPv6 addresses in
	// JSON is under 48 KiB; label files are larger).
	MaxBody      = 64 << 10
	MaxLabelBody = 16 << 20
)

// Config is what a Server serves.
type Config struct {
	// Store is the server's own handle (store.OpenReader): reads run
	// beside the cycle's writes.
	Store store.Store
	// Models returns the current models folder ("" before the first
	// training).
	Models func() string
	// ListTTL: an IP leaves an organisation's list this long after the
	// end of the last window that attributed it to the organisation.
	ListTTL time.Duration
	// Period is the update period (weekly trends are per period).
	Period time.Duration
	// Origin returns the start of the first period (zero: none yet).
	Origin func() time.Time
	// Token, when set, is the bearer token of state-changing endpoints
	// (without one they are refused: 403); with ProtectReads, of every
	// /v1 endpoint and /metrics too.
	Token        string
	ProtectReads bool
	// Rate and Burst bound the requests per second of one client address
	// (Rate 0: unlimited).
	Rate  float64
	Burst int
	// Analysis is the folder of the latest still-unknown analysis
	// (clusters.json, figures).
	Analysis string
	// Trigger asks the cycle to poll and update now (POST /v1/update).
	Trigger func() error
	// ImportLabels imports a label file (POST /v1/labels) through the
	// writer's store handle.
	ImportLabels func(ctx context.Context, r io.Reader, name string) (any, error)
	// Status returns the cycle's state for /v1/stats.
	Status func() app.CycleState
	Log    *slog.Logger
	Now    func() time.Time
	// Metrics, when set, is where the server records; New makes one
	// otherwise.
	Metrics *Metrics
}

// Server serves the API, metrics and dashboard.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	metrics *Metrics

	mu sync.Mutex // serialises loading the lookup
	// loaded is the lookup over the current models (nil: not loaded).
	loaded atomic.Pointer[loadedLookup]
	// cache of explanations (their JSON and a newline, as served) of the
	// current generation, bounded in entries and bytes
	gen       atomic.Uint64
	cache     sync.Map // cacheKey → []byte
	size      atomic.Int64
	sizeBytes atomic.Int64

	limMu    sync.Mutex
	limiters map[netip.Addr]*rate.Limiter
}

type cacheKey struct {
	gen uint64
	ip  netip.Addr
}

// loadedLookup is a lookup and the models folder it was loaded from.
type loadedLookup struct {
	lk  *app.Lookup
	dir string
}

// The cache keeps at most maxCache explanations and maxCacheBytes of them
// (an explanation's JSON is 1–10 KiB); past either, lookups are computed
// and not kept until the next invalidation.
const (
	maxCache      = 100_000
	maxCacheBytes = 256 << 20
)

// New builds a server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ListTTL == 0 {
		cfg.ListTTL = 30 * 24 * time.Hour
	}
	if cfg.Period == 0 {
		cfg.Period = app.Week
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.Rate*2))
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), limiters: map[netip.Addr]*rate.Limiter{}}
	s.metrics = cfg.Metrics
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	s.metrics.store = cfg.Store
	s.routes()
	return s
}

// Metrics is the server's metrics registry.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Invalidate drops cached models, labels and explanations: new models,
// labels or probes.
func (s *Server) Invalidate() {
	s.mu.Lock()
	s.loaded.Store(nil)
	s.mu.Unlock()
	s.Forget()
}

// Forget drops cached explanations only (new probes). An explanation
// computed before it is stored under the generation it began in, never
// read again.
func (s *Server) Forget() {
	s.gen.Add(1)
	s.cache.Clear()
	s.size.Store(0)
	s.sizeBytes.Store(0)
}

func (s *Server) routes() {
	s.handle("GET /healthz", "healthz", false, s.healthz)
	s.handle("GET /v1/ip/{ip}", "ip", true, s.getIP)
	s.handle("GET /v1/ip/{ip}/history", "ip_history", true, s.ipHistory)
	s.handle("POST /v1/ip", "ip_batch", true, s.postIP)
	s.handle("GET /v1/orgs", "orgs", true, s.orgs)
	s.handle("GET /v1/orgs/{org}/ips", "org_ips", true, s.orgIPs)
	s.handle("GET /v1/stats", "stats", true, s.stats)
	s.handle("GET /v1/clusters", "clusters", true, s.clusters)
	s.handle("GET /v1/clusters/figures/{name}", "cluster_figure", true, s.clusterFigure)
	s.handle("POST /v1/update", "update", false, s.auth(true, s.update))
	s.handle("POST /v1/labels", "labels", false, s.auth(true, s.importLabels))
	s.handle("GET /metrics", "metrics", true, s.metrics.handler().ServeHTTP)
	s.handle("GET /{$}", "dashboard", false, s.dashboard)
	s.handle("GET /assets/{name}", "assets", false, s.asset)
}

// handle registers h with rate limiting, latency metrics and, for reads
// when ProtectReads is set, the token.
func (s *Server) handle(pattern, route string, read bool, h http.HandlerFunc) {
	if read {
		h = s.auth(false, h)
	}
	ok := s.metrics.api.WithLabelValues(route, "200") // resolved once: most answers
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		if s.allow(r) {
			h(rec, r)
		} else {
			rec.Header().Set("Retry-After", "1")
			fail(rec, http.StatusTooManyRequests, "too many requests from this address")
		}
		if rec.code == http.StatusOK {
			ok.Observe(time.Since(t0).Seconds())
		} else {
			s.metrics.observeAPI(route, rec.code, time.Since(t0))
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// allow applies the per-address rate limit.
func (s *Server) allow(r *http.Request) bool {
	if s.cfg.Rate <= 0 {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, _ := netip.ParseAddr(host)
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l := s.limiters[addr]
	if l == nil {
		if len(s.limiters) >= 10_000 {
			clear(s.limiters) // bounded: forgetting a client only forgives it
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)
		s.limiters[addr] = l
	}
	return l.Allow()
}

// auth checks the bearer token: always for state-changing endpoints
// (write), for reads when ProtectReads is set.
func (s *Server) auth(write bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !write && !s.cfg.ProtectReads {
			h(w, r)
			return
		}
		if s.cfg.Token == "" {
			fail(w, http.StatusForbidden, "this endpoint is disabled: the server has no token (--token-file or SCANNERGROUPER_TOKEN)")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scannergrouper"`)
			fail(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
			fail(w, http.StatusForbidden, "wrong token")
			return
		}
		h(w, r)
	}
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()["X-Content-Type-Options"] = nosniff
	s.mux.ServeHTTP(w, r)
}

var nosniff = []string{"nosniff"}

// HTTPServer wraps the handler with timeouts and header limits.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
}

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{Error: fmt.Sprintf(format, args...), Code: code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// errNoModels: nothing trained yet.
var errNoModels = errors.New("no models trained yet: the first period has not closed")

// storeError answers a store failure: 503 when the store is busy or has
// no models yet (try again later), 500 otherwise.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNoModels):
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, "%v", err)
	case busy(err), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "5")
		fail(w, http.StatusServiceUnavailable, "the store is busy, try again: %v", err)
	case errors.Is(err, context.Canceled):
		// the client went away
	default:
		s.cfg.Log.Error("request failed", "path", r.URL.Path, "error", err.Error())
		fail(w, http.StatusInternalServerError, "%v", err)
	}
}

// busy reports a locked SQLite database.
func busy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "(5)")
}

// current returns the lookup over the current models, loading it when
// they changed, and the cache generation to read and write under.
func (s *Server) current(ctx context.Context) (*app.Lookup, uint64, error) {
	dir := ""
	if s.cfg.Models != nil {
		dir = s.cfg.Models()
	}
	if dir == "" {
		return nil, 0, errNoModels
	}
	// The generation is read before the lookup: an Invalidate between the
	// two makes it stale, so nothing computed with the old lookup is
	// stored where the new one's answers are read.
	gen := s.gen.Load()
	if l := s.loaded.Load(); l != nil && l.dir == dir {
		return l.lk, gen, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.loaded.Load(); l != nil && l.dir == dir {
		return l.lk, s.gen.Load(), nil
	}
	lk, err := app.NewLookup(ctx, s.cfg.Store, dir)
	if err != nil {
		return nil, 0, err
	}
	s.loaded.Store(&loadedLookup{lk: lk, dir: dir})
	s.Forget()
	return lk, s.gen.Load(), nil
}

// explain answers for ips with each explanation's JSON followed by a
// newline (as json.Encoder writes it), from the cache where it can.
func (s *Server) explain(ctx context.Context, ips []netip.Addr) ([][]byte, error) {
	lk, gen, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ips))
	var miss []netip.Addr
	var missAt []int
	for i, ip := range ips {
		if e, ok := s.cache.Load(cacheKey{gen, ip}); ok {
			out[i] = e.([]byte)
			s.metrics.cacheHit.Inc()
			continue
		}
		s.metrics.cacheMiss.Inc()
		miss, missAt = append(miss, ip), append(missAt, i)
	}
	if len(miss) == 0 {
		return out, nil
	}
	exps, err := lk.Explain(ctx, miss, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	for j, e := range exps {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		b = append(b, '\n')
		out[missAt[j]] = b
		if s.size.Load() < maxCache && s.sizeBytes.Load() < maxCacheBytes {
			if _, loaded := s.cache.LoadOrStore(cacheKey{gen, miss[j]}, b); !loaded {
				s.size.Add(1)
				s.sizeBytes.Add(int64(len(b)))
			}
		}
	}
	return out, nil
}

// parseIP reads one IP as the CLI does (IPv4-mapped IPv6 unmapped).
func parseIP(sv string) (netip.Addr, error) {
	if len(sv) > 64 {
		return netip.Addr{}, fmt.Errorf("%.64q... is not an IP address", sv)
	}
	a, err := netip.ParseAddr(sv)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", sv)
	}
	return a.Unmap(), nil
}

func (s *Server) getIP(w http.ResponseWriter, r *http.Request) {
	ip, err := parseIP(r.PathValue("ip"))
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	exps, err := s.explain(r.Context(), []netip.Addr{ip})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(exps[0]))}
	w.Write(exps[0])
}

// jsonType is the Content-Type header's value, shared (never changed).
var jsonType = []string{"application/json"}

func (s *Server) postIP(w http.ResponseWriter, r *http.Request) {
	var raw []string
	if !decodeBody(w, r, MaxBody, &raw) {
		return
	}
	if len(raw) == 0 {
		fail(w, http.StatusBadRequest, "empty list: send a JSON array of 1 to %d IP addresses", MaxBatch)
		return
	}
	if len(raw) > MaxBatch {
		fail(w, http.StatusRequestEntityTooLarge, "%d IPs: at most %d in one request", len(raw), MaxBatch)
		return
	}
	ips := make([]netip.Addr, len(raw))
	for i, sv := range raw {
		ip, err := parseIP(sv)
		if err != nil {
			fail(w, http.StatusBadRequest, "element %d: %v", i, err)
			return
		}
		ips[i] = ip
	}
	exps, err := s.explain(r.Context(), ips)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte{'['})
	for i, b := range exps {
		if i > 0 {
			w.Write([]byte{','})
		}
		w.Write(b[:len(b)-1]) // without its newline
	}
	w.Write([]byte("]\n"))
}

// decodeBody reads a JSON body of at most limit bytes into v; false: the
// answer (400, 413, 415) is written.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "Content-Type %q: send application/json", ct)
		return false
	}
	if r.ContentLength > limit {
		fail(w, http.StatusRequestEntityTooLarge, "body of %d bytes: at most %d", r.ContentLength, limit)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(w, http.StatusRequestEntityTooLarge, "body over %d bytes", limit)
		} else {
			fail(w, http.StatusBadRequest, "malformed JSON: %v", err)
		}
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		fail(w, http.StatusBadRequest, "malformed JSON: data after the value")
		return false
	}
	return true
}

func (s *Server) ipHistory(w http.ResponseWriter, r *http.Request) {
	ip, err := parseIP(r.PathValue("ip"))
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	h, err := s.cfg.Store.IPHistory(r.Context(), ip)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, h)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, _, _, err := s.cfg.Store.ProbeSpan(ctx); err != nil {
		fail(w, http.StatusServiceUnavailable, "store: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Trigger == nil {
		fail(w, http.StatusServiceUnavailable, "no cycle runs in this process")
		return
	}
	if err := s.cfg.Trigger(); err != nil {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "update requested"})
}
