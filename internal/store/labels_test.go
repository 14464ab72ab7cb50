package store

import (
	"context"
	"database/sql"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func rec(prefix, org, source string) LabelRecord {
	return LabelRecord{Prefix: netip.MustParsePrefix(prefix), Org: org, Source: source}
}

func countRows(t *testing.T, s *SQL, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteLabelsIsAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		keep := LabelSet{Origin: "old.csv", Labels: []LabelRecord{rec("192.0.2.0/24", "censys", "api")}, At: time.Now(),
			Import: &LabelImport{File: "old.csv", Format: "csv", Sources: []string{"api"}, Lines: 1, Labels: 1}}
		if added, err := s.WriteLabels(ctx, LabelWrite{Sets: []LabelSet{keep}}); err != nil || !slices.Equal(added, []int{1}) {
			t.Fatalf("first write: %v %v", added, err)
		}
		// A trigger that fails on the third row stands for any failure half-way
		// (disk full, constraint): neither the replaced source, nor the first
		// rows, nor the PTRs, nor the import log may change.
		refuseInserts(t, s, "label_entries", "boom", "boom refused")
		bad := LabelWrite{ReplaceSources: []string{"api"}, Sets: []LabelSet{{
			Origin: "new.csv", At: time.Now(),
			Labels: []LabelRecord{rec("198.51.100.1/32", "shodan", "api"), rec("198.51.100.2/32", "shodan", "api"), rec("198.51.100.3/32", "boom", "api")},
			PTRs:   []PTRRecord{{Addr: netip.MustParseAddr("198.51.100.1"), Name: "census1.shodan.io"}},
			Import: &LabelImport{File: "new.csv", Format: "csv"},
		}}}
		if _, err := s.WriteLabels(ctx, bad); err == nil || !strings.Contains(err.Error(), "boom refused") {
			t.Fatalf("want the trigger's failure, got %v", err)
		}
		ls, err := s.Labels(ctx, LabelQuery{})
		if err != nil || len(ls) != 1 || ls[0].Org != "censys" {
			t.Fatalf("a failed write changed the labels: %+v %v", ls, err)
		}
		if n := countRows(t, s, "label_ptr"); n != 0 {
			t.Errorf("a failed write left %d PTRs", n)
		}
		if n := countRows(t, s, "label_imports"); n != 1 {
			t.Errorf("import log has %d rows, want 1 (the failed import is rolled back)", n)
		}
		// An incomplete label is refused before anything is stored.
		if _, err := s.WriteLabels(ctx, LabelWrite{ReplaceSources: []string{"api"}, Sets: []LabelSet{{Labels: []LabelRecord{{Prefix: netip.MustParsePrefix("192.0.2.9/32"), Source: "x"}}}}}); err == nil {
			t.Error("label without org stored")
		}
		if n := countRows(t, s, "label_entries"); n != 1 {
			t.Errorf("a refused write removed labels: %d left", n)
		}
	})
}

func TestLabelQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		jan, feb := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
		dated := rec("192.0.2.7/32", "censys", "other")
		dated.ValidFrom, dated.ValidUntil, dated.Note = jan, feb, "January only"
		w := LabelWrite{Sets: []LabelSet{
			{Origin: "a", Labels: []LabelRecord{rec("192.0.2.0/24", "censys", "api"), dated}},
			{Origin: "b", Labels: []LabelRecord{rec("192.0.0.0/16", "shodan", "api"), rec("192.0.2.0/24", "censys", "api")}},
		}}
		added, err := s.WriteLabels(ctx, w)
		if err != nil || !slices.Equal(added, []int{2, 1}) {
			t.Fatalf("added %v, want [2 1] (the repeated label is kept once): %v", added, err)
		}
		cov, err := s.LabelsCovering(ctx, netip.MustParseAddr("::ffff:192.0.2.7"))
		if err != nil || len(cov) != 3 {
			t.Fatalf("covering: %+v %v", cov, err)
		}
		for _, l := range cov {
			if l.Prefix.Bits() == 32 && (!l.ValidFrom.Equal(jan) || !l.ValidUntil.Equal(feb) || l.Note != "January only") {
				t.Errorf("validity or note lost: %+v", l)
			}
		}
		if at, _ := s.Labels(ctx, LabelQuery{At: feb, Org: "censys"}); len(at) != 1 || at[0].Source != "api" {
			t.Errorf("censys labels valid on 1 Feb (end exclusive): %+v", at)
		}
		if at, _ := s.Labels(ctx, LabelQuery{At: jan, Source: "other"}); len(at) != 1 {
			t.Errorf("labels of source other valid on 1 Jan: %+v", at)
		}
		if srcs, _ := s.LabelSources(ctx); srcs["api"] != 2 || srcs["other"] != 1 {
			t.Errorf("sources %v", srcs)
		}
		// Replacing a source removes only that source.
		if _, err := s.WriteLabels(ctx, LabelWrite{ReplaceSources: []string{"api"}}); err != nil {
			t.Fatal(err)
		}
		if srcs, _ := s.LabelSources(ctx); len(srcs) != 1 || srcs["other"] != 1 {
			t.Errorf("after replacing api: %v", srcs)
		}
	})
}

func TestPTRsAndTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		addr := netip.MustParseAddr("198.20.69.74")
		for _, name := range []string{"old.example.com", "census1.shodan.io"} {
			set := LabelSet{Origin: "live", At: time.Unix(1e9, 0), PTRs: []PTRRecord{{Addr: addr, Name: name}}}
			if _, err := s.WriteLabels(ctx, LabelWrite{Sets: []LabelSet{set}}); err != nil {
				t.Fatal(err)
			}
		}
		if name, ok, err := s.PTR(ctx, netip.MustParseAddr("::ffff:198.20.69.74")); err != nil || !ok || name != "census1.shodan.io" {
			t.Errorf("PTR: %q %v %v (want the newer answer)", name, ok, err)
		}
		if _, ok, err := s.PTR(ctx, netip.MustParseAddr("192.0.2.1")); ok || err != nil {
			t.Errorf("PTR of an unknown address: %v %v", ok, err)
		}
		at := time.UnixMilli(1_700_000_000_123).UTC()
		first := TagRecord{Tag: "t1", Scanner: netip.MustParseAddr("192.0.2.5"), Sensor: "hp-1", IssuedAt: at}
		if err := s.RecordTag(ctx, first); err != nil {
			t.Fatal(err)
		}
		// A second record of the same tag must not move it to another scanner.
		if err := s.RecordTag(ctx, TagRecord{Tag: "t1", Scanner: netip.MustParseAddr("192.0.2.6"), Sensor: "hp-2", IssuedAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.TagRecipient(ctx, "t1")
		if err != nil || !ok || got != first {
			t.Errorf("tag t1: %+v %v %v, want %+v", got, ok, err, first)
		}
		if _, ok, err := s.TagRecipient(ctx, "t2"); ok || err != nil {
			t.Errorf("unrecorded tag: %v %v", ok, err)
		}
		// A batch keeps the first record of a tag too, within the batch and
		// against what is stored.
		batch := []TagRecord{
			{Tag: "t2", Scanner: netip.MustParseAddr("192.0.2.7"), Sensor: "hp-1", IssuedAt: at},
			{Tag: "t2", Scanner: netip.MustParseAddr("192.0.2.8"), Sensor: "hp-1", IssuedAt: at},
			{Tag: "t1", Scanner: netip.MustParseAddr("192.0.2.9"), Sensor: "hp-1", IssuedAt: at},
			{Tag: "t3", Scanner: netip.MustParseAddr("::ffff:192.0.2.10"), Sensor: "hp-3", IssuedAt: at},
		}
		if err := s.RecordTags(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for tag, want := range map[string]string{"t1": "192.0.2.5", "t2": "192.0.2.7", "t3": "192.0.2.10"} {
			got, ok, err := s.TagRecipient(ctx, tag)
			if err != nil || !ok || got.Scanner.String() != want {
				t.Errorf("tag %s after the batch: %+v %v %v, want scanner %s", tag, got, ok, err, want)
			}
		}
	})
}

func TestAttributionsReplaceSameWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		from, to := time.Unix(0, 1_700_000_000_000_000_001).UTC(), time.Unix(1_700_604_800, 0).UTC()
		first := []Attribution{
			{IP: "192.0.2.1", Org: "shodan", Probability: 0.9, Services: []string{"http", "tls"}, From: from, To: to, ModelVersion: "m1"},
			{IP: "192.0.2.2", Org: "censys", Probability: 0.8, Services: []string{"dns"}, From: from, To: to, ModelVersion: "m1"},
		}
		if err := s.PutAttributions(ctx, first); err != nil {
			t.Fatal(err)
		}
		again := Attribution{IP: "192.0.2.1", Org: "unknown", Probability: 0.4, From: from, To: to, ModelVersion: "m2"}
		if err := s.PutAttributions(ctx, []Attribution{again}); err != nil {
			t.Fatal(err)
		}
		all, err := s.Attributions(ctx, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("all: %+v %v", all, err)
		}
		if all[0].Org != "censys" || !slices.Equal(all[0].Services, []string{"dns"}) || !all[0].From.Equal(from) || !all[0].To.Equal(to) {
			t.Errorf("round trip: %+v", all[0])
		}
		if all[1].Org != "unknown" || all[1].ModelVersion != "m2" || all[1].Services != nil {
			t.Errorf("the same window identified again must replace the verdict: %+v", all[1])
		}
		if only, _ := s.Attributions(ctx, "censys"); len(only) != 1 || only[0].IP != "192.0.2.2" {
			t.Errorf("censys only: %+v", only)
		}
	})
}

