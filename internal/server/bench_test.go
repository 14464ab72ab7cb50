package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// BenchmarkLookup measures GET /v1/ip/{ip} over loopback TCP with keep-alive
// clients, as a user's script would send it. SG_BENCH_DB and
// SG_BENCH_MODELS name an SD-25-sized store and its models (BENCHMARKS.md
// says how to make them); without them the tiny fixture is used. The IPs
// are every scanner of the store in a random order, so the first pass
// computes each verdict ("cold": models and labels in memory, the IP's
// probes read from the store, its evidence computed) and "warm" repeats
// 1,000 of them, answered from the explanation cache.
func BenchmarkLookup(b *testing.B) {
	db, models := os.Getenv("SG_BENCH_DB"), os.Getenv("SG_BENCH_MODELS")
	if db == "" {
		f := theFixture(b)
		db, models = f.db, f.models
	}
	ctx := context.Background()
	// The writer's handle brings the schema up to date, as serve opens it
	// before its reader.
	if w, err := store.Open(ctx, db); err != nil {
		b.Fatal(err)
	} else {
		w.Close()
	}
	rd, err := store.OpenReader(ctx, db, 4)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	srv := New(Config{Store: rd, Models: func() string { return models }})
	atts, err := rd.Attributions(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	var ips []string
	for _, a := range atts {
		if !seen[a.IP] {
			seen[a.IP] = true
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		b.Fatal("no identified IPs in the store")
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ips), func(i, j int) { ips[i], ips[j] = ips[j], ips[i] })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String() + "/v1/ip/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	get := func(ip string) time.Duration {
		t0 := time.Now()
		resp, err := client.Get(base + ip)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", ip, resp.StatusCode)
		}
		return time.Since(t0)
	}
	// Load the models (once per process), then measure.
	get(ips[0])
	srv.Forget()
	b.Run("cold", func(b *testing.B) {
		srv.Forget()
		lat := make([]time.Duration, 0, b.N)
		m := benchutil.Start()
		for i := range b.N {
			if i%len(ips) == 0 {
				srv.Forget()
			}
			lat = append(lat, get(ips[i%len(ips)]))
		}
		report(b, m, lat)
	})
	// Warm: repeated lookups of the same 1,000 IPs (an analyst's or a
	// SIEM's working set), answered from the cache.
	hot := ips[:min(len(ips), 1000)]
	b.Run("warm", func(b *testing.B) {
		for _, ip := range hot {
			get(ip) // fill the cache
		}
		concurrently(b, hot, func() (func(string) (time.Duration, error), func()) {
			return func(ip string) (time.Duration, error) { return get(ip), nil }, func() {}
		})
	})
	// The same working set through a minimal HTTP/1.1 client (one
	// keep-alive connection per worker, requests written by hand, answers
	// read with http.ReadResponse): what the server costs with less of the
	// client's, since both share the process and its 2 cores.
	b.Run("warm-raw", func(b *testing.B) {
		for _, ip := range hot {
			get(ip)
		}
		concurrently(b, hot, func() (func(string) (time.Duration, error), func()) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			br, bw := bufio.NewReader(conn), bufio.NewWriter(conn)
			return func(ip string) (time.Duration, error) {
				t0 := time.Now()
				bw.WriteString("GET /v1/ip/")
				bw.WriteString(ip)
				bw.WriteString(" HTTP/1.1\r\nHost: bench\r\n\r\n")
				if err := bw.Flush(); err != nil {
					return 0, err
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return 0, err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return 0, fmt.Errorf("%s: %d", ip, resp.StatusCode)
				}
				return time.Since(t0), nil
			}, func() { conn.Close() }
		})
	})
	b.Logf("%d distinct IPs", len(ips))
}

// concurrently asks for b.N lookups of the hot IPs from 16 workers, each
// with the client newClient makes for it (a lookup and a close), and
// reports them.
func concurrently(b *testing.B, hot []string, newClient func() (func(string) (time.Duration, error), func())) {
	const workers = 16
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var wg sync.WaitGroup
	next := make(chan int, 1024)
	b.ResetTimer()
	m := benchutil.Start()
	for range workers {
		get, done := newClient()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			local := make([]time.Duration, 0, b.N/workers+1)
			for i := range next {
				d, err := get(hot[i%len(hot)])
				if err != nil {
					b.Error(err)
					for range next {
					}
					return
				}
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	report(b, m, lat)
}

// report gives lookups per wall second and per CPU-second of the whole
// process (server and clients together), and the latency quantiles.
func report(b *testing.B, m benchutil.Meter, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	m.Report(b, float64(len(lat)), "lookups")
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99_ms")
}
