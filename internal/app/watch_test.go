package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// TestWatchWaitsForCompleteFiles: a capture being written is ingested only
// once its size stayed the same over two polls, or at once when NAME.done
// says it is complete; .part names are skipped; a file that is not a
// capture is recorded as rejected and the watcher goes on.
func TestWatchWaitsForCompleteFiles(t *testing.T) {
	ctx := context.Background()
	world := t.TempDir()
	cfg, err := simulate.PresetConfig("tiny", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.Generate(ctx, cfg, world); err != nil {
		t.Fatal(err)
	}
	files, _, err := ReplayFiles(world)
	if err != nil || len(files) < 3 {
		t.Fatalf("world: %v, %d files", err, len(files))
	}
	day0, _ := os.ReadFile(files[0])
	day1, _ := os.ReadFile(files[1])
	watch := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := OpenCycle(CycleConfig{Store: st, StateDir: t.TempDir(), Period: Week, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWatcher(watch)
	poll := func() int64 {
		t.Helper()
		n, err := c.Poll(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Half of a capture appears: not ingested while it grows.
	half := filepath.Join(watch, "a.pcap")
	os.WriteFile(half, day0[:len(day0)/2], 0o644)
	os.WriteFile(filepath.Join(watch, "b.pcap.part"), day1, 0o644)
	if n := poll(); n != 0 {
		t.Fatalf("first sight of a file: %d probes stored", n)
	}
	os.WriteFile(half, day0, 0o644) // the writer finishes
	if n := poll(); n != 0 {
		t.Fatalf("a file that changed since the last poll: %d probes stored", n)
	}
	full := poll()
	if full == 0 {
		t.Fatal("a file stable over two polls was not ingested")
	}
	if n := poll(); n != 0 {
		t.Fatalf("an ingested file was ingested again: %d", n)
	}
	// The .part file is renamed into place with a .done marker: at once.
	os.Rename(filepath.Join(watch, "b.pcap.part"), filepath.Join(watch, "b.pcap"))
	os.WriteFile(filepath.Join(watch, "b.pcap.done"), nil, 0o644)
	if n := poll(); n == 0 {
		t.Fatal("a file marked .done was not ingested at once")
	}
	// Not a capture: rejected, recorded, the watcher goes on.
	os.WriteFile(filepath.Join(watch, "notes.txt"), []byte("hello, not a pcap\n"), 0o644)
	os.WriteFile(filepath.Join(watch, "notes.txt.done"), nil, 0o644)
	poll()
	if m := c.State().Files["notes.txt"]; m.Error == "" {
		t.Fatalf("a text file was not recorded as rejected: %+v", m)
	}
	_, _, n, _ := st.ProbeSpan(ctx)
	if int64(n) != full+c.State().Files["b.pcap"].Stored {
		t.Fatalf("store holds %d probes, ingested %d + %d", n, full, c.State().Files["b.pcap"].Stored)
	}
	// A restart remembers what was ingested.
	c2, err := OpenCycle(CycleConfig{Store: st, StateDir: c.cfg.StateDir, Period: Week, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	w2 := NewWatcher(watch)
	for range 2 {
		if n, err := c2.Poll(ctx, w2); err != nil || n != 0 {
			t.Fatalf("after a restart: %d stored, %v", n, err)
		}
	}
	if len(c2.State().Files) != 3 {
		t.Fatalf("restart forgot files: %v", c2.State().Files)
	}
}

func TestPeriodBounds(t *testing.T) {
	for _, d := range []string{"2d", "11d"} {
		p, _ := parsePeriod(d)
		if err := SupportedPeriod(p); err == nil {
			t.Errorf("%s accepted", d)
		}
		if _, err := OpenCycle(CycleConfig{StateDir: t.TempDir(), Period: p}); err == nil {
			t.Errorf("OpenCycle accepted %s", d)
		}
	}
	for _, d := range []string{"3d", "7d", "10d"} {
		p, _ := parsePeriod(d)
		if _, err := OpenCycle(CycleConfig{StateDir: t.TempDir(), Period: p}); err != nil {
			t.Errorf("%s refused by the cycle: %v", d, err)
		}
	}
}