// oldSchema is the DDL the releases before the store owned every table
// wrote, frozen here verbatim: an existing database must keep opening and
// keep its data whatever later steps add.
var oldSchema = []string{
	`CREATE TABLE schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`,
	`CREATE TABLE probes (
		id          INTEGER PRIMARY KEY,
		ts_ns       BIGINT  NOT NULL,
		src_ip      TEXT    NOT NULL,
		src_port    INTEGER NOT NULL,
		dst_ip      TEXT    NOT NULL,
		dst_port    INTEGER NOT NULL,
		transport   TEXT    NOT NULL,
		service     TEXT    NOT NULL,
		sensor      TEXT    NOT NULL DEFAULT '',
		fields      TEXT    NOT NULL DEFAULT '[]',
		payload     BLOB,
		payload_len INTEGER NOT NULL DEFAULT 0,
		parse_error TEXT    NOT NULL DEFAULT '',
		source_file TEXT    NOT NULL DEFAULT '',
		source_off  BIGINT  NOT NULL DEFAULT 0,
		UNIQUE (ts_ns, src_ip, src_port, dst_ip, dst_port, transport)
	);
	CREATE INDEX probes_service_ts ON probes (service, ts_ns);
	CREATE INDEX probes_src_ip ON probes (src_ip);`,
	`CREATE TABLE label_entries (
		id          INTEGER PRIMARY KEY,
		prefix      TEXT    NOT NULL,
		org         TEXT    NOT NULL,
		source      TEXT    NOT NULL,
		valid_from  BIGINT  NOT NULL DEFAULT 0,
		valid_until BIGINT  NOT NULL DEFAULT 0,
		note        TEXT    NOT NULL DEFAULT '',
		origin      TEXT    NOT NULL DEFAULT '',
		UNIQUE (prefix, org, source, valid_from, valid_until)
	);
	CREATE INDEX label_entries_org ON label_entries (org);
	CREATE INDEX label_entries_source ON label_entries (source);
	CREATE TABLE label_imports (
		id          INTEGER PRIMARY KEY,
		file        TEXT    NOT NULL,
		format      TEXT    NOT NULL,
		source      TEXT    NOT NULL,
		lines       INTEGER NOT NULL,
		labels      INTEGER NOT NULL,
		added       INTEGER NOT NULL,
		skipped     INTEGER NOT NULL,
		imported_at TEXT    NOT NULL
	);
	CREATE TABLE label_ptr (
		ip          TEXT    PRIMARY KEY,
		ptr         TEXT    NOT NULL,
		origin      TEXT    NOT NULL DEFAULT '',
		seen_at     BIGINT  NOT NULL DEFAULT 0
	);
	CREATE TABLE label_tags (
		tag         TEXT    PRIMARY KEY,
		scanner_ip  TEXT    NOT NULL,
		sensor      TEXT    NOT NULL,
		issued_at   BIGINT  NOT NULL
	);
	CREATE INDEX label_tags_ip ON label_tags (scanner_ip);`,
	`CREATE TABLE attributions (
		ip            TEXT    NOT NULL,
		window_start  BIGINT  NOT NULL,
		window_end    BIGINT  NOT NULL,
		org           TEXT    NOT NULL,
		probability   REAL    NOT NULL,
		services      TEXT    NOT NULL,
		model_version TEXT    NOT NULL,
		PRIMARY KEY (ip, window_start, window_end)
	);
	CREATE INDEX attributions_org ON attributions (org);`,
	`INSERT INTO schema_migrations VALUES ('core', 1, '2025-01-01T00:00:00Z'), ('label', 1, '2025-01-01T00:00:00Z'), ('attribution', 1, '2025-01-01T00:00:00Z');
	INSERT INTO probes (ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service, fields, payload, payload_len)
		VALUES (1700000000000000000, '198.51.100.7', 40000, '192.0.2.1', 80, 'tcp', 'http', '[{"name":"Method","value":"GET"}]', X'474554', 3);
	INSERT INTO label_entries (prefix, org, source, valid_from, valid_until, note, origin)
		VALUES ('198.51.100.0/24', 'shodan', 'api', 1704067200, 0, 'a note', 'old.csv');
	INSERT INTO label_imports VALUES (1, 'old.csv', 'csv', 'api', 1, 1, 1, 0, '2025-01-01T00:00:00Z');
	INSERT INTO label_ptr VALUES ('198.51.100.7', 'census1.shodan.io', 'live', 1704067200);
	INSERT INTO label_tags VALUES ('sg1.abc', '198.51.100.7', 'hp-1', 1704067200123);
	INSERT INTO attributions VALUES ('198.51.100.7', 1700000000000000000, 1700604800000000000, 'shodan', 0.75, 'http,tls', 'full-20240101T000000Z');`,
}

