package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// storeWithVerdicts makes a store holding verdicts of two known orgs, an
// aggregate list and the unknown class, without training anything.
func storeWithVerdicts(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "v.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	from := time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)
	to := from.Add(7 * 24 * time.Hour)
	var atts []store.Attribution
	add := func(org string, ips ...string) {
		for _, ip := range ips {
			atts = append(atts, store.Attribution{IP: ip, Org: org, Probability: 0.9, Services: []string{"http"}, From: from, To: to, ModelVersion: "m1"})
		}
	}
	add("shodan", "198.20.69.74", "198.20.69.75", "198.20.69.72", "198.20.69.73", "2001:db8::1", "2001:db8::")
	add("censys", "162.142.125.7", "162.142.125.8")
	add("unknown", "203.0.113.5")
	if err := st.PutAttributions(context.Background(), atts); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestListsFormats(t *testing.T) {
	db := storeWithVerdicts(t)
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLIAll(t, "lists", "--db", db, "--all", "--format", "cidr", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "shodan.cidr"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# shodan scanner IPs attributed by scannergrouper\n198.20.69.72/30\n2001:db8::/127\n"; string(b) != want {
		t.Errorf("shodan.cidr:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(out, "unknown.cidr")); err == nil {
		t.Error("the unknown class got a list")
	}

	code, stdout, stderr = runCLIAll(t, "lists", "--db", db, "--all", "--format", "misp", "--combined", "--json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	var sum listsSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Orgs) != 1 || sum.Orgs[0].IPs != 8 || sum.Orgs[0].Prefixes != 4 {
		t.Fatalf("summary %+v", sum)
	}
	b, err = os.ReadFile(filepath.Join(out, "research-scanners.misp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wl struct {
		Name, Description, Type string
		Version                 int64
		List                    []string
		MatchingAttributes      []string `json:"matching_attributes"`
	}
	if err := json.Unmarshal(b, &wl); err != nil {
		t.Fatal(err)
	}
	if wl.Type != "cidr" || wl.Version != 20260810 || !strings.Contains(wl.Description, "censys, shodan") ||
		!slices.Equal(wl.List, []string{"162.142.125.7/32", "162.142.125.8/32", "198.20.69.72/30", "2001:db8::/127"}) ||
		!slices.Contains(wl.MatchingAttributes, "ip-src") {
		t.Errorf("warninglist %+v", wl)
	}

	// The warninglist written reads back as labels of every address.
	labelsDB := filepath.Join(t.TempDir(), "l.db")
	listDir := filepath.Join(t.TempDir(), "shodan-scanning")
	os.MkdirAll(listDir, 0o755)
	if code, stdout, stderr = runCLIAll(t, "lists", "--db", db, "--org", "shodan", "--format", "misp", "--out", listDir); code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	os.Rename(filepath.Join(listDir, "shodan.misp.json"), filepath.Join(listDir, "list.json"))
	code, stdout, stderr = runCLIAll(t, "labels", "import", "--db", labelsDB, "--json", filepath.Join(listDir, "list.json"))
	if code != 0 || !strings.Contains(stdout, `"labels":2`) || !strings.Contains(stdout, `"format":"misp"`) {
		t.Errorf("import of the written warninglist: exit %d: %s%s", code, stdout, stderr)
	}

	for _, f := range []string{"nft", "ipset"} {
		if code, stdout, stderr = runCLIAll(t, "lists", "--db", db, "--org", "censys", "--format", f, "--out", out); code != 0 {
			t.Fatalf("%s: exit %d: %s%s", f, code, stdout, stderr)
		}
		b, _ := os.ReadFile(filepath.Join(out, "censys."+f))
		if !strings.Contains(string(b), "162.142.125.7") || strings.Contains(string(b), "_v6") {
			t.Errorf("censys.%s:\n%s", f, b)
		}
	}
	if code, _, _ = runCLIAll(t, "lists", "--db", db, "--all", "--format", "pdf", "--out", out); code != exitUsage {
		t.Errorf("--format pdf: exit %d, want a usage error", code)
	}
	if code, _, _ = runCLIAll(t, "lists", "--db", db, "--all", "--combined", "--out", out); code != exitUsage {
		t.Errorf("--combined with txt: exit %d, want a usage error", code)
	}
}

// TestLabelsImportZeroLabelsWarns: a non-empty file that yields no label is
// never a silent success.
func TestLabelsImportZeroLabelsWarns(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "l.db")
	unknown := filepath.Join(dir, "artifact.csv")
	os.WriteFile(unknown, []byte("IP,Label\n192.0.2.1,unknown\n192.0.2.2,unknown\n"), 0o644)
	code, _, stderr := runCLIAll(t, "labels", "import", "--db", db, unknown)
	if code != 0 || !strings.Contains(stderr, "warning: "+unknown+": 2 data lines, no label stored") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	garbage := filepath.Join(dir, "notes.txt")
	os.WriteFile(garbage, []byte("hello there\nnot a list\n"), 0o644)
	code, _, stderr = runCLIAll(t, "labels", "import", "--db", db, garbage)
	if code == 0 || !strings.Contains(stderr, garbage) {
		t.Errorf("a file without one label: exit %d, stderr %q", code, stderr)
	}
}
