package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// benchProbes makes n distinct probes shaped like the captures' first
// probes: HTTP requests, TLS ClientHellos and DNS queries in turn, with
// their parsed fields and payloads of realistic sizes. As on the wire, what
// a client draws per connection differs from probe to probe: a
// ClientHello's random bytes and session ID (in its payload and fields), a
// DNS query's ID.
func benchProbes(n int) []probe.Probe {
	get := []byte("GET /favicon.ico HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
	hello := make([]byte, 517)
	hello[0], hello[1], hello[2] = 0x16, 0x03, 0x01
	dns := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x07example\x03com\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00")
	httpFields := probe.Fields{{Name: "method", Value: "GET"}, {Name: "uri", Value: "/favicon.ico"}, {Name: "version", Value: "HTTP/1.1"},
		{Name: "Host", Value: "192.0.2.1"}, {Name: "User-Agent", Value: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
		{Name: "Accept", Value: "*/*"}, {Name: "Accept-Encoding", Value: "gzip", Items: []string{"gzip"}}, {Name: "Connection", Value: "close"}}
	tlsFields := probe.Fields{{Name: "version", Value: "0x0303"}, {Name: "ciphers", Value: "4865,4866,4867,49195,49199", Items: []string{"4865", "4866", "4867", "49195", "49199"}},
		{Name: "extensions", Value: "0,11,10,35,22,23,13,43,45,51", Items: []string{"0", "11", "10", "35", "22", "23", "13", "43", "45", "51"}},
		{Name: "sni", Value: ""}, {Name: "ja3", Value: "e7d705a3286e19ea42f587b344ee6865"}, {Name: "ja4", Value: "t13i1010h2_61a7ad8aa9b6_3a8073edd8ef"}}
	dnsFields := probe.Fields{{Name: "qname", Value: "example.com"}, {Name: "qtype", Value: "A"}, {Name: "rd", Value: "1"}, {Name: "edns", Value: "4096"}}
	base := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	out := make([]probe.Probe, n)
	for i := range out {
		p := probe.Probe{
			Time:  base.Add(time.Duration(i) * 37 * time.Millisecond),
			SrcIP: netip.AddrFrom4([4]byte{byte(1 + i%223), byte(i >> 16), byte(i >> 8), byte(i)}), SrcPort: uint16(1024 + i%60000),
			DstIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%8)}), Transport: probe.TCP, Sensor: "hp-1",
			SourceFile: "/captures/2024-02-01.pcap.gz", Offset: int64(i) * 180,
		}
		switch i % 3 {
		case 0:
			p.DstPort, p.Service, p.Payload, p.Fields = 80, "http", get, httpFields
		case 1:
			payload := slices.Clone(hello)
			binary.BigEndian.PutUint64(payload[11:], uint64(i)*0x9e3779b97f4a7c15)
			binary.BigEndian.PutUint64(payload[44:], uint64(i)*0xbf58476d1ce4e5b9)
			fields := slices.Clone(tlsFields)
			fields = append(fields, probe.Field{Name: "handshake_random_bytes", Value: hex.EncodeToString(payload[11:43])},
				probe.Field{Name: "handshake_sessionid", Value: hex.EncodeToString(payload[44:76])},
				probe.Field{Name: "handshake_time", Value: strconv.FormatUint(uint64(binary.BigEndian.Uint32(payload[11:])), 10)})
			p.DstPort, p.Service, p.Payload, p.Fields = 443, "tls", payload, fields
		default:
			payload := slices.Clone(dns)
			binary.BigEndian.PutUint16(payload, uint16(i))
			fields := append(probe.Fields{{Name: "id", Value: strconv.Itoa(int(uint16(i)))}}, dnsFields...)
			p.DstPort, p.Transport, p.Service, p.Payload, p.Fields = 53, probe.UDP, "dns", payload, fields
		}
		out[i] = p
	}
	return out
}

// BenchmarkInsertProbes stores 200 k probes into a new store in batches of
// 16384, as ingest does, and reports probes per CPU-second of this process;
// for PostgreSQL also the CPU of the server's processes (on this machine)
// and probes per CPU-second of both together.
//
//	go test -run '^$' -bench InsertProbes -benchtime 3x ./internal/store
func BenchmarkInsertProbes(b *testing.B) {
	const total, batch = 200_000, 16384 // ingest's batch
	probes := benchProbes(total)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			var cpu, serverCPU time.Duration
			var wall time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := openSQL(context.Background(), benchDSN(b, be))
				if err != nil {
					b.Fatal(err)
				}
				srv0 := serverCPUTime(s)
				c0, w0 := benchutil.CPUTime(), time.Now()
				b.StartTimer()
				for k := 0; k < total; k += batch {
					if _, err := s.InsertProbes(context.Background(), probes[k:min(k+batch, total)]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				cpu += benchutil.CPUTime() - c0
				wall += time.Since(w0)
				serverCPU += serverCPUTime(s) - srv0
				s.Close()
			}
			n := float64(total * b.N)
			b.ReportMetric(n/cpu.Seconds(), "probes/cpu-s")
			b.ReportMetric(n/wall.Seconds(), "probes/s")
			if serverCPU > 0 {
				b.ReportMetric(n/serverCPU.Seconds(), "probes/server-cpu-s")
				b.ReportMetric(n/(cpu+serverCPU).Seconds(), "probes/total-cpu-s")
			}
		})
	}
}

