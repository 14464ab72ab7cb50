package store

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all" // TLS declares its renamings
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// oldTLSNames is what binaries before the JA3 renaming stored: "ja3" the
// full string, "ja3_md5" its hash.
var oldTLSNames = map[string]string{"ja3_string": "ja3", "ja3": "ja3_md5"}

// TestStoredProbesGetCurrentFieldNames: a store filled before TLS's "ja3"
// meant the MD5 reads, once reopened, exactly as if its ClientHellos had
// been parsed today, and a header that happens to be called "ja3" in an HTTP
// probe is left alone.
func TestStoredProbesGetCurrentFieldNames(t *testing.T) {
	type rec struct {
		sharedtest.CorpusProbe
		TLS *struct{} `json:"tls"`
	}
	tlsSvc, ok := probe.Lookup("tls")
	if !ok {
		t.Fatal("tls not registered")
	}
	var fresh []probe.Probe
	for i, r := range sharedtest.ProbeCorpus[rec](t) {
		if r.TLS == nil || len(fresh) == 3 {
			continue
		}
		payload, err := hex.DecodeString(r.PayloadHex)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := tlsSvc.Parse(payload, probe.TCP)
		if err != nil {
			t.Fatalf("%s: %v", r.Tool, err)
		}
		p := testProbe(int64(1000+i), "198.51.100.9")
		p.Service, p.Payload, p.Fields = "tls", payload, fs
		fresh = append(fresh, p)
	}
	if len(fresh) == 0 {
		t.Fatal("no TLS probe in the corpus")
	}
	old := make([]probe.Probe, len(fresh))
	for i, p := range fresh {
		p.Fields = slices.Clone(p.Fields)
		for j := range p.Fields {
			if o, ok := oldTLSNames[p.Fields[j].Name]; ok {
				p.Fields[j].Name = o
			}
		}
		old[i] = p
	}
	httpProbe := testProbe(1, "198.51.100.10")
	httpProbe.Fields = append(httpProbe.Fields, probe.Field{Name: "ja3", Value: "not a TLS field"}, probe.Field{Name: "ja3_md5", Value: "x"})

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Make it a store of the older binary: old names, no renaming applied.
	if _, err := s.InsertProbes(ctx, append(old, httpProbe)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE component = 'fields:tls'`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md5hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	i := 0
	for p, err := range s.Probes(ctx, ProbeQuery{Service: "tls"}) {
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(p.Fields, fresh[i].Fields, func(a, b probe.Field) bool {
			return a.Name == b.Name && a.Value == b.Value && slices.Equal(a.Items, b.Items)
		}) {
			t.Errorf("migrated probe %d:\n%v\nwant\n%v", i, p.Fields, fresh[i].Fields)
		}
		if v := p.Fields.Value("ja3"); !md5hex.MatchString(v) {
			t.Errorf("migrated probe %d: ja3 %q is not an MD5 hex", i, v)
		}
		i++
	}
	if i != len(fresh) {
		t.Fatalf("read %d TLS probes, stored %d", i, len(fresh))
	}
	for p, err := range s.Probes(ctx, ProbeQuery{Service: "http"}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Fields.Value("ja3") != "not a TLS field" || p.Fields.Value("ja3_md5") != "x" {
			t.Errorf("an HTTP probe's headers were renamed: %v", p.Fields)
		}
	}
	// Opening again applies nothing twice.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	for p := range s.Probes(ctx, ProbeQuery{Service: "tls", Limit: 1}) {
		if !md5hex.MatchString(p.Fields.Value("ja3")) {
			t.Errorf("second open renamed again: ja3 %q", p.Fields.Value("ja3"))
		}
	}
}

func TestRenameStepSwapsAndRefusesOddNames(t *testing.T) {
	step, err := renameStep("svc", map[string]string{"a": "b", "b": "a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := testProbe(5, "198.51.100.11")
	p.Service = "svc"
	p.Fields = probe.Fields{{Name: "a", Value: `{"name":"b",`}, {Name: "b", Value: "2"}, {Name: "c", Value: "3"}}
	if _, err := s.InsertProbes(ctx, []probe.Probe{p}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, step); err != nil {
		t.Fatal(err)
	}
	for got, err := range s.Probes(ctx, ProbeQuery{Service: "svc"}) {
		if err != nil {
			t.Fatal(err)
		}
		want := probe.Fields{{Name: "b", Value: `{"name":"b",`}, {Name: "a", Value: "2"}, {Name: "c", Value: "3"}}
		if !slices.EqualFunc(got.Fields, want, func(x, y probe.Field) bool { return x.Name == y.Name && x.Value == y.Value }) {
			t.Errorf("swapped fields %v, want %v", got.Fields, want)
		}
	}
	for _, bad := range []map[string]string{{"a'": "b"}, {"a": `b"`}, {"": "b"}, {"a": "é"}} {
		if _, err := renameStep("svc", bad); err == nil {
			t.Errorf("renameStep accepted %q", bad)
		}
	}
}
