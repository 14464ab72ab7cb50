package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// TestFleetOnBothBackends runs the fleet's commands against a SQLite file
// and a PostgreSQL database: two sensors ingest their captures, probes,
// identify and lists filter by sensor, a clock offset moves one sensor's
// probes, prune drops old probes and keeps the verdicts, and ingesting a
// capture again stores nothing.
func TestFleetOnBothBackends(t *testing.T) {
	world := t.TempDir()
	if code, out := runCLI(t, "simulate", "--out", world, "--preset", "tiny"); code != exitOK {
		t.Fatalf("simulate: %s", out)
	}
	pcaps, err := filepath.Glob(filepath.Join(world, "pcap", "*"))
	if err != nil || len(pcaps) < 4 {
		t.Fatalf("want daily captures, got %v %v", pcaps, err)
	}
	half := len(pcaps) / 2
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "sg.db")
			if backend == "postgres" {
				db = sharedtest.PostgresDSN(t)
			}
			models := filepath.Join(dir, "models")
			cli := func(args ...string) string {
				t.Helper()
				code, out := runCLI(t, append(args, "--db", db)...)
				if code != exitOK {
					t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, out)
				}
				return out
			}
			cli(append([]string{"ingest", "--sensor", "hp-a"}, pcaps[:half]...)...)
			cli(append([]string{"ingest", "--sensor", "hp-b"}, pcaps[half:]...)...)
			if out := cli(append([]string{"ingest", "--sensor", "hp-b"}, pcaps[half:]...)...); !strings.Contains(out, "newly stored 0") {
				t.Errorf("second ingest of hp-b's captures: %s", out)
			}
			probesOf := func(args ...string) []probeRecord {
				t.Helper()
				var out []probeRecord
				dec := json.NewDecoder(strings.NewReader(cli(append([]string{"probes", "--format", "jsonl", "--limit", "0"}, args...)...)))
				for dec.More() {
					var r probeRecord
					if err := dec.Decode(&r); err != nil {
						t.Fatal(err)
					}
					out = append(out, r)
				}
				return out
			}
			b := probesOf("--sensor", "hp-b")
			if len(b) == 0 || slices.ContainsFunc(b, func(r probeRecord) bool { return r.Sensor != "hp-b" }) {
				t.Fatalf("probes --sensor hp-b: %d probes, some of another sensor", len(b))
			}
			var sensors []struct {
				Name   string `json:"name"`
				Probes int    `json:"probes"`
			}
			if err := json.Unmarshal([]byte(cli("fleet", "list", "--json")), &sensors); err != nil || len(sensors) != 2 || sensors[1].Probes != len(b) {
				t.Fatalf("fleet list: %+v %v", sensors, err)
			}
			cli("fleet", "clock", "--sensor", "hp-b", "--offset", "-90m")
			if moved := probesOf("--sensor", "hp-b", "--limit", "1"); !moved[0].Time.Equal(b[0].Time.Add(-90 * time.Minute)) {
				t.Errorf("clock offset: first probe at %s, want %s", moved[0].Time, b[0].Time.Add(-90*time.Minute))
			}
			cli("fleet", "clock", "--sensor", "hp-b", "--offset", "0")

			cli("train", "--labels", filepath.Join(world, "labels.csv"), "--to", "2024-02-06", "--iterations", "100", "--models", models)
			out := cli("identify", "--from", "2024-02-06", "--sensor", "hp-b", "--models", models, "--format", "jsonl")
			fromB := map[string]bool{}
			for _, r := range b {
				fromB[r.SrcIP.String()] = true
			}
			n := 0
			for line := range strings.Lines(out) {
				var v struct{ IP string }
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Fatal(err)
				}
				if !fromB[v.IP] {
					t.Errorf("identify --sensor hp-b attributed %s, which never probed hp-b", v.IP)
				}
				n++
			}
			if n == 0 {
				t.Fatalf("identify --sensor hp-b attributed nobody")
			}
			lists := filepath.Join(dir, "lists")
			cli("lists", "--all", "--sensor", "hp-b", "--out", lists)
			txts, _ := filepath.Glob(filepath.Join(lists, "*.txt"))
			for _, f := range txts {
				data, _ := os.ReadFile(f)
				for line := range strings.Lines(string(data)) {
					if ip := strings.TrimSpace(line); !strings.HasPrefix(ip, "#") && !fromB[ip] {
						t.Errorf("%s lists %s, which never probed hp-b", f, ip)
					}
				}
			}

			all := probesOf()
			cut := b[0].Time.Truncate(24 * time.Hour)
			old := 0
			for _, r := range all {
				if r.Time.Before(cut) {
					old++
				}
			}
			out = cli("prune", "--before", cut.Format(time.RFC3339), "--json")
			var pr struct{ Deleted int }
			if err := json.Unmarshal([]byte(out), &pr); err != nil || pr.Deleted != old || old == 0 {
				t.Fatalf("prune: %s (want %d deleted)", out, old)
			}
			if left := probesOf(); len(left) != len(all)-old || left[0].Time.Before(cut) {
				t.Errorf("after prune: %d probes, first at %s", len(left), left[0].Time)
			}
			if out := cli("lists", "--all", "--out", lists, "--json"); !strings.Contains(out, `"rows"`) {
				t.Errorf("verdicts gone after prune: %s", out)
			}
		})
	}
}