// oldDatabase writes a database file with statements as an older binary
// would have, without going through Open.
func oldDatabase(t *testing.T, statements ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for _, st := range statements {
		if _, err := old.Exec(st); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestOpenKeepsDataOfOldDatabase(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, oldDatabase(t, oldSchema...))
	if err != nil {
		t.Fatalf("the new code must open an old database: %v", err)
	}
	defer s.Close()
	var probes int
	for p, err := range s.Probes(ctx, ProbeQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.SrcIP.String() != "198.51.100.7" || p.Fields.Value("Method") != "GET" || string(p.Payload) != "GET" {
			t.Errorf("old probe: %+v", p)
		}
		probes++
	}
	if probes != 1 {
		t.Errorf("%d probes, want 1", probes)
	}
	ls, err := s.LabelsCovering(ctx, netip.MustParseAddr("198.51.100.7"))
	if err != nil || len(ls) != 1 || ls[0].Org != "shodan" || ls[0].Note != "a note" ||
		!ls[0].ValidFrom.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || !ls[0].ValidUntil.IsZero() {
		t.Errorf("old label: %+v %v", ls, err)
	}
	if name, ok, _ := s.PTR(ctx, netip.MustParseAddr("198.51.100.7")); !ok || name != "census1.shodan.io" {
		t.Errorf("old PTR: %q %v", name, ok)
	}
	if tag, ok, _ := s.TagRecipient(ctx, "sg1.abc"); !ok || tag.Scanner.String() != "198.51.100.7" || tag.IssuedAt.UnixMilli() != 1704067200123 {
		t.Errorf("old tag: %+v %v", tag, ok)
	}
	atts, err := s.Attributions(ctx, "shodan")
	if err != nil || len(atts) != 1 || atts[0].Probability != 0.75 || !slices.Equal(atts[0].Services, []string{"http", "tls"}) ||
		atts[0].To.UnixNano() != 1700604800000000000 || atts[0].ModelVersion != "full-20240101T000000Z" {
		t.Errorf("old attribution: %+v %v", atts, err)
	}
	// The old data is still writable: a re-import of the same label adds
	// nothing, and the old import log row stays.
	same := rec("198.51.100.0/24", "shodan", "api")
	same.ValidFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if added, err := s.WriteLabels(ctx, LabelWrite{Sets: []LabelSet{{Labels: []LabelRecord{same}, Import: &LabelImport{File: "old.csv"}}}}); err != nil || added[0] != 0 {
		t.Errorf("re-import into the old database: %v %v", added, err)
	}
	if n := countRows(t, s, "label_imports"); n != 2 {
		t.Errorf("import log has %d rows, want 2", n)
	}
}

// A database made before labels or attributions were ever used has only
// the core schema; opening it adds the other tables and keeps the probes.
func TestOpenAddsMissingComponents(t *testing.T) {
	ctx := context.Background()
	path := oldDatabase(t, oldSchema[0], oldSchema[1],
		`INSERT INTO schema_migrations VALUES ('core', 1, '2025-01-01T00:00:00Z');
		INSERT INTO probes (ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service) VALUES (1, '192.0.2.9', 1, '192.0.2.1', 53, 'udp', 'dns');`)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if counts, err := s.ServiceCounts(ctx, ProbeQuery{}); err != nil || len(counts) != 1 || counts[0].Probes != 1 {
		t.Errorf("old probes: %+v %v", counts, err)
	}
	if err := s.PutAttributions(ctx, []Attribution{{IP: "192.0.2.9", Org: "unknown", From: time.Unix(0, 0), To: time.Unix(1, 0)}}); err != nil {
		t.Errorf("attributions in an upgraded database: %v", err)
	}
	if _, err := s.WriteLabels(ctx, LabelWrite{Sets: []LabelSet{{Labels: []LabelRecord{rec("192.0.2.9/32", "x", "y")}}}}); err != nil {
		t.Errorf("labels in an upgraded database: %v", err)
	}
}
