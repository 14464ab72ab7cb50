package sensor

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// testKey is the cookie-tag key of every test sensor.
var testKey = []byte("0123456789abcdef0123456789abcdef")

const testSensor = "hp-test"

var (
	certOnce sync.Once
	testCert tls.Certificate
)

// sharedCert is one ECDSA certificate for every test sensor (an RSA key per
// test would cost seconds on a loaded machine).
func sharedCert(t testing.TB) *tls.Certificate {
	certOnce.Do(func() {
		var err error
		if testCert, err = SelfSigned("localhost", true); err != nil {
			t.Fatal(err)
		}
	})
	return &testCert
}

// harness is a sensor on loopback ports the kernel chose, storing into a
// fresh SQLite file.
type harness struct {
	t      testing.TB
	s      *Sensor
	st     *store.SQL
	sink   *recordingSink
	cancel context.CancelFunc
	done   chan error
	stats  Stats
}

// startSensor serves every service on 127.0.0.1 (port 0) unless cfg names
// listeners, with test defaults for what cfg leaves zero.
func startSensor(t testing.TB, cfg Config) *harness {
	t.Helper()
	if len(cfg.Listen) == 0 {
		for _, svc := range ServiceNames {
			cfg.Listen = append(cfg.Listen, Listen{Service: svc, Addr: "127.0.0.1:0"})
		}
	}
	if cfg.Sensor == "" {
		cfg.Sensor = testSensor
	}
	if cfg.Tagger == nil {
		cfg.Tagger = label.NewTagger(testKey, cfg.Sensor)
	}
	if cfg.Certificate == nil {
		cfg.Certificate = sharedCert(t)
	}
	if cfg.FlushEvery == 0 {
		cfg.FlushEvery = 20 * time.Millisecond
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "sensor.db"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, s: s, st: st, sink: &recordingSink{SQL: st}, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- s.Run(ctx, h.sink) }()
	t.Cleanup(func() {
		h.stop()
		st.Close()
	})
	return h
}

// addr is where the sensor listens for service over network.
func (h *harness) addr(service, network string) netip.AddrPort {
	h.t.Helper()
	for _, b := range h.s.Addrs() {
		if b.Service == service && b.Network == network {
			return b.Addr
		}
	}
	h.t.Fatalf("no %s listener over %s", service, network)
	return netip.AddrPort{}
}

func (h *harness) port(service string) string {
	return portOf(h.addr(service, "tcp"))
}

func portOf(ap netip.AddrPort) string { return ap.String()[len(ap.Addr().String())+1:] }

// stop stops the sensor (once) and returns its final counters.
func (h *harness) stop() Stats {
	h.t.Helper()
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("sensor run: %v", err)
			}
		case <-time.After(30 * time.Second):
			h.t.Fatal("sensor did not stop within 30 s")
		}
		h.stats = h.s.Stats()
		if h.stats.Panics != 0 {
			h.t.Errorf("sensor recovered from %d panics", h.stats.Panics)
		}
	}
	return h.stats
}

// probes stops the sensor, so everything it received is stored, and
// returns the stored probes in time order.
func (h *harness) probes() []probe.Probe {
	h.t.Helper()
	h.stop()
	var out []probe.Probe
	for p, err := range h.st.Probes(context.Background(), store.ProbeQuery{}) {
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// only returns the probes of one service, failing unless there are n.
func only(t testing.TB, ps []probe.Probe, service string, n int) []probe.Probe {
	t.Helper()
	var out []probe.Probe
	for _, p := range ps {
		if p.Service == service {
			out = append(out, p)
		}
	}
	if len(out) != n {
		var got []string
		for _, p := range ps {
			got = append(got, p.Service+":"+probe.Summary(p))
		}
		t.Fatalf("want %d %s probes, stored %d: %q", n, service, len(out), got)
	}
	return out
}

// need returns the path of a client program or skips the test.
func need(t testing.TB, prog, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s; .ci/run installs it): skipping the real-client test", prog, pkg)
	}
	return path
}

// run runs a client with a time bound and returns its output; a client
// that fails is fine (a honeypot ends conversations early), one that hangs
// is not.
func run(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish in 30 s: %s", name, args, out)
	}
	return string(out), err
}

// dialFrom connects to addr from a chosen loopback source address, so one
// test can play many scanners.
func dialFrom(t testing.TB, src string, addr netip.AddrPort) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fieldValue(p probe.Probe, name string) string { return p.Fields.Value(name) }

func sortedServices(ps []probe.Probe) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Service)
	}
	slices.Sort(out)
	return out
}

// recordingSink is the store, remembering the payload length of every
// probe handed to it (the store keeps only the first 4 KiB of the bytes).
type recordingSink struct {
	*store.SQL
	mu   sync.Mutex
	lens []int
}

func (r *recordingSink) InsertProbes(ctx context.Context, ps []probe.Probe) (int, error) {
	r.mu.Lock()
	for _, p := range ps {
		r.lens = append(r.lens, len(p.Payload))
	}
	r.mu.Unlock()
	return r.SQL.InsertProbes(ctx, ps)
}

func (r *recordingSink) lengths() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lens)
}
