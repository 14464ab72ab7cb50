package store

import (
	"context"
	"net/netip"
	"path/filepath"
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

func TestInsertIsIdempotentAndRoundTrips(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := []probe.Probe{testProbe(100, "198.51.100.7"), testProbe(50, "2001:db8::1")}
	if n, err := s.InsertProbes(ctx, batch); err != nil || n != 2 {
		t.Fatalf("first insert: n=%d err=%v", n, err)
	}
	if n, err := s.InsertProbes(ctx, batch); err != nil || n != 0 {
		t.Fatalf("second insert of the same probes: n=%d err=%v, want 0 new", n, err)
	}
	var got []probe.Probe
	for p, err := range s.Probes(ctx, ProbeQuery{Service: "http"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
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
}

func TestPayloadIsCappedButLengthKept(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := testProbe(1, "198.51.100.9")
	p.Payload = make([]byte, probe.StoredPayloadCap+100)
	if _, err := s.InsertProbes(ctx, []probe.Probe{p}); err != nil {
		t.Fatal(err)
	}
	var stored, length int
	if err := s.db.QueryRow(`SELECT length(payload), payload_len FROM probes`).Scan(&stored, &length); err != nil {
		t.Fatal(err)
	}
	if stored != probe.StoredPayloadCap || length != probe.StoredPayloadCap+100 {
		t.Fatalf("stored %d bytes, length %d", stored, length)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
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
	s.Close()
}

func TestOpenRefusesPostgresForNow(t *testing.T) {
	s, err := Open(context.Background(), "postgres://db.example/sg")
	if err == nil || s != nil {
		t.Fatalf("want an error and no store, got %v %v", s, err)
	}
}
