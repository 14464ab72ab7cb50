package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
)

// TestUpdateRelabelsPastWeeks trains two weeks with some labels of a
// known organisation held back, imports them all with the third week's
// update, and checks that the update noticed the changed labels and
// relearnt the evidence: the held-back addresses seen in the first weeks
// are remembered with their organisation. An update with the labels the
// models were trained with leaves the first weeks' addresses as they were.
func TestUpdateRelabelsPastWeeks(t *testing.T) {
	ctx := context.Background()
	world := replayWorld(t, 3)
	st, days := ingestedWorld(t, world, filepath.Join(t.TempDir(), "sg.db"))
	raw, err := os.ReadFile(filepath.Join(world, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	byOrg := map[string][]string{}
	for _, l := range lines[1:] {
		ip, org, _ := strings.Cut(l, ",")
		byOrg[org] = append(byOrg[org], ip)
	}
	org := ""
	for o, ips := range byOrg {
		if o != "censys" && o != "driftnet" && len(ips) >= 4 && (org == "" || len(ips) > len(byOrg[org])) {
			org = o
		}
	}
	if org == "" {
		t.Fatalf("no organisation with 4 labelled IPs in the tiny world: %v", byOrg)
	}
	held := map[string]bool{}
	for _, ip := range byOrg[org][:len(byOrg[org])/2] {
		held[ip] = true
	}
	var early []string
	for _, l := range lines {
		if ip, _, _ := strings.Cut(l, ","); !held[ip] {
			early = append(early, l)
		}
	}
	earlyFile := filepath.Join(t.TempDir(), "early.csv")
	if err := os.WriteFile(earlyFile, []byte(strings.Join(early, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	origin := days[0]
	dir := filepath.Join(t.TempDir(), "models")
	if _, _, err := TrainIncremental(ctx, st, TrainConfig{From: origin, To: origin.Add(2 * Week), Labels: earlyFile,
		Dir: dir, Opts: cycleOpts(), WeekIters: cycleIters}); err != nil {
		t.Fatal(err)
	}
	remembered := func(dir string) (map[string]string, []string) {
		var saved evidence.Saved
		var man struct {
			Classes []string `json:"classes"`
		}
		for name, v := range map[string]any{"evidence.json": &saved, "manifest.json": &man} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		// By name: an update that retrains (an organisation first labelled
		// in its week) numbers the classes anew.
		out := make(map[string]string, len(saved.Addresses))
		for ip, c := range saved.Addresses {
			switch {
			case c == evidence.Unattributed:
				out[ip] = ""
			case c < len(man.Classes):
				out[ip] = man.Classes[c]
			default:
				out[ip] = "no-org"
			}
		}
		return out, man.Classes
	}
	before, classes := remembered(dir)
	if !slices.Contains(classes, org) {
		t.Fatalf("%s is no class of the models trained without half its labels: %v", org, classes)
	}
	seen := 0
	for ip := range held {
		if c, ok := before[ip]; ok {
			seen++
			if c == org {
				t.Fatalf("%s remembered as %s although its label was held back", ip, org)
			}
		}
	}
	if seen == 0 {
		t.Fatalf("none of the held-back addresses of %s probed in the first two weeks", org)
	}
	// The same labels.
	same := filepath.Join(t.TempDir(), "same")
	if _, inc, err := Update(ctx, st, UpdateConfig{From: origin.Add(2 * Week), Src: dir, Dst: same, WeekIters: cycleIters}); err != nil {
		t.Fatal(err)
	} else if inc.LabelsFingerprint == "" {
		t.Fatal("an update saved no labels fingerprint")
	}
	if after, _ := remembered(same); !sameClasses(after, before, held) {
		t.Fatal("an update with the same labels changed how the first weeks' addresses are remembered")
	}
	// All the labels: past weeks are relabelled.
	all := filepath.Join(t.TempDir(), "all")
	if _, _, err := Update(ctx, st, UpdateConfig{From: origin.Add(2 * Week), Labels: filepath.Join(world, "labels.csv"), Src: dir, Dst: all,
		WeekIters: cycleIters}); err != nil {
		t.Fatal(err)
	}
	after, _ := remembered(all)
	for ip := range held {
		if _, ok := before[ip]; ok && after[ip] != org {
			t.Errorf("%s: remembered as %q after its label was imported, want %s", ip, after[ip], org)
		}
	}
}

// sameClasses reports whether every address of before but those of skip
// has the same class in after.
func sameClasses(after, before map[string]string, skip map[string]bool) bool {
	for ip, c := range before {
		if !skip[ip] && after[ip] != c {
			return false
		}
	}
	return true
}
