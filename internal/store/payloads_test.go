package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all" // TLS, DNS, SSH declare their per-probe fields
)

// variedProbes are probes of every shape the payload rows must keep apart
// or share: one tool's ClientHellos that differ only in their random bytes
// and session ID (per-probe fields, per-probe payload bytes), repeated
// identical HTTP requests, a payload longer than the stored cap, an empty
// payload among non-empty ones, parse errors (one with a NUL byte), odd
// text, two sensors and source files.
func variedProbes() []probe.Probe {
	var out []probe.Probe
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	add := func(p probe.Probe) {
		k := len(out)
		p.Time = base.Add(time.Duration(k)*time.Second + time.Duration(k)*time.Nanosecond)
		p.SrcIP = netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + k%7)})
		p.SrcPort = uint16(40000 + k)
		if p.DstIP == (netip.Addr{}) {
			p.DstIP = netip.MustParseAddr("192.0.2.1")
		}
		if p.Transport == "" {
			p.Transport = probe.TCP
		}
		p.Sensor = []string{"hp-a", "hp-b"}[k%2]
		p.SourceFile = fmt.Sprintf("caps/day%d.pcap", k%3)
		p.Offset = int64(k) * 100
		out = append(out, p)
	}
	hello := func(random, session string) probe.Probe {
		payload := append([]byte{0x16, 0x03, 0x01}, []byte("hello "+random+session)...)
		return probe.Probe{DstPort: 443, Service: "tls", Payload: payload, Fields: probe.Fields{
			{Name: "handshake_version", Value: "0x0303"},
			{Name: "handshake_random_bytes", Value: random},
			{Name: "handshake_sessionid", Value: session},
			{Name: "handshake_ciphersuites", Value: "4865,4866", Items: []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}},
			{Name: "ja3", Value: "e7d705a3286e19ea42f587b344ee6865"},
		}}
	}
	for i := range 20 {
		add(hello(fmt.Sprintf("%064x", i*7919), fmt.Sprintf("%064x", i)))
	}
	get := probe.Probe{DstPort: 80, Service: "http", Payload: []byte("GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n"),
		Fields: probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Url", Value: "/"}, {Name: "Host", Value: "192.0.2.1"}}}
	for range 20 {
		add(get)
	}
	empty := get
	empty.Payload = nil
	add(empty)
	long := get
	long.Payload = []byte("GET /" + strings.Repeat("a", probe.StoredPayloadCap+50) + " HTTP/1.1\r\n\r\n")
	add(long)
	add(long)
	for range 3 {
		add(probe.Probe{DstPort: 53, Transport: probe.UDP, Service: "dns", Payload: []byte{0x12, 0x34, 1, 0},
			Fields: probe.Fields{{Name: "id", Value: "4660"}, {Name: "qname", Value: "example.com"}}})
	}
	add(probe.Probe{DstPort: 8080, Service: "other", Payload: []byte("\x00\x01junk"), ParseError: "bad byte \x00 here"})
	add(probe.Probe{DstPort: 8080, Service: "other", Payload: []byte("\x00\x01junk")})
	add(probe.Probe{DstPort: 22, Service: "ssh", Payload: []byte("SSH-2.0-Go\r\n"),
		Fields: probe.Fields{{Name: "software_version", Value: "Go"}, {Name: "cookie", Value: "00ff"}, {Name: "cookie", Value: "second"}}})
	return out
}

// sameProbe reports how got differs from want ("" if it does not); a
// payload is compared as stored (capped).
func sameProbe(got, want probe.Probe) string {
	wantPayload := want.Payload
	if len(wantPayload) > probe.StoredPayloadCap {
		wantPayload = wantPayload[:probe.StoredPayloadCap]
	}
	switch {
	case !got.Time.Equal(want.Time) || got.SrcIP != want.SrcIP || got.SrcPort != want.SrcPort || got.DstIP != want.DstIP ||
		got.DstPort != want.DstPort || got.Transport != want.Transport:
		return "key"
	case got.Service != want.Service || got.Sensor != want.Sensor || got.SourceFile != want.SourceFile || got.Offset != want.Offset:
		return fmt.Sprintf("service, sensor or source: %s %s %s %d", got.Service, got.Sensor, got.SourceFile, got.Offset)
	case string(got.Payload) != string(wantPayload):
		return fmt.Sprintf("payload %q", got.Payload)
	case strings.ReplaceAll(got.ParseError, "\uFFFD", "\x00") != want.ParseError:
		return fmt.Sprintf("parse error %q", got.ParseError)
	case !slices.EqualFunc(got.Fields, want.Fields, func(a, b probe.Field) bool {
		return a.Name == b.Name && a.Value == b.Value && slices.Equal(a.Items, b.Items)
	}):
		return fmt.Sprintf("fields %v", got.Fields)
	}
	return ""
}

