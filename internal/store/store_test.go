package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func testProbe(sec int64, src string) probe.Probe {
	return probe.Probe{
		Time: time.Unix(sec, 123).UTC(), SrcIP: netip.MustParseAddr(src), SrcPort: 40000,
		DstIP: netip.MustParseAddr("192.0.2.1"), DstPort: 80, Transport: probe.TCP, Service: "http",
		Payload: []byte("GET / HTTP/1.1\r\n\r\n"),
		Fields:  probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Accept", Value: "a,b", Items: []string{"a", "b"}}},
	}
}

// manyProbes makes n distinct probes from first on: one a second, from 250
// source addresses, the sensor given.
func manyProbes(first, n int, sensor string) []probe.Probe {
	out := make([]probe.Probe, n)
	for i := range out {
		k := first + i
		p := testProbe(int64(1_700_000_000+k), fmt.Sprintf("198.51.%d.%d", k/250%250, k%250+1))
		p.SrcPort = uint16(1024 + k%60000)
		p.Sensor = sensor
		out[i] = p
	}
	return out
}

// twoSensors opens a new store of b holding n probes of sensor hp-a and n
// of hp-c, these from the k-th probe of manyProbes on.
func twoSensors(t *testing.T, b backend, n, k int) (s *SQL, a, c []probe.Probe) {
	t.Helper()
	s = b.open(t)
	a, c = manyProbes(0, n, "hp-a"), manyProbes(k, n, "hp-c")
	if _, err := s.InsertProbes(context.Background(), append(a, c...)); err != nil {
		t.Fatal(err)
	}
	return s, a, c
}

func collect(t *testing.T, s Store, q ProbeQuery) []probe.Probe {
	t.Helper()
	var got []probe.Probe
	for p, err := range s.Probes(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	return got
}

func countProbes(t *testing.T, s *SQL) (rows, distinct int) {
	t.Helper()
	err := s.db.QueryRow(`SELECT COUNT(*), (SELECT COUNT(*) FROM (SELECT DISTINCT ts_ns, src_ip, src_port, dst_ip, dst_port, transport FROM probes) AS k) FROM probes`).
		Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func TestInsertIsIdempotentAndRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		batch := []probe.Probe{testProbe(100, "198.51.100.7"), testProbe(50, "2001:db8::1"), testProbe(100, "198.51.100.7")}
		if n, err := s.InsertProbes(ctx, batch); err != nil || n != 2 {
			t.Fatalf("first insert: n=%d err=%v, want 2 (the third is the first again)", n, err)
		}
		if n, err := s.InsertProbes(ctx, batch); err != nil || n != 0 {
			t.Fatalf("second insert of the same probes: n=%d err=%v, want 0 new", n, err)
		}
		got := collect(t, s, ProbeQuery{Service: "http"})
		if len(got) != 2 || got[0].SrcIP.String() != "2001:db8::1" {
			t.Fatalf("want 2 probes in time order, got %+v", got)
		}
		p := got[1]
		if !p.Time.Equal(batch[0].Time) || p.Fields.Value("Method") != "GET" || len(p.Fields[1].Items) != 2 || string(p.Payload) != string(batch[0].Payload) {
			t.Fatalf("round trip lost data: %+v", p)
		}
		counts, err := s.ServiceCounts(ctx, ProbeQuery{From: time.Unix(60, 0)})
		if err != nil || len(counts) != 1 || counts[0].Probes != 1 || counts[0].IPs != 1 {
			t.Fatalf("counts from t=60: %+v %v", counts, err)
		}
		// More than one multi-row statement, with a remainder.
		big := manyProbes(0, 3*sqliteRowsPerInsert+5, "")
		if n, err := s.InsertProbes(ctx, append(big, big[:70]...)); err != nil || n != len(big) {
			t.Fatalf("big batch with repeats: n=%d err=%v, want %d", n, err, len(big))
		}
		if rows, distinct := countProbes(t, s); rows != len(big)+2 || distinct != rows {
			t.Fatalf("%d rows, %d distinct, want %d", rows, distinct, len(big)+2)
		}
	})
}

func TestPayloadIsCappedButLengthKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		p := testProbe(1, "198.51.100.9")
		p.Payload = make([]byte, probe.StoredPayloadCap+100)
		if _, err := s.InsertProbes(ctx, []probe.Probe{p}); err != nil {
			t.Fatal(err)
		}
		var stored, length int
		if err := s.db.QueryRow(`SELECT length(COALESCE(probes.payload, payloads.payload)), probes.payload_len
			FROM probes JOIN payloads ON payloads.id = probes.payload_id`).Scan(&stored, &length); err != nil {
			t.Fatal(err)
		}
		if stored != probe.StoredPayloadCap || length != probe.StoredPayloadCap+100 {
			t.Fatalf("stored %d bytes, length %d", stored, length)
		}
	})
}

// Text PostgreSQL refuses (NUL, invalid UTF-8) in a parse error or a file
// name still stores.
func TestOddTextStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		p := testProbe(1, "198.51.100.9")
		p.ParseError, p.SourceFile = "bad byte \x00 here", "caps/\xff.pcap"
		if n, err := s.InsertProbes(context.Background(), []probe.Probe{p}); err != nil || n != 1 {
			t.Fatalf("n=%d err=%v", n, err)
		}
		got := collect(t, s, ProbeQuery{})
		if len(got) != 1 || !strings.HasPrefix(got[0].ParseError, "bad byte ") || !strings.HasPrefix(got[0].SourceFile, "caps/") {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.newDSN(t)
		s := openDSN(t, dsn)
		if err := s.migrate(ctx, "extra", []string{"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"}); err != nil {
			t.Fatal(err)
		}
		if err := s.migrate(ctx, "extra", []string{"CREATE TABLE a (x INTEGER)"}); err == nil {
			t.Fatal("an older binary must refuse a newer schema")
		}
		// Re-applying the same steps is a no-op.
		if err := s.migrate(ctx, "extra", []string{"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"}); err != nil {
			t.Fatal(err)
		}
		// A store a newer binary migrated further is refused by Open,
		// saying what to do, and left as it is.
		exec(t, s, `INSERT INTO schema_migrations (component, version, applied_at) VALUES ('core', ?, 'later')`, len(coreSchema)+1)
		again, err := Open(ctx, dsn)
		if err == nil {
			again.Close()
			t.Fatal("Open accepted a store with a newer core schema")
		}
		if msg := err.Error(); !strings.Contains(msg, "newer than this binary") || !strings.Contains(msg, "upgrade scannergrouper") {
			t.Errorf("unclear refusal: %v", err)
		}
	})
}

