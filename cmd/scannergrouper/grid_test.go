package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

func TestGridAndSimulateFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"grid", "--structures", "sd24,moon"},
		{"grid", "--seeds", "1,x"},
		{"grid", "--scale", "2"},
		{"grid", "--mode", "weekly"},
		{"grid", "--unknown-share", "0"},
		{"simulate", "--out", filepath.Join(dir, "a"), "--hidden-per-org", "0.95"},
		{"simulate", "--out", filepath.Join(dir, "b"), "--honeypots", "mesh"},
		{"simulate", "--out", filepath.Join(dir, "c"), "--scale", "0"},
	} {
		if code, out := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, out)
		}
	}
}

func TestSimulateStructureFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	code, out := runCLI(t, "simulate", "--out", dir, "--preset", "tiny", "--seed", "2",
		"--hidden-per-org", "0.3", "--generic-mimics", "1", "--templates-per-org", "2",
		"--unattributed-ratio", "2", "--honeypots", "split16s", "--write-templates")
	if code != exitOK {
		t.Fatalf("simulate: %s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "world.json"))
	if err != nil {
		t.Fatal(err)
	}
	var w simulate.World
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	st := w.Structure
	if st == nil || st.HiddenPerOrg != 0.3 || st.GenericMimics != 1 || st.TemplatesPerOrg != 2 || st.UnattributedRatio != 2 ||
		st.MimicIPs == 0 || len(w.HoneypotsTest) != 8 {
		t.Errorf("world.json structure %+v, test honeypots %v", st, w.HoneypotsTest)
	}
	if w.Counts.UnattributedIPs != 2*w.Counts.LabelledIPs {
		t.Errorf("%d unattributed for %d labelled, want 2:1", w.Counts.UnattributedIPs, w.Counts.LabelledIPs)
	}
	if _, err := os.Stat(filepath.Join(dir, "templates.csv")); err != nil {
		t.Error(err)
	}
}
