package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	for _, want := range []string{"first probes per service", "weighted avg", "over-attribution", "report.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, f := range []string{"report.json", "predictions.csv", "scannergrouper.db", "world/truth.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
	if testing.Short() {
		return
	}
	// Running it again into the same folder works (fresh store, same world).
	if code, stdout := runCLI(t, "demo", "--preset", "tiny", "--out", out); code != exitOK {
		t.Fatalf("second demo exit %d:\n%s", code, stdout)
	}
}
