package sensor

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// sources returns n loopback client addresses (127.0.1.1, ...), so a load
// looks like many scanners and stays within the per-address limits.
func sources(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
	}
	return out
}

// hammer makes n HTTP requests (GET /load/<i>), one connection each, from
// srcs with conc workers, and returns how many got a 200 answer.
func hammer(tb testing.TB, addr netip.AddrPort, n, conc int, srcs []string) int64 {
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcs[(int(i)+w)%len(srcs)])}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", addr.String())
				if err != nil {
					continue
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				req := "GET /load/" + strconv.FormatInt(i, 10) + " HTTP/1.1\r\nHost: sensor\r\nUser-Agent: load/1\r\n\r\n"
				if _, err := io.WriteString(c, req); err == nil {
					if m, _ := io.ReadAtLeast(c, buf, 12); m >= 12 && bytes.HasPrefix(buf, []byte("HTTP/1.1 200")) {
						ok.Add(1)
					}
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// waitGoroutines waits until at most want goroutines run, and says how many
// do.
func waitGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoadBounded sends a bounded load over loopback (HTTP connections and
// DNS datagrams from many addresses), then checks that every request the
// clients made is stored exactly once and that the sensor's goroutines are
// gone after it stopped.
func TestLoadBounded(t *testing.T) {
	base := runtime.NumGoroutine()
	n, queries := 2000, 500
	if testing.Short() {
		n, queries = 1000, 200
	}
	h := startSensor(t, Config{Listen: []Listen{{HTTP, "127.0.0.1:0"}, {DNS, "127.0.0.1:0"}}})
	srcs := sources(40)
	ok := hammer(t, h.addr(HTTP, "tcp"), n, 32, srcs)
	var answered int
	dnsAddr := h.addr(DNS, "udp")
	// Each query from an address of its own: the kernel may give a new
	// socket the ephemeral port an address just used, and a datagram on a
	// UDP session heard from within udpIdle is rightly no first probe.
	qsrcs := sources(queries)
	for i := range queries {
		if query(t, qsrcs[i], dnsAddr, packQuery(t, fmt.Sprintf("q%d.load.example", i), dns.TypeA), 2*time.Second) != nil {
			answered++
		}
	}
	ps := h.probes()
	h.st.Close()
	urls, names := map[string]bool{}, map[string]bool{}
	for _, p := range ps {
		if u := fieldValue(p, "Url"); strings.HasPrefix(u, "/load/") {
			urls[u] = true
		}
		if q := fieldValue(p, "qname"); strings.HasSuffix(q, ".load.example") {
			names[q] = true
		}
	}
	st := h.stats
	t.Logf("%d connections (%d answered), %d queries (%d answered); stored %d probes; counters %+v", n, ok, queries, answered, len(ps), st)
	if ok != int64(n) || answered != queries {
		t.Errorf("answered %d of %d connections and %d of %d queries", ok, n, answered, queries)
	}
	if len(urls) != n || len(names) != queries || len(ps) != n+queries || st.Stored != int64(n+queries) {
		t.Errorf("clients sent %d requests and %d queries; stored %d distinct requests, %d distinct queries, %d probes (%d new)",
			n, queries, len(urls), len(names), len(ps), st.Stored)
	}
	if got := waitGoroutines(base); got > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the sensor stopped, %d before it started:\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
}

// rss is the resident set size of this process in bytes.
func rss(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status: cannot measure RSS here")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// idleTarget is the bound on what 2,000 idle connections may cost.
const idleTarget = 200 << 20

// TestIdleConnectionsCheap opens 2,000 connections that send nothing: the
// sensor holds them all (each waits for its first message), a new client
// is still served at once, and the process grows by less than 200 MB.
func TestIdleConnectionsCheap(t *testing.T) {
	const n = 2000
	h := startSensor(t, Config{Listen: []Listen{{HTTP, "127.0.0.1:0"}}, ReadTimeout: time.Minute})
	addr := h.addr(HTTP, "tcp")
	runtime.GC()
	before := rss(t)
	conns := holdIdle(t, h, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	if !answered(t, "127.0.0.9", addr, "/while-idle") {
		t.Fatal("a new client was not served while 2,000 connections idled")
	}
	took := time.Since(start)
	after := rss(t)
	per := (after - before) / n
	t.Logf("%d idle connections: RSS %d MB → %d MB (+%d KB each); a new client served in %s", n, before>>20, after>>20, per>>10, took.Round(time.Millisecond))
	if after-before > idleTarget {
		t.Errorf("2,000 idle connections cost %d MB, target ≤ %d MB", (after-before)>>20, idleTarget>>20)
	}
	if took > 2*time.Second {
		t.Errorf("a new client waited %s while 2,000 connections idled", took)
	}
}

// holdIdle opens n connections that send nothing, from 40 addresses (50
// each, under the per-address limit), and waits until the sensor holds
// them all.
func holdIdle(tb testing.TB, h *harness, n int) []net.Conn {
	tb.Helper()
	srcs := sources(40)
	conns := make([]net.Conn, 0, n)
	for i := range n {
		conns = append(conns, dialFrom(tb, srcs[i%len(srcs)], h.addr(HTTP, "tcp")))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.s.lim.openConns() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.s.lim.openConns(); got != n {
		tb.Fatalf("the sensor holds %d of %d idle connections", got, n)
	}
	return conns
}