// BenchmarkInsertProbesIntoLargeStore stores 262,144 probes into a SQLite
// store that already holds 6 M: ingest's batches, the probes of
// BenchmarkInsertProbes going on in time at the same rate (27 a second, as
// in 360 Company-23), each sent by one of 500,000 scanners spread over
// the address space. This is the cost once the store's B-trees outgrow the
// page cache, which the 200 k-probe benchmark does not reach.
//
//	go test -run '^$' -bench InsertProbesIntoLargeStore -benchtime 1x ./internal/store
func BenchmarkInsertProbesIntoLargeStore(b *testing.B) {
	const held, measured, batch = 6_000_000, 262_144, 16384
	s, err := OpenSQLite(context.Background(), b.TempDir()+"/large.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	probes := benchProbes(measured)
	scanners := make([]netip.Addr, 500_000)
	for i := range scanners {
		scanners[i] = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, uint32(uint64(i+1)*0x9e3779b97f4a7c15>>32))))
	}
	next := func(round int) {
		// Round r: the same probes, r chunks later, from scanners picked
		// by a hash of (round, probe).
		for i := range probes {
			probes[i].Time = probes[i].Time.Add(measured * 37 * time.Millisecond)
			probes[i].SrcIP = scanners[(uint64(round*measured+i)*0xbf58476d1ce4e5b9>>20)%uint64(len(scanners))]
		}
	}
	next(0)
	insert := func() {
		for k := 0; k < measured; k += batch {
			if _, err := s.InsertProbes(context.Background(), probes[k:min(k+batch, measured)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	round := 0
	for stored := 0; stored < held; stored += measured {
		insert()
		round++
		next(round)
	}
	var cpu, wall time.Duration
	for b.Loop() {
		c0, w0 := benchutil.CPUTime(), time.Now()
		insert()
		cpu += benchutil.CPUTime() - c0
		wall += time.Since(w0)
		b.StopTimer()
		round++
		next(round)
		b.StartTimer()
	}
	n := float64(measured * b.N)
	b.ReportMetric(n/cpu.Seconds(), "probes/cpu-s")
	b.ReportMetric(n/wall.Seconds(), "probes/s")
}

// BenchmarkReadProbes reads 1 M stored probes without their payloads, as
// pipeline.Load does for training and identification: "all" in one query,
// "per-service" one query per service. It reports probes per CPU-second
// (this process; for PostgreSQL the server's too) and, for SQLite, the
// store's bytes per probe.
//
//	go test -run '^$' -bench ReadProbes -benchtime 1x ./internal/store
func BenchmarkReadProbes(b *testing.B) {
	const total, batch = 1_000_000, 16384
	probes := benchProbes(total)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, err := openSQL(context.Background(), benchDSN(b, be))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for k := 0; k < total; k += batch {
				if _, err := s.InsertProbes(context.Background(), probes[k:min(k+batch, total)]); err != nil {
					b.Fatal(err)
				}
			}
			if be.name == "sqlite" {
				var size int64
				if err := s.db.QueryRow(`SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&size); err == nil {
					b.Logf("SQLite store: %.0f bytes per probe", float64(size)/total)
				}
			}
			for _, mode := range []struct {
				name     string
				services []string
			}{{"all", []string{""}}, {"per-service", []string{"dns", "http", "tls"}}} {
				b.Run(mode.name, func(b *testing.B) {
					var cpu, serverCPU time.Duration
					for i := 0; i < b.N; i++ {
						srv0, c0 := serverCPUTime(s), benchutil.CPUTime()
						n := 0
						for _, svc := range mode.services {
							for p, err := range s.Probes(context.Background(), ProbeQuery{Service: svc, NoPayload: true}) {
								if err != nil {
									b.Fatal(err)
								}
								n += len(p.Fields)
							}
						}
						cpu += benchutil.CPUTime() - c0
						serverCPU += serverCPUTime(s) - srv0
						if n == 0 {
							b.Fatal("no fields read")
						}
					}
					n := float64(total * b.N)
					b.ReportMetric(n/cpu.Seconds(), "probes/cpu-s")
					if serverCPU > 0 {
						b.ReportMetric(n/serverCPU.Seconds(), "probes/server-cpu-s")
					}
				})
			}
		})
	}
}

// benchDSN is a new, empty store of be for a benchmark.
func benchDSN(b *testing.B, be backend) string {
	b.Helper()
	if be.name == "sqlite" {
		return b.TempDir() + "/bench.db"
	}
	return sharedtest.PostgresDSN(b)
}

// serverCPUTime is the user+system CPU time the PostgreSQL server's
// processes have used so far (the postmaster's children, read from /proc
// when the server runs on this machine); 0 for SQLite or when unreadable.
func serverCPUTime(s *SQL) time.Duration {
	if s.d.name != postgresDialect.name {
		return 0
	}
	var pid int
	if err := s.db.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return 0
	}
	stat := func(pid int) []string {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		// Fields after the command name, which is in parentheses.
		text := string(data)
		return strings.Fields(text[strings.LastIndexByte(text, ')')+2:])
	}
	f := stat(pid)
	if f == nil {
		return 0
	}
	postmaster := f[1]
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := stat(p); len(f) > 12 && f[1] == postmaster {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