// checkProbes reads every probe of s and compares it with want (in time
// order).
func checkProbes(t *testing.T, s *SQL, want []probe.Probe) {
	t.Helper()
	got := collect(t, s, ProbeQuery{})
	if len(got) != len(want) {
		t.Fatalf("read %d probes, want %d", len(got), len(want))
	}
	for i := range want {
		if d := sameProbe(got[i], want[i]); d != "" {
			t.Errorf("probe %d (%s): %s", i, want[i].Service, d)
		}
	}
}

// Probes of every shape read back as stored, and one tool's probes share
// one payload row.
func TestPayloadRowsRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.newDSN(t)
		s := openDSN(t, dsn)
		all := variedProbes()
		if n, err := s.InsertProbes(ctx, all); err != nil || n != len(all) {
			t.Fatalf("stored %d of %d: %v", n, len(all), err)
		}
		checkProbes(t, s, all)
		// One row each: the 20 ClientHellos, the HTTP requests (the empty
		// and the long payload too: their fields are the same), the DNS
		// queries, the two "other" (their parse errors differ), SSH.
		if n := countRows(t, s, "payloads"); n != 6 {
			t.Errorf("%d payload rows, want 6", n)
		}
		var own, diffs int
		if err := s.db.QueryRow(`SELECT COUNT(payload), COUNT(payload_diff) FROM probes WHERE payload_len > 0`).Scan(&own, &diffs); err != nil {
			t.Fatal(err)
		}
		if own != 2 || diffs != 19 { // the long payloads; the ClientHellos after the first
			t.Errorf("%d probes with a payload of their own, %d with a diff; want 2 and 19", own, diffs)
		}
		// A second handle (another process) stores the same contents again:
		// no new payload row, nothing new.
		again := openDSN(t, dsn)
		if n, err := again.InsertProbes(ctx, all); err != nil || n != 0 {
			t.Fatalf("again: %d new, %v", n, err)
		}
		if n := countRows(t, s, "payloads"); n != 6 {
			t.Errorf("%d payload rows after storing the same again, want 6", n)
		}
		// Limit and NoPayload read the same rows.
		first := collect(t, s, ProbeQuery{Limit: 3, Service: "http", NoPayload: true})
		if len(first) != 3 || first[0].Payload != nil || first[0].Fields.Value("Host") != "192.0.2.1" {
			t.Errorf("limited: %+v", first)
		}
	})
}

// Batches prepared before the one ahead of them is stored (as ingest does:
// it prepares batch k+1 while batch k is written) share their new contents'
// payload rows and read back as stored, and the cache then knows them.
func TestBatchesPreparedAhead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDSN(t, b.newDSN(t))
		all := variedProbes()
		half := len(all) / 2
		// Both halves hold ClientHellos, HTTP requests and DNS queries: the
		// second's contents are new when it is prepared.
		first, second := s.PrepareProbes(all[:half]), s.PrepareProbes(all[half:])
		for _, p := range []*PreparedProbes{first, second} {
			if n, err := s.InsertPrepared(ctx, p); err != nil || n != len(p.probes) {
				t.Fatalf("stored %d of %d: %v", n, len(p.probes), err)
			}
		}
		checkProbes(t, s, all)
		if n := countRows(t, s, "payloads"); n != 6 {
			t.Errorf("%d payload rows, want 6 (as stored in one batch)", n)
		}
		for _, r := range s.PrepareProbes(all).rows {
			if r.payloadID == 0 {
				t.Fatalf("%s probe at %s: content not cached after both batches were stored", r.p.Service, r.p.Time)
			}
		}
	})
}

