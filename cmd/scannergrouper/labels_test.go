package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// runLabelsCLI is runCLI that also returns stderr.
func runLabelsCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var errBuf bytes.Buffer
	rootCmd.SetErr(&errBuf)
	defer rootCmd.SetErr(nil)
	code, out := runCLI(t, args...)
	return code, out, errBuf.String()
}

func TestLabelsImportLookupExport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sg.db")
	truth := sharedtest.Path(t, "reference", "labels_SelfDeploy24.csv")
	code, out, _ := runLabelsCLI(t, "labels", "--db", db, "import", truth)
	if code != exitOK || !strings.Contains(out, "4182") || !strings.Contains(out, "29205") {
		t.Fatalf("import: code %d\n%s", code, out)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "lookup", "--at", "2024-03-01", "162.142.125.10", "1.11.62.190")
	if code != exitOK || !strings.Contains(out, "162.142.125.10\tcensys\t(at 2024-03-01)") || !strings.Contains(out, "1.11.62.190\tunknown") {
		t.Fatalf("lookup: code %d\n%s", code, out)
	}
	exported := filepath.Join(t.TempDir(), "out.csv")
	if code, _, errs := runLabelsCLI(t, "labels", "--db", db, "export", "-o", exported); code != exitOK {
		t.Fatalf("export: %d %s", code, errs)
	}
	// The export holds exactly the attributed rows of the ground truth.
	read := func(path string) map[string]string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range rows[1:] {
			if r[1] != "unknown" {
				m[r[0]] = strings.ToLower(r[1])
			}
		}
		return m
	}
	want, got := read(truth), read(exported)
	if len(got) != len(want) {
		t.Errorf("export has %d rows, truth %d attributed", len(got), len(want))
	}
	for ip, org := range want {
		if got[ip] != org {
			t.Errorf("%s exported as %q, want %q", ip, got[ip], org)
		}
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "list", "--org", "webRay")
	if code != exitOK || strings.Count(out, "\n") != 1 {
		t.Errorf("list of an org without labels: %d %q", code, out)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "list", "--org", "x_threatbook")
	if code != exitOK || strings.Count(out, "x_threatbook") != 1 {
		t.Errorf("list --org x_threatbook: %d %q", code, out)
	}
}

func TestLabelsImportReportsMalformedLines(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	list := filepath.Join(dir, "shodan.txt")
	if err := os.WriteFile(list, []byte("# shodan\r\n198.20.69.74\r\n198.20.69.0/33\r\n2a01:4f8::1\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runLabelsCLI(t, "labels", "--db", db, "import", "--from", "2024-01-01", "--until", "2024-12-31", list)
	if code != exitOK {
		t.Fatalf("import: %d %s", code, errs)
	}
	if !strings.Contains(errs, list+`:3: "198.20.69.0/33" is not a CIDR`) {
		t.Errorf("stderr lacks the file:line report:\n%s", errs)
	}
	if !strings.Contains(out, "shodan") {
		t.Errorf("report:\n%s", out)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "lookup", "--at", "2025-01-01", "198.20.69.74")
	if code != exitOK || !strings.Contains(out, "198.20.69.74\tunknown") {
		t.Errorf("label valid through 2024 still applies in 2025:\n%s", out)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "lookup", "--at", "2024-12-31T23:00:00Z", "198.20.69.74")
	if code != exitOK || !strings.Contains(out, "198.20.69.74\tshodan") {
		t.Errorf("--until is inclusive of its day:\n%s", out)
	}
	// --strict: nothing stored, exit 1.
	db2 := filepath.Join(dir, "sg2.db")
	if code, _, errs := runLabelsCLI(t, "labels", "--db", db2, "import", "--strict", list); code != exitError || !strings.Contains(errs, ":3:") {
		t.Errorf("strict: code %d %s", code, errs)
	}
	if code, out, _ := runLabelsCLI(t, "labels", "--db", db2, "list"); code != exitOK || strings.Count(out, "\n") != 1 {
		t.Errorf("strict import stored labels:\n%s", out)
	}
	for _, args := range [][]string{
		{"labels", "--db", db, "import"},
		{"labels", "--db", db, "import", "--format", "xml", list},
		{"labels", "--db", db, "import", "--from", "soon", list},
		{"labels", "--db", db, "lookup", "not-an-ip"},
		{"labels", "--db", db, "lookup", "--policy", "most", "1.2.3.4"},
		{"labels", "--db", db, "import-tags", list},
	} {
		if code, _, _ := runLabelsCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestLabelsStatsOverScannerLists(t *testing.T) {
	if testing.Short() {
		t.Skip("imports every list (270k lines); the unified list alone is covered in internal/label")
	}
	db := filepath.Join(t.TempDir(), "sg.db")
	dir := sharedtest.Path(t, "realdata", "scanner_ip_lists")
	code, out, errs := runLabelsCLI(t, "labels", "--db", db, "import", "-q", dir)
	if code != exitOK {
		t.Fatalf("import: %d %s", code, errs)
	}
	if !strings.Contains(out, "unified_scanner_ips.csv") || !strings.Contains(out, "surveyscanner_all_periods.csv") {
		t.Errorf("import report:\n%s", out)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "stats", "--reference", "nict-2026Q1", "--conflicts")
	if code != exitOK {
		t.Fatal(code)
	}
	for _, want := range []string{"[reference addresses vs union of the other sources]", "censys                 1036      100.0%",
		"[pairwise coverage", "[conflicts:"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lacks %q", want)
		}
	}
}

func TestLabelsTagRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	keyFile := filepath.Join(dir, "tag.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, tag, errs := runLabelsCLI(t, "labels", "--db", db, "tag", "--key-file", keyFile, "--sensor", "hp-7", "--ip", "66.132.148.9", "--at", "2024-02-10T08:00:00Z")
	tag = strings.TrimSpace(tag)
	if code != exitOK || !strings.HasPrefix(tag, "sgt1_") {
		t.Fatalf("tag: %d %q %s", code, tag, errs)
	}
	export := filepath.Join(dir, "shodan.jsonl")
	content := fmt.Sprintf(`{"ip_str":"203.0.113.5","port":80,"data":"HTTP/1.1 200 OK\r\nSet-Cookie: id=%s; HttpOnly\r\n"}`+"\n", tag)
	if err := os.WriteFile(export, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runLabelsCLI(t, "labels", "--db", db, "import-tags", "--key-file", keyFile, "--org", "Shodan", export)
	if code != exitOK || !strings.Contains(out, "1 valid") || !strings.Contains(out, "66.132.148.9") {
		t.Fatalf("import-tags: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "lookup", "--at", "2024-03-01", "66.132.148.9")
	if code != exitOK || !strings.Contains(out, "66.132.148.9\tshodan") || !strings.Contains(out, "cookie-tag") {
		t.Errorf("lookup after import-tags:\n%s", out)
	}
	// Another key opens nothing.
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte(strings.Repeat("a5", 32)), 0o600)
	code, out, _ = runLabelsCLI(t, "labels", "--db", db, "import-tags", "--key-file", other, "--org", "shodan", export)
	if code != exitOK || !strings.Contains(out, "0 valid, 1 rejected") {
		t.Errorf("foreign key: %d\n%s", code, out)
	}
}
