package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func countProbes(t *testing.T, st store.Store) int {
	t.Helper()
	counts, err := st.ServiceCounts(context.Background(), store.ProbeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c.Probes
	}
	return n
}

func TestIngestIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	pcap := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	first, err := Run(ctx, st, Capture, []string{pcap}, capture.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Stored != first.Probes || first.Probes != 381 {
		t.Fatalf("first ingest: %d probes, %d stored", first.Probes, first.Stored)
	}
	second, err := Run(ctx, st, Capture, []string{pcap}, capture.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stored != 0 || countProbes(t, st) != 381 {
		t.Fatalf("second ingest stored %d more; table has %d", second.Stored, countProbes(t, st))
	}
}

func TestBadInputLosesNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	pcap := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	if _, err := Run(ctx, st, Capture, []string{pcap}, capture.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	junk := filepath.Join(dir, "labels.pcap")
	os.WriteFile(junk, []byte("IP,Label\n1.2.3.4,censys\n"), 0o644)

	// A fresh store sees the probes before the cut; the junk file is refused.
	fresh := openStore(t)
	res, err := Run(ctx, fresh, Capture, []string{cut, junk}, capture.Options{}, nil)
	var fe *capture.FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), cut+": offset ") || !strings.Contains(err.Error(), junk+": offset 0: not a pcap") {
		t.Fatalf("want errors naming both files, got %v", err)
	}
	if res.Stored == 0 || res.Stored >= 381 {
		t.Fatalf("stored %d probes from the first half", res.Stored)
	}
	// The populated store keeps every probe and gains no duplicates.
	if _, err := Run(ctx, st, Capture, []string{cut, junk}, capture.Options{}, nil); err == nil {
		t.Fatal("bad input must be reported")
	}
	if n := countProbes(t, st); n != 381 {
		t.Fatalf("store has %d probes after bad input, want 381", n)
	}
}
