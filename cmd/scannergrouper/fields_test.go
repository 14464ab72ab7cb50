package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// simulatedStore runs simulate (tiny world) and ingest in-process: the
// fields and export commands then read probes parsed by the real parsers.
func simulatedStore(t *testing.T) (db, labels string) {
	t.Helper()
	dir := t.TempDir()
	world := filepath.Join(dir, "world")
	db = filepath.Join(dir, "sg.db")
	if code, _ := runCLI(t, "simulate", "--out", world, "--preset", "tiny"); code != exitOK {
		t.Fatalf("simulate exit %d", code)
	}
	pcaps, err := filepath.Glob(filepath.Join(world, "pcap", "*.pcap"))
	if err != nil || len(pcaps) == 0 {
		t.Fatalf("no pcaps: %v", err)
	}
	if code, _ := runCLI(t, append([]string{"--db", db, "ingest"}, pcaps...)...); code != exitOK {
		t.Fatalf("ingest exit %d", code)
	}
	return db, filepath.Join(world, "labels.csv")
}

func TestFieldsCommand(t *testing.T) {
	db, labels := simulatedStore(t)
	code, out := runCLI(t, "--db", db, "fields", "--service", "tls", "--labels", labels, "--mode", "paper")
	if code != exitOK {
		t.Fatalf("fields exit %d: %s", code, out)
	}
	// The paper's MI puts the per-connection random bytes among the top six.
	if !strings.Contains(out, "SEL") || !selectedIn(out, "handshake_random_bytes") {
		t.Errorf("paper mode did not select handshake_random_bytes:\n%s", out)
	}
	code, out = runCLI(t, "--db", db, "--json", "fields", "--service", "tls", "--labels", labels)
	if code != exitOK {
		t.Fatalf("fields --json exit %d", code)
	}
	var table feature.FieldTable
	if err := json.Unmarshal([]byte(out), &table); err != nil {
		t.Fatalf("fields --json: %v\n%s", err, out)
	}
	if table.Labelled == 0 || table.Mode != feature.SelectDefault {
		t.Errorf("table: %d labelled, mode %q", table.Labelled, table.Mode)
	}
	for _, f := range table.Fields {
		if f.Selected && (f.Field == "handshake_random_bytes" || f.Field == "handshake_time") {
			t.Errorf("default mode selected the near-unique %s (AMI %.3f)", f.Field, f.AMI)
		}
	}
	for _, bad := range [][]string{
		{"fields"},
		{"fields", "--service", "smtp"},
		{"fields", "--service", "http", "--mode", "best"},
		{"fields", "--service", "http", "--from", "last week"},
	} {
		if code, _ := runCLI(t, append([]string{"--db", db}, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	if code, _ := runCLI(t, "--db", db, "fields", "--service", "http", "--labels", filepath.Join(t.TempDir(), "none.csv")); code != exitError {
		t.Errorf("missing label file: exit %d, want %d", code, exitError)
	}
}

// selectedIn reports whether the table row of field carries the selection mark.
func selectedIn(table, field string) bool {
	for _, line := range strings.Split(table, "\n") {
		fs := strings.Fields(line)
		if len(fs) >= 2 && fs[0] == "*" && fs[1] == field {
			return true
		}
	}
	return false
}

func TestExportCommand(t *testing.T) {
	db, labels := simulatedStore(t)
	out1 := filepath.Join(t.TempDir(), "http")
	code, out := runCLI(t, "--db", db, "--json", "export", "--service", "http", "--from", "2024-02-01", "--to", "2030-01-01",
		"--format", "npy", "--out", out1, "--labels", labels)
	if code != exitOK {
		t.Fatalf("export exit %d: %s", code, out)
	}
	var summary struct {
		Probes, Side int
		Unique       int `json:"unique_images"`
	}
	if err := json.Unmarshal([]byte(out), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Probes == 0 || summary.Unique == 0 || summary.Unique > summary.Probes {
		t.Errorf("summary %+v", summary)
	}
	for _, name := range []string{feature.ExportImages, feature.ExportMetaCSV, feature.ExportIP, feature.ExportTime,
		feature.ExportService, feature.ExportLabel, feature.ExportLayout} {
		if st, err := os.Stat(filepath.Join(out1, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	meta, err := os.ReadFile(filepath.Join(out1, feature.ExportMetaCSV))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(meta), "\n"); rows != summary.Probes+1 {
		t.Errorf("meta.csv has %d lines for %d probes", rows, summary.Probes)
	}
	// Reusing the saved layout encodes the same probes identically.
	out2 := filepath.Join(t.TempDir(), "again")
	if code, out := runCLI(t, "--db", db, "export", "--service", "http", "--out", out2,
		"--layout", filepath.Join(out1, feature.ExportLayout)); code != exitOK {
		t.Fatalf("export --layout exit %d: %s", code, out)
	}
	a, _ := os.ReadFile(filepath.Join(out1, feature.ExportImages))
	b, _ := os.ReadFile(filepath.Join(out2, feature.ExportImages))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("export with the saved layout wrote different images")
	}
	for _, bad := range [][]string{
		{"export", "--service", "http", "--out", out2, "--format", "parquet"},
		{"export", "--service", "http"},
		{"export", "--service", "tls", "--out", out2, "--layout", filepath.Join(out1, feature.ExportLayout)},
		{"export", "--service", "http", "--out", out2, "--layout-mode", "weekly"},
	} {
		if code, _ := runCLI(t, append([]string{"--db", db}, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	// HTTP selection without labels cannot rank fields.
	if code, _ := runCLI(t, "--db", db, "export", "--service", "http", "--out", out2); code != exitError {
		t.Errorf("export without labels or layout: exit %d, want %d", code, exitError)
	}
}
