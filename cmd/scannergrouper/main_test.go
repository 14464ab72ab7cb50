package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scannergrouper/scannergrouper/internal/buildinfo"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// runCLI runs the CLI in-process and returns its exit code and stdout.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	resetFlags(rootCmd)
	code := run(args)
	rootCmd.SetOut(nil)
	return code, out.String()
}

// resetFlags restores every flag to its default: cobra keeps values between
// Execute calls in one process.
func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			sv.Replace(nil)
		} else {
			f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, sub := range c.Commands() {
		resetFlags(sub)
	}
}

func TestExitCodes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sg.db")
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, exitOK},
		{[]string{"no-such-command"}, exitUsage},
		{[]string{"probes", "--db", db, "--no-such-flag"}, exitUsage},
		{[]string{"probes", "--db", db, "--format", "xml"}, exitUsage},
		{[]string{"probes", "--db", db, "--from", "yesterday"}, exitUsage},
		{[]string{"ingest", "--db", db}, exitUsage},
		{[]string{"ingest", "--db", db, filepath.Join(t.TempDir(), "missing.pcap")}, exitError},
		{[]string{"probes", "--db", db}, exitOK},
		// train and evaluate share their model flags and checks.
		{[]string{"train", "--db", db, "--min-purity", "0.3"}, exitUsage},
		{[]string{"train", "--db", db, "--backbone", "resnet"}, exitUsage},
		{[]string{"evaluate", "--db", db, "--labels", "x.csv", "--unknown-share", "2"}, exitUsage},
		{[]string{"evaluate", "--db", db, "--labels", "x.csv", "--iterations", "0"}, exitUsage},
	}
	for _, c := range cases {
		if code, _ := runCLI(t, c.args...); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
	}
}

func TestIngestThenListProbes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sg.db")
	pcap := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	code, out := runCLI(t, "ingest", "--db", db, "--json", pcap)
	if code != exitOK {
		t.Fatalf("ingest exit %d: %s", code, out)
	}
	var res struct {
		Stored    int            `json:"stored"`
		ByService map[string]int `json:"by_service"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Stored != 381 || res.ByService["dns"] != 7 {
		t.Fatalf("ingest --json: %v %s", err, out)
	}
	code, out = runCLI(t, "probes", "--db", db, "--service", "http", "--src", "127.0.0.1", "--format", "csv", "--limit", "0")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 1+29 || !strings.HasPrefix(lines[0], "time,src_ip,src_port") {
		t.Fatalf("probes csv: exit %d, %d lines", code, len(lines))
	}
	if !strings.Contains(out, "UA: curl/7.88.1") {
		t.Errorf("curl's request missing from the listing")
	}
	code, out = runCLI(t, "probes", "--db", db, "--service", "tls", "--limit", "1", "--json")
	var rec struct {
		Service    string `json:"service"`
		PayloadHex string `json:"payload_hex"`
		Fields     []struct{ Name, Value string }
	}
	if err := json.Unmarshal([]byte(out), &rec); code != exitOK || err != nil || rec.Service != "tls" || !strings.HasPrefix(rec.PayloadHex, "16") {
		t.Fatalf("probes jsonl: exit %d err %v: %s", code, err, out)
	}
	os.Remove(db)
}

// TestDemoOnTinyWorld runs the README's first command on the tiny preset.
func TestDemoOnTinyWorld(t *testing.T) {
	out := t.TempDir()
	code, stdout := runCLI(t, "demo", "--preset", "tiny", "--out", out)
	if code != exitOK {
		t.Fatalf("demo exit %d:\n%s", code, stdout)
	}
	for _, want := range []string{"first probes per service", "weighted avg", "over-attribution", "report.json", "analysis report"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, f := range []string{"report.json", "predictions.csv", "scannergrouper.db", "world/truth.csv", "analysis/report.md", "analysis/http_clusters.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
	if testing.Short() {
		return
	}
	// Running it again into the same folder works (fresh store, same world);
	// with --json it prints one JSON object that carries the report.
	code, stdout = runCLI(t, "demo", "--json", "--preset", "tiny", "--out", out)
	var sum struct {
		Report struct {
			Classes []map[string]any `json:"classes"`
		} `json:"report"`
		ReportFile string `json:"report_file"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); code != exitOK || err != nil || len(sum.Report.Classes) == 0 || sum.ReportFile == "" {
		t.Fatalf("second demo (--json) exit %d, %v:\n%s", code, err, stdout)
	}
}

