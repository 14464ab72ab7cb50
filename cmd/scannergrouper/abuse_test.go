package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// abuseAPI is a local stand-in of the AbuseIPDB check endpoint: it answers
// the documented shapes, 401 for any key but "good-key", and 429 once
// quota answers were given.
type abuseAPI struct {
	mu    sync.Mutex
	quota int
	asked []string
}

func (a *abuseAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Key") != "good-key" {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked.","status":401}]}`)
		return
	}
	ip := r.URL.Query().Get("ipAddress")
	if len(a.asked) >= a.quota {
		w.Header().Set("Retry-After", "43200")
		w.WriteHeader(429)
		fmt.Fprint(w, `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}`)
		return
	}
	a.asked = append(a.asked, ip)
	score := 0
	if strings.HasPrefix(ip, "198.20.69.7") {
		score = 80
	}
	fmt.Fprintf(w, `{"data":{"ipAddress":%q,"isPublic":true,"abuseConfidenceScore":%d,"countryCode":"US","totalReports":2,"numDistinctUsers":1,"lastReportedAt":null,"reports":[{"categories":[14]},{"categories":[14,15]}]}}`, ip, score)
}

func TestAbuseCheckImportStats(t *testing.T) {
	db := storeWithVerdicts(t)
	dir := t.TempDir()
	labels := filepath.Join(dir, "labels.csv")
	os.WriteFile(labels, []byte("ip,org\n198.20.69.74,shodan\n198.20.69.75,shodan\n162.142.125.7,censys\n"), 0o644)
	if code, out, stderr := runCLIAll(t, "labels", "import", "--db", db, labels); code != 0 {
		t.Fatalf("labels import: %d %s%s", code, out, stderr)
	}
	api := &abuseAPI{quota: 3}
	srv := httptest.NewServer(api)
	defer srv.Close()
	check := func(args ...string) (int, string, string) {
		return runCLIAll(t, append([]string{"abuse", "check", "--db", db, "--api-url", srv.URL}, args...)...)
	}

	t.Setenv(abuseKeyEnv, "")
	if code, _, stderr := check(); code != exitUsage || !strings.Contains(stderr, abuseKeyEnv) {
		t.Errorf("no key: exit %d %s", code, stderr)
	}
	t.Setenv(abuseKeyEnv, "wrong-key")
	code, _, stderr := check()
	if code == 0 || !strings.Contains(stderr, "Authentication failed") || !strings.Contains(stderr, "HTTP 401") || strings.Contains(stderr, "wrong-key") {
		t.Errorf("wrong key: exit %d %s", code, stderr)
	}
	// The key from a file; the quota runs out after 3 of the 8 public IPs.
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("good-key\n"), 0o600)
	code, out, stderr := check("--key-file", keyFile)
	if code == 0 || !strings.Contains(stderr, "quota") || !strings.Contains(stderr, "3 checks stored") || !strings.Contains(out, "5 left") {
		t.Fatalf("quota mid-run: exit %d\n%s%s", code, out, stderr)
	}
	// The quota is back: the rerun checks only the 5 left.
	api.quota = 100
	code, out, stderr = check("--key-file", keyFile, "--json")
	var rep struct{ Wanted, Fresh, Checked, Left int }
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Wanted != 8 || rep.Fresh != 3 || rep.Checked != 5 || len(api.asked) != 8 {
		t.Fatalf("rerun: exit %d %+v asked %v\n%s%s", code, rep, api.asked, out, stderr)
	}

	// Offline results: a newer score for one IP, a malformed line.
	results := filepath.Join(dir, "results.jsonl")
	os.WriteFile(results, []byte(`{"data":{"ipAddress":"162.142.125.8","abuseConfidenceScore":90,"reports":[{"categories":[18]}]},"checkedAt":"2099-01-01T00:00:00Z"}`+"\n{not json\n"), 0o644)
	code, out, stderr = runCLIAll(t, "abuse", "import", "--db", db, results)
	if code != 0 || !strings.Contains(out, "1 checks stored, 1 skipped") || !strings.Contains(stderr, "results.jsonl:2: malformed JSON") {
		t.Errorf("import: exit %d\n%s%s", code, out, stderr)
	}

	figDir := filepath.Join(dir, "fig")
	code, out, stderr = runCLIAll(t, "abuse", "stats", "--db", db, "--json", "--out", figDir)
	if code != 0 {
		t.Fatalf("stats: exit %d\n%s%s", code, out, stderr)
	}
	var sum abuseStatsSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	got := map[string][4]int{}
	for _, o := range sum.Orgs {
		got[o.Org] = [4]int{o.Listed.IPs, o.Listed.Abusive, o.Attributed.IPs, o.Attributed.Abusive}
	}
	// shodan: .74 .75 listed (80 each), .72 .73 and two IPv6 attributed
	// (.72 .73 score 80); censys: .7 listed (0), .8 attributed (90, imported).
	if want := map[string][4]int{"shodan": {2, 2, 4, 2}, "censys": {1, 0, 1, 1}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stats %v, want %v", got, want)
	}
	if len(sum.Figures) != 2 {
		t.Fatalf("figures %v", sum.Figures)
	}
	svg, _ := os.ReadFile(filepath.Join(figDir, "abuse_by_org.svg"))
	png, _ := os.ReadFile(filepath.Join(figDir, "abuse_by_org.png"))
	if !strings.Contains(string(svg), ">shodan<") || !strings.Contains(string(svg), ">censys<") || len(png) < 1000 {
		t.Errorf("figure: svg %d bytes, png %d bytes", len(svg), len(png))
	}
	code, out, _ = runCLIAll(t, "abuse", "stats", "--db", db)
	if code != 0 || !strings.Contains(out, "Port Scan") || !strings.Contains(out, "attributed") {
		t.Errorf("stats table: exit %d\n%s", code, out)
	}
}