// A payload row another process pruned is stored again, not referred to,
// and its id is never given to another content.
func TestPrunedPayloadIsStoredAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.newDSN(t)
		s := openDSN(t, dsn)
		all := variedProbes()
		if _, err := s.InsertProbes(ctx, all[:10]); err != nil {
			t.Fatal(err)
		}
		other := openDSN(t, dsn)
		if n, err := other.PruneProbes(ctx, all[len(all)-1].Time.Add(time.Hour)); err != nil || n != 10 {
			t.Fatalf("pruned %d: %v", n, err)
		}
		if n := countRows(t, s, "payloads"); n != 0 {
			t.Fatalf("%d payload rows left after pruning every probe", n)
		}
		// Another content is stored first: it must not take the pruned
		// row's id, which s still caches.
		if _, err := other.InsertProbes(ctx, all[20:25]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertProbes(ctx, all); err != nil {
			t.Fatal(err)
		}
		checkProbes(t, s, all)
	})
}

// oldProbeColumns are the columns of the version-1 probes table.
var oldProbeColumns = "ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service, sensor, fields, payload, payload_len, parse_error, source_file, source_off"

// An old store (core version 1: one row per probe with its fields and
// payload), opened by this binary, keeps every probe: they read back
// identical, their contents deduplicated, and it takes new probes.
func TestOldStoreKeepsEveryProbe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.newDSN(t)
		all := variedProbes()
		func() {
			s := openDSN(t, dsn)
			// Back to version 1, as an older binary left it.
			for _, st := range []string{`DROP TABLE probes`, `DROP TABLE payloads`, `DELETE FROM schema_migrations WHERE component = 'core'`,
				`INSERT INTO schema_migrations (component, version, applied_at) VALUES ('core', 1, '2025-01-01T00:00:00Z')`} {
				exec(t, s, st)
			}
			exec(t, s, s.d.ddl(coreSchema[0]))
			for _, p := range all {
				payload := p.Payload
				if len(payload) > probe.StoredPayloadCap {
					payload = payload[:probe.StoredPayloadCap]
				}
				exec(t, s, `INSERT INTO probes (`+oldProbeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					p.Time.UnixNano(), p.SrcIP.String(), int64(p.SrcPort), p.DstIP.String(), int64(p.DstPort), string(p.Transport), p.Service,
					p.Sensor, string(p.Fields.AppendJSON(nil)), payload, int64(len(p.Payload)), s.d.text(p.ParseError), p.SourceFile, p.Offset)
			}
			s.Close()
		}()
		s := openDSN(t, dsn)
		checkProbes(t, s, all)
		if n := countRows(t, s, "payloads"); n != 6 {
			t.Errorf("%d payload rows after the move, want 6", n)
		}
		var plen int
		if err := s.db.QueryRow(`SELECT MAX(payload_len) FROM probes`).Scan(&plen); err != nil || plen != probe.StoredPayloadCap+50+len("GET / HTTP/1.1\r\n\r\n") {
			t.Errorf("the long payload's length: %d %v", plen, err)
		}
		if n, err := s.InsertProbes(ctx, all); err != nil || n != 0 {
			t.Errorf("the old probes again: %d new, %v", n, err)
		}
		more := manyProbes(0, 100, "hp-c")
		if n, err := s.InsertProbes(ctx, more); err != nil || n != len(more) {
			t.Errorf("new probes into the moved store: %d, %v", n, err)
		}
	})
}