// TestTrainIdentifyLists: models trained on the first days attribute the
// last ones, the verdicts are stored, and per-org lists are written.
func TestTrainIdentifyLists(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	if code, out := runCLI(t, "simulate", "--out", filepath.Join(dir, "w"), "--preset", "tiny"); code != exitOK {
		t.Fatalf("simulate: %s", out)
	}
	if code, out := runCLI(t, "ingest", "--db", db, filepath.Join(dir, "w", "pcap")); code != exitOK {
		t.Fatalf("ingest: %s", out)
	}
	code, out := runCLI(t, "train", "--db", db, "--labels", filepath.Join(dir, "w", "labels.csv"), "--to", "2024-02-06", "--iterations", "200")
	if code != exitOK || !strings.Contains(out, "saved in "+db+".models") {
		t.Fatalf("train exit %d: %s", code, out)
	}
	if b := readManifestBuild(t, db+".models"); b.Module != buildinfo.ModulePath || b.GoVersion == "" {
		t.Errorf("manifest records build %+v", b)
	}
	code, out = runCLI(t, "identify", "--db", db, "--from", "2024-02-06", "--format", "csv")
	if code != exitOK || !strings.HasPrefix(out, "ip,org,probability,services,label,evidence,new_ip,window_start,window_end\n") || strings.Count(out, "\n") < 10 {
		t.Fatalf("identify exit %d: %s", code, out)
	}
	whole := strings.Count(out, "\n") - 1
	// Day by day: every row names its day, the days are 02-06 and 02-07,
	// and an IP seen on both days has a verdict for each.
	code, out = runCLI(t, "identify", "--db", db, "--from", "2024-02-06", "--window", "1d", "--format", "csv")
	if code != exitOK {
		t.Fatalf("identify --window exit %d: %s", code, out)
	}
	days := map[string]int{}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, r := range rows[1:] {
		days[r[7]+".."+r[8]]++
		// Label memory: an IP the labels name at the time is that org,
		// and says so.
		if strings.Contains(r[5], "listed") {
			listed++
			if r[1] != r[4] {
				t.Errorf("%s listed as %q but attributed to %q", r[0], r[4], r[1])
			}
		}
	}
	if listed == 0 {
		t.Errorf("no verdict rests on label memory, though the labels name scanners of the window")
	}
	if len(days) != 2 || days["2024-02-06T00:00:00Z..2024-02-07T00:00:00Z"] == 0 || days["2024-02-07T00:00:00Z..2024-02-08T00:00:00Z"] == 0 {
		t.Errorf("daily windows = %v, want 02-06 and 02-07", days)
	}
	if len(rows)-1 < whole {
		t.Errorf("%d daily verdicts, fewer than the %d of the whole period", len(rows)-1, whole)
	}
	if code, _ := runCLI(t, "identify", "--db", db, "--window", "0d"); code != exitUsage {
		t.Errorf("--window 0d must be a usage error")
	}
	code, out = runCLI(t, "lists", "--db", db, "--all", "--out", filepath.Join(dir, "lists"))
	if code != exitOK {
		t.Fatalf("lists exit %d: %s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lists", "*.txt"))
	if len(files) == 0 && !strings.Contains(out, "no attributions") {
		t.Fatalf("lists wrote nothing: %s", out)
	}
	if code, _ := runCLI(t, "lists", "--db", db, "--out", dir); code != exitUsage {
		t.Errorf("lists without --org or --all must be a usage error")
	}
	if code, _ := runCLI(t, "identify", "--db", filepath.Join(dir, "other.db")); code != exitError {
		t.Errorf("identify without models must fail")
	}
}

// TestIncrementalTrainAndUpdate: week 1 trained with train --mode
// incremental, week 2 added by update; a week is never trained twice and
// the updated models identify.
func TestIncrementalTrainAndUpdate(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	if code, out := runCLI(t, "simulate", "--out", filepath.Join(dir, "w"), "--preset", "tiny", "--weeks", "2"); code != exitOK {
		t.Fatalf("simulate: %s", out)
	}
	if code, out := runCLI(t, "ingest", "--db", db, filepath.Join(dir, "w", "pcap")); code != exitOK {
		t.Fatalf("ingest: %s", out)
	}
	code, out := runCLI(t, "train", "--mode", "incremental", "--db", db, "--labels", filepath.Join(dir, "w", "labels.csv"), "--to", "2024-02-08")
	if code != exitOK || !strings.Contains(out, "models incremental-") {
		t.Fatalf("train --mode incremental exit %d: %s", code, out)
	}
	code, out = runCLI(t, "update", "--db", db, "--from", "2024-02-08")
	if code != exitOK || !strings.Contains(out, "2 weeks trained") {
		t.Fatalf("update exit %d: %s", code, out)
	}
	if code, _ := runCLI(t, "update", "--db", db, "--from", "2024-02-08"); code != exitError {
		t.Errorf("a week trained twice must be refused")
	}
	if code, _ := runCLI(t, "update", "--db", db); code != exitUsage {
		t.Errorf("update without --from must be a usage error")
	}
	if code, out := runCLI(t, "identify", "--db", db, "--from", "2024-02-08", "--format", "csv"); code != exitOK || strings.Count(out, "\n") < 5 {
		t.Fatalf("identify after update exit %d: %s", code, out)
	}
}

// The c23 preset writes payload CSV logs that ingest reads as a folder,
// one first probe per row; pcap-only flags are usage errors.
func TestSimulateC23IngestsAsPayloadCSV(t *testing.T) {
	dir := t.TempDir()
	w, db := filepath.Join(dir, "c23"), filepath.Join(dir, "sg.db")
	code, out := runCLI(t, "simulate", "--out", w, "--preset", "c23", "--scale", "0.0001")
	if code != exitOK || !strings.Contains(out, "probes 7800 ") {
		t.Fatalf("simulate c23 exit %d: %s", code, out)
	}
	code, out = runCLI(t, "ingest", "--db", db, "--format", "payload-csv", filepath.Join(w, "payload"))
	if code != exitOK || !strings.Contains(out, "files 30,") || !strings.Contains(out, "newly stored 7800,") {
		t.Fatalf("ingest exit %d: %s", code, out)
	}
	for _, flag := range [][]string{{"--weeks", "2"}, {"--generic-mimics", "1"}, {"--scale", "2"}} {
		if code, _ := runCLI(t, append([]string{"simulate", "--out", w, "--preset", "c23"}, flag...)...); code != exitUsage {
			t.Errorf("simulate --preset c23 %v: exit %d, want a usage error", flag, code)
		}
	}
}
