package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// httpServer serves a tiny page on a loopback port until the test ends.
func httpServer(t *testing.T) (port int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, port int, ua string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/admin/login.php?x=1", port), nil)
	req.Header.Set("User-Agent", ua)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

type liveRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    LiveResult
	err    error
	ticks  atomic.Int64
	last   atomic.Pointer[LiveResult]
	most   atomic.Int64 // most sessions tracked at a tick
}

// startLive captures on lo with filter; it skips the test, saying why,
// where the process may not capture.
func startLive(t *testing.T, st store.Store, filter string, flushIdle time.Duration, opts capture.Options) *liveRun {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("live capture is Linux-only (AF_PACKET)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	lr := &liveRun{cancel: cancel, done: make(chan struct{})}
	lopts := capture.LiveOptions{Interface: "lo", Filter: filter, FlushIdle: flushIdle, TickEvery: 50 * time.Millisecond}
	go func() {
		defer close(lr.done)
		lr.res, lr.err = RunLive(ctx, st, lopts, opts, func(r LiveResult) {
			lr.last.Store(&r)
			lr.ticks.Add(1)
			if int64(r.Tracked) > lr.most.Load() {
				lr.most.Store(int64(r.Tracked))
			}
		})
	}()
	// Ready once the first tick came: the socket is open, the filter set.
	for deadline := time.Now().Add(5 * time.Second); lr.ticks.Load() == 0; {
		select {
		case <-lr.done:
			if errors.Is(lr.err, capture.ErrNoCapturePermission) {
				t.Skipf("no CAP_NET_RAW here: %v", lr.err)
			}
			t.Fatalf("capture ended before its first tick: %v", lr.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("capture did not tick within 5 s")
		}
	}
	t.Cleanup(lr.stop)
	return lr
}

func (lr *liveRun) stop() {
	lr.cancel()
	<-lr.done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func probesOf(t *testing.T, st store.Store) []probe.Probe {
	t.Helper()
	var out []probe.Probe
	for p, err := range st.Probes(context.Background(), store.ProbeQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestLiveCaptureOnLoopback(t *testing.T) {
	st := openStore(t)
	wanted, other := httpServer(t), httpServer(t)
	lr := startLive(t, st, fmt.Sprintf("tcp port %d", wanted), 0, capture.Options{Sensor: "lo-live"})
	before := time.Now()
	get(t, wanted, "sg-live-test/1.0 (+https://example.org/scanner)")
	get(t, other, "must-not-be-captured/1.0")
	waitFor(t, "the probe to be stored", func() bool { return countProbes(t, st) >= 1 })
	time.Sleep(200 * time.Millisecond) // room for the other port's probe, were the filter wrong
	lr.stop()
	if lr.err != nil {
		t.Fatalf("stopping is a normal end: %v", lr.err)
	}
	// Other processes on this machine may use lo too, even our port number
	// on another address: judge by the probes our clients sent.
	var got []probe.Probe
	for _, p := range probesOf(t, st) {
		if p.DstPort == uint16(other) || p.Fields.Value("User-Agent") == "must-not-be-captured/1.0" {
			t.Fatalf("the filter let through traffic to port %d: %+v", other, p)
		}
		if strings.HasPrefix(p.Fields.Value("User-Agent"), "sg-live-test/") {
			got = append(got, p)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want the filtered port's probe once, got %d: %+v", len(got), got)
	}
	p := got[0]
	if p.Service != "http" || p.Transport != probe.TCP || p.DstPort != uint16(wanted) || p.SrcIP.String() != "127.0.0.1" ||
		p.DstIP.String() != "127.0.0.1" || p.SrcPort == uint16(wanted) || p.Sensor != "lo-live" {
		t.Fatalf("wrong probe: %+v", p)
	}
	if ua := p.Fields.Value("User-Agent"); ua != "sg-live-test/1.0 (+https://example.org/scanner)" {
		t.Errorf("User-Agent %q", ua)
	}
	if u := p.Fields.Value("Url"); u != "/admin/login.php?x=1" {
		t.Errorf("Url %q", u)
	}
	if !strings.HasPrefix(string(p.Payload), "GET /admin/login.php?x=1 HTTP/1.1\r\n") {
		t.Errorf("payload %q", p.Payload)
	}
	if p.SourceFile != "live:lo" || p.Offset < 1 {
		t.Errorf("source %q offset %d", p.SourceFile, p.Offset)
	}
	if p.Time.Before(before.Add(-time.Second)) || p.Time.After(time.Now()) {
		t.Errorf("probe time %v is not the capture's clock (started %v)", p.Time, before)
	}
	r := lr.res
	// Loopback frames are seen once (leaving copies are dropped in the kernel).
	if r.Frames == 0 || r.KernelDrops != 0 || r.Sessions < 1 || r.Probes < 1 || r.Stored != r.Probes || r.Retransmissions != 0 {
		t.Errorf("counters: %+v", r)
	}
}

// A scanner that sends half a request and waits is stored once its session
// goes quiet; one still sending when the capture stops is stored at the stop.
func TestLiveIdleFlushAndStopStoreIncompleteProbes(t *testing.T) {
	st := openStore(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c) // a server that never answers
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	lr := startLive(t, st, fmt.Sprintf("tcp dst port %d or tcp src port %d", port, port), 300*time.Millisecond, capture.Options{})
	send := func(s string) net.Conn {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
		return c
	}
	send("GET /idle HTTP/1.1\r\nHost: x\r\nUser-Agent: half-then-silent\r\n")
	waitFor(t, "the idle session's probe", func() bool { return urls(t, st)["/idle"] != "" })
	// The counters come with the next tick, which may follow the store.
	waitFor(t, "the idle flush counted", func() bool { r := lr.last.Load(); return r != nil && r.IdleFlushed >= 1 })
	c := send("GET /stop HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(100 * time.Millisecond) // captured, well before --flush-idle
	io.WriteString(c, "User-Agent: still-talking\r\n")
	time.Sleep(100 * time.Millisecond)
	lr.stop()
	if lr.err != nil {
		t.Fatal(lr.err)
	}
	if got := urls(t, st); got["/idle"] != "half-then-silent" || got["/stop"] != "still-talking" {
		t.Fatalf("stored %v", got)
	}
}

// urls maps each stored HTTP probe's Url to its User-Agent.
func urls(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, p := range probesOf(t, st) {
		got[p.Fields.Value("Url")] = p.Fields.Value("User-Agent")
	}
	return got
}

// With room for 4 sessions, 12 concurrent ones evict the least recently
// seen (counted), and each evicted session's probe is still stored.
func TestLiveSessionTableIsBounded(t *testing.T) {
	st := openStore(t)
	port := httpServer(t)
	lr := startLive(t, st, fmt.Sprintf("tcp port %d", port), 0, capture.Options{MaxFlows: 4})
	for i := 0; i < 12; i++ { // kept open: 12 sessions at once
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: client-%02d\r\n\r\n", i)
	}
	waitFor(t, "12 probes", func() bool { return countProbes(t, st) >= 12 })
	lr.stop()
	if lr.err != nil {
		t.Fatal(lr.err)
	}
	// Packets of an evicted session start a new one, known to be mid-stream
	// (not a probe): sessions exceed 12, probes do not.
	clients := 0
	for _, p := range probesOf(t, st) {
		if strings.HasPrefix(p.Fields.Value("User-Agent"), "client-") {
			clients++
		}
	}
	if r := lr.res; clients != 12 || r.Evicted < 8 || lr.most.Load() > 4 || r.Sessions < 12 || r.Stored != r.Probes {
		t.Fatalf("counters: clients %d, evicted %d, most tracked %d, sessions %d, probes %d, stored %d", clients, r.Evicted, lr.most.Load(), r.Sessions, r.Probes, r.Stored)
	}
}

func TestLiveErrorsAreClear(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live capture is Linux-only")
	}
	st := openStore(t)
	_, err := RunLive(context.Background(), st, capture.LiveOptions{Interface: "no-such-if0"}, capture.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), `interface "no-such-if0"`) {
		t.Fatalf("unknown interface: %v", err)
	}
	_, err = RunLive(context.Background(), st, capture.LiveOptions{Interface: "lo", Filter: "tcp port http"}, capture.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), `"http" is not a port number`) {
		t.Fatalf("bad filter: %v", err)
	}
}