func TestPayloadDiff(t *testing.T) {
	base := []byte(strings.Repeat("0123456789abcdef", 20))
	cases := map[string]func(b []byte){
		"same":       func([]byte) {},
		"first byte": func(b []byte) { b[0] = 'x' },
		"last byte":  func(b []byte) { b[len(b)-1] = 'x' },
		"short gaps": func(b []byte) { b[10], b[12], b[15], b[40] = 'x', 'y', 'z', 'w' },
		"random run": func(b []byte) { copy(b[11:43], strings.Repeat("R", 32)) },
		"two runs":   func(b []byte) { copy(b[11:43], strings.Repeat("R", 32)); copy(b[200:232], strings.Repeat("S", 32)) },
		"half differs": func(b []byte) {
			for i := 0; i < len(b); i += 2 {
				b[i] = '#'
			}
		},
	}
	for name, change := range cases {
		b := slices.Clone(base)
		change(b)
		diff, ok := payloadDiff([]byte("keep"), base, b)
		if name == "half differs" {
			if ok {
				t.Errorf("%s: a diff of %d bytes for %d", name, len(diff), len(b))
			}
			continue
		}
		if !ok {
			t.Errorf("%s: no diff", name)
			continue
		}
		if string(diff[:4]) != "keep" {
			t.Errorf("%s: the diff did not append", name)
		}
		got, err := applyDiff(base, diff[4:])
		if err != nil || string(got) != string(b) {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
	if _, ok := payloadDiff(nil, base, base[1:]); ok {
		t.Error("a diff between payloads of different lengths")
	}
	for _, bad := range [][]byte{{0x80}, {5, 10, 'a'}, {250, 3, 'a', 'b', 'c', 1}} {
		if _, err := applyDiff([]byte("short"), bad); err == nil {
			t.Errorf("applied the bad diff %x", bad)
		}
	}
}

// TestKeepCutsFieldsOncePerPayloadRow: with ProbeQuery.Keep each probe of
// a kept service comes back with only the fields named, in their order,
// its per-connection values filled in when one of them is kept, and the
// other services' probes whole; on both backends, and whether the payload
// rows are read first or on first use.
func TestKeepCutsFieldsOncePerPayloadRow(t *testing.T) {
	defer func(n int64) { payloadsReadWhole = n }(payloadsReadWhole)
	for _, whole := range []int64{1 << 14, 1} {
		payloadsReadWhole = whole
		forEachBackend(t, func(t *testing.T, b backend) {
			s := b.open(t)
			all := variedProbes()
			if _, err := s.InsertProbes(context.Background(), all); err != nil {
				t.Fatal(err)
			}
			for _, keep := range []map[string]bool{
				{"ja3": true, "handshake_version": true},                       // no per-connection field
				{"handshake_random_bytes": true, "ja3": true, "missing": true}, // one
			} {
				got := collect(t, s, ProbeQuery{Keep: map[string]map[string]bool{"tls": keep}})
				if len(got) != len(all) {
					t.Fatalf("%d probes, want %d", len(got), len(all))
				}
				for i, p := range got {
					want := all[i].Fields
					if p.Service == "tls" {
						want = want.Keep(keep)
					}
					if !slices.EqualFunc(p.Fields, want, sameField) {
						t.Fatalf("keep %v, probe %d (%s): fields %v, want %v", keep, i, p.Service, p.Fields, want)
					}
				}
			}
		})
	}
}

// TestBriefReadsWhatModelsRead: a Brief query gives each probe's time,
// addresses, ports, service, fields and parse error as stored, and leaves
// what the models do not read empty.
func TestBriefReadsWhatModelsRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		all := variedProbes()
		if _, err := s.InsertProbes(context.Background(), all); err != nil {
			t.Fatal(err)
		}
		got := collect(t, s, ProbeQuery{Brief: true})
		if len(got) != len(all) {
			t.Fatalf("%d probes, want %d", len(got), len(all))
		}
		for i, p := range got {
			w := all[i]
			if !p.Time.Equal(w.Time) || p.SrcIP != w.SrcIP || p.SrcPort != w.SrcPort || p.DstIP != w.DstIP || p.DstPort != w.DstPort ||
				p.Service != w.Service || strings.ReplaceAll(p.ParseError, "\uFFFD", "\x00") != w.ParseError || // PostgreSQL text has no NUL
				!slices.EqualFunc(p.Fields, w.Fields, sameField) {
				t.Fatalf("probe %d: %+v, want %+v", i, p, w)
			}
			if p.Payload != nil || p.Transport != "" || p.Sensor != "" || p.SourceFile != "" || p.Offset != 0 {
				t.Fatalf("probe %d: brief read more than it says: %+v", i, p)
			}
		}
	})
}