// Processes opening a new database at the same moment apply each
// migration step once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(context.Background(), dsn)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s := openDSN(t, dsn)
		var n, distinct int
		if err := s.db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT component) FROM schema_migrations WHERE version = 1`).Scan(&n, &distinct); err != nil || n != distinct {
			t.Fatalf("%d first steps recorded for %d components: %v", n, distinct, err)
		}
	})
}

// Writers on their own connections (as ingests on several machines) that
// store overlapping batches at once store each probe once: the unique key
// decides, and the counts they report add up to what is stored.
func TestConcurrentWritersNeverDuplicate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.newDSN(t)
		const writers, perWriter, overlap = 4, 3000, 1000
		var wg sync.WaitGroup
		inserted := make([]int, writers)
		errs := make([]error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(ctx, dsn)
				if err != nil {
					errs[w] = err
					return
				}
				defer s.Close()
				// Writer w stores [w*(perWriter-overlap), +perWriter): each
				// shares its first probes with the previous writer.
				all := manyProbes(w*(perWriter-overlap), perWriter, fmt.Sprintf("hp-%d", w))
				if w%2 == 1 {
					// Against its neighbours' order: PostgreSQL may find
					// deadlocks, which the store retries.
					slices.Reverse(all)
				}
				for len(all) > 0 {
					n := min(len(all), 500)
					k, err := s.InsertProbes(ctx, all[:n])
					if err != nil {
						errs[w] = err
						return
					}
					inserted[w] += k
					all = all[n:]
				}
			}()
		}
		wg.Wait()
		total := 0
		for w := range writers {
			if errs[w] != nil {
				t.Fatalf("writer %d: %v", w, errs[w])
			}
			total += inserted[w]
		}
		want := (writers-1)*(perWriter-overlap) + perWriter
		s := openDSN(t, dsn)
		rows, distinct := countProbes(t, s)
		if rows != want || distinct != want || total != want {
			t.Fatalf("stored %d rows (%d distinct), writers reported %d new; want %d", rows, distinct, total, want)
		}
	})
}

// Sensors filter probes, a clock offset moves a sensor's probes in every
// query without touching what is stored, and identical probes seen by the
// clock-corrected sensor are still recognised when ingested again.
func TestSensorsAndClockOffsets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, a, c := twoSensors(t, b, 10, 100)
		if got := collect(t, s, ProbeQuery{Sensor: "hp-c"}); len(got) != 10 || got[0].Sensor != "hp-c" || !got[0].Time.Equal(c[0].Time) {
			t.Fatalf("hp-c: %d probes, first %+v", len(got), got[0])
		}
		// hp-c's clock is 200 s late: corrected, its probes come first.
		if err := s.SetClockOffset(ctx, "hp-c", -200*time.Second); err != nil {
			t.Fatal(err)
		}
		got := collect(t, s, ProbeQuery{})
		if len(got) != 20 || got[0].Sensor != "hp-c" || !got[0].Time.Equal(c[0].Time.Add(-200*time.Second)) {
			t.Fatalf("corrected order: first %+v", got[0])
		}
		// A range over corrected times: [first c - 200 s, + 5 s) holds c's first 5.
		from := c[0].Time.Add(-200 * time.Second)
		if got := collect(t, s, ProbeQuery{From: from, To: from.Add(5 * time.Second)}); len(got) != 5 || got[4].SrcIP != c[4].SrcIP {
			t.Fatalf("corrected range: %d probes", len(got))
		}
		if counts, err := s.ServiceCounts(ctx, ProbeQuery{To: from.Add(10 * time.Second)}); err != nil || counts[0].Probes != 10 {
			t.Fatalf("counts before the corrected end of hp-c: %+v %v", counts, err)
		}
		if n, err := s.InsertProbes(ctx, c); err != nil || n != 0 {
			t.Fatalf("hp-c's probes again: %d new, %v", n, err)
		}
		sensors, err := s.Sensors(ctx)
		if err != nil || len(sensors) != 2 || sensors[1] != (Sensor{Name: "hp-c", ClockOffset: -200 * time.Second, Probes: 10}) {
			t.Fatalf("sensors %+v %v", sensors, err)
		}
		if err := s.SetClockOffset(ctx, "hp-c", 0); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, s, ProbeQuery{Limit: 1}); !got[0].Time.Equal(a[0].Time) {
			t.Fatalf("offset removed: first %+v", got[0])
		}
	})
}

// Verdicts listed for a sensor are those of the IPs that sent it a probe
// within the verdict's window.
func TestSensorAttributions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, a, c := twoSensors(t, b, 2, 300)
		win := func(ip string, from time.Time) Attribution {
			return Attribution{IP: ip, Org: "shodan", From: from, To: from.Add(time.Hour), ModelVersion: "m"}
		}
		early := a[0].Time.Add(-2 * time.Hour)
		atts := []Attribution{win(a[0].SrcIP.String(), a[0].Time), win(a[0].SrcIP.String(), early), win(c[0].SrcIP.String(), c[0].Time)}
		if err := s.PutAttributions(ctx, atts); err != nil {
			t.Fatal(err)
		}
		got, err := s.SensorAttributions(ctx, "", "hp-a")
		if err != nil || len(got) != 1 || got[0].IP != a[0].SrcIP.String() || !got[0].From.Equal(a[0].Time) {
			t.Fatalf("hp-a's verdicts: %+v %v", got, err)
		}
		if got, _ := s.SensorAttributions(ctx, "censys", "hp-c"); len(got) != 0 {
			t.Fatalf("censys on hp-c: %+v", got)
		}
		// hp-a's clock is 3 h fast: corrected, its probe falls in the early window.
		if err := s.SetClockOffset(ctx, "hp-a", -2*time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.SensorAttributions(ctx, "shodan", "hp-a"); len(got) != 1 || !got[0].From.Equal(early) {
			t.Fatalf("hp-a corrected: %+v", got)
		}
	})
}

// prune deletes old probes only, keeps labels and verdicts, and the store
// gives the space back.
func TestPruneProbes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		old, recent := manyProbes(0, 3000, "hp-a"), manyProbes(10_000, 500, "hp-a")
		for _, batch := range [][]probe.Probe{old, recent} {
			if _, err := s.InsertProbes(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.WriteLabels(ctx, LabelWrite{Sets: []LabelSet{{Labels: []LabelRecord{rec("198.51.0.0/16", "shodan", "api")}}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutAttributions(ctx, []Attribution{{IP: old[0].SrcIP.String(), Org: "shodan", From: old[0].Time, To: old[1].Time}}); err != nil {
			t.Fatal(err)
		}
		before := b.size(t, s)
		n, err := s.PruneProbes(ctx, recent[0].Time)
		if err != nil || n != int64(len(old)) {
			t.Fatalf("pruned %d, %v; want %d", n, err, len(old))
		}
		if got := collect(t, s, ProbeQuery{}); len(got) != len(recent) || !got[0].Time.Equal(recent[0].Time) {
			t.Fatalf("%d probes left", len(got))
		}
		if ls, _ := s.Labels(ctx, LabelQuery{}); len(ls) != 1 {
			t.Errorf("labels after prune: %+v", ls)
		}
		if atts, _ := s.Attributions(ctx, ""); len(atts) != 1 {
			t.Errorf("verdicts after prune: %+v", atts)
		}
		if b.name == "sqlite" {
			if after := b.size(t, s); after >= before {
				t.Errorf("store did not shrink: %d bytes before, %d after", before, after)
			}
			return
		}
		// PostgreSQL's VACUUM makes the room reusable: as many new probes
		// again fit without the table growing.
		if _, err := s.InsertProbes(ctx, manyProbes(20_000, len(old), "hp-a")); err != nil {
			t.Fatal(err)
		}
		if after := b.size(t, s); after > before+before/20 {
			t.Errorf("pruned room not reused: %d bytes before, %d after as many probes again", before, after)
		}
	})
}

// size is the size of the SQLite database or of PostgreSQL's probes table.
func (b backend) size(t *testing.T, s *SQL) int64 {
	t.Helper()
	var n int64
	q := `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`
	if b.name == "postgres" {
		q = `SELECT pg_table_size('probes')`
	}
	if err := s.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestProbesOfManyAddresses reads the probes of several source addresses
// in one query, in time order, with and without their payloads.
func TestProbesOfManyAddresses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		all := manyProbes(0, 1000, "")
		if _, err := s.InsertProbes(context.Background(), all); err != nil {
			t.Fatal(err)
		}
		a, c := netip.MustParseAddr("198.51.0.3"), netip.MustParseAddr("198.51.1.7")
		var want []probe.Probe
		for _, p := range all {
			if p.SrcIP == a || p.SrcIP == c {
				want = append(want, p)
			}
		}
		got := collect(t, s, ProbeQuery{SrcIPs: []netip.Addr{a, c, a}})
		if len(got) != len(want) || len(want) < 2 {
			t.Fatalf("%d probes of %s and %s, want %d", len(got), a, c, len(want))
		}
		for i := range got {
			if got[i].SrcIP != want[i].SrcIP || !got[i].Time.Equal(want[i].Time) || string(got[i].Payload) != string(want[i].Payload) {
				t.Fatalf("probe %d: %s at %s, want %s at %s", i, got[i].SrcIP, got[i].Time, want[i].SrcIP, want[i].Time)
			}
		}
		// SrcIP and SrcIPs together select either.
		if both := collect(t, s, ProbeQuery{SrcIP: a, SrcIPs: []netip.Addr{c}, NoPayload: true}); len(both) != len(want) {
			t.Fatalf("SrcIP with SrcIPs: %d probes, want %d", len(both), len(want))
		} else if both[0].Payload != nil || both[0].Fields.Value("Method") != "GET" {
			t.Fatalf("NoPayload: payload %q, fields %v", both[0].Payload, both[0].Fields)
		}
	})
}

// TestAddressLookupsUseTheHourIndex: SQLite finds an address's probes
// through the (hour, src_ip) index by skip-scan, one seek an hour, in every
// shape of lookup of given addresses (Probes, IPHistory), and on a
// reader's new connection too: the statistics that make the planner do it
// are stored with the index. Without them each lookup scans the whole
// table. (SensorAttributions, which joins every verdict with the probes,
// is left to SQLite: it builds a temporary index in one pass.)
func TestAddressLookupsUseTheHourIndex(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/t.db"
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Six hours, a probe every 2 s, from 40 addresses in turn: each
	// address in every hour.
	var all []probe.Probe
	for k := range 6 * 1800 {
		p := testProbe(int64(1_700_000_000+2*k), fmt.Sprintf("198.51.0.%d", k%40+1))
		p.Sensor = "hp-a"
		all = append(all, p)
	}
	if _, err := s.InsertProbes(ctx, all); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("198.51.0.7")
	got := collect(t, s, ProbeQuery{SrcIP: a})
	if len(got) != len(all)/40 || got[0].Time.Hour() == got[len(got)-1].Time.Hour() {
		t.Fatalf("%d probes of %s, want %d over six hours", len(got), a, len(all)/40)
	}
	if h, err := s.IPHistory(ctx, a); err != nil || h.Probes != len(all)/40 {
		t.Fatalf("history: %d probes, %v; want %d", h.Probes, err, len(all)/40)
	}
	reader, err := OpenReader(ctx, path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for name, db := range map[string]*sql.DB{"writer": s.db, "reader": reader.(*SQL).db} {
		for _, q := range []string{
			`SELECT * FROM probes WHERE src_ip = ? ORDER BY ts_ns`,
			`SELECT service, sensor, dst_port, COUNT(*), MIN(ts_ns), MAX(ts_ns) FROM probes WHERE src_ip = ? GROUP BY service, sensor, dst_port`,
			`SELECT * FROM probes WHERE src_ip IN (?, ?) AND service = ?`,
		} {
			args := make([]any, strings.Count(q, "?"))
			for i := range args {
				args[i] = "198.51.0.7"
			}
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			text := strings.Join(plan, "; ")
			if !strings.Contains(text, "USING INDEX probes_hour_src_ip (ANY(") || strings.Contains(text, "SCAN probes") {
				t.Errorf("%s: %s\nplan: %s", name, q, text)
			}
		}
	}
}

// TestProbesOfAStoreOfManyPayloads reads every probe of a period from a
// store of more payload rows than Probes reads whole: SQLite then reads
// each payload row when a probe first refers to it, PostgreSQL those the
// selection refers to, first. Either way each probe comes back as stored.
func TestProbesOfAStoreOfManyPayloads(t *testing.T) {
	defer func(n int64) { payloadsReadWhole = n }(payloadsReadWhole)
	payloadsReadWhole = 8
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		all := manyProbes(0, 300, "")
		for i := range all {
			uri := fmt.Sprintf("/%d", i%40) // 40 payload rows, each used by several probes
			all[i].Payload = []byte("GET " + uri + " HTTP/1.1\r\n\r\n")
			all[i].Fields = probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Url", Value: uri}}
		}
		if _, err := s.InsertProbes(context.Background(), all); err != nil {
			t.Fatal(err)
		}
		for _, q := range []ProbeQuery{{}, {NoPayload: true}, {From: all[100].Time, To: all[200].Time}} {
			got := collect(t, s, q)
			want := all
			if !q.From.IsZero() {
				want = all[100:200]
			}
			if len(got) != len(want) {
				t.Fatalf("%+v: %d probes, want %d", q, len(got), len(want))
			}
			for i, p := range got {
				w := want[i]
				if !p.Time.Equal(w.Time) || p.Fields.Value("Url") != w.Fields.Value("Url") ||
					(q.NoPayload != (p.Payload == nil)) || !q.NoPayload && string(p.Payload) != string(w.Payload) {
					t.Fatalf("%+v: probe %d = %s %q %q, want %s %q %q", q, i, p.Time, p.Fields.Value("Url"), p.Payload, w.Time, w.Fields.Value("Url"), w.Payload)
				}
			}
		}
	})
}
