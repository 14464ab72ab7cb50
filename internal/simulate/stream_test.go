package simulate_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// TestC23StreamShape generates a 1/5000 c23 world twice: the files are
// byte-identical, the totals are 360 Company-23's scaled (probes exactly),
// every row lies in the month and in its day's file in time order, the
// probe count per scanner is heavy-tailed, distinct payloads stay far
// below probes, and the payload CSV reader finds every row as one first
// probe.
func TestC23StreamShape(t *testing.T) {
	const scale = 0.0002
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	w, err := simulate.GenerateStream(ctx, simulate.C23Config(7, scale), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.GenerateStream(ctx, simulate.C23Config(7, scale), b); err != nil {
		t.Fatal(err)
	}
	if len(w.Files) != 30 {
		t.Fatalf("%d day files, want 30", len(w.Files))
	}
	for _, name := range append([]string{"labels.csv", "scanners.csv", "world.json"}, w.Files...) {
		if ha, hb := hashFile(t, filepath.Join(a, name)), hashFile(t, filepath.Join(b, name)); ha != hb {
			t.Errorf("%s differs between two runs of the same seed", name)
		}
	}
	other, err := simulate.GenerateStream(ctx, simulate.C23Config(8, scale), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.Probes == w.Probes {
		t.Errorf("seeds 7 and 8 drew the same per-service counts %v", w.Probes)
	}

	wantProbes := int(math.Round(simulate.C23Probes * scale))
	if got := w.Probes.Total(); got != wantProbes {
		t.Errorf("probes %d, want %d", got, wantProbes)
	}
	if want := int(math.Round(simulate.C23Scanners * scale)); w.Scanners != want {
		t.Errorf("scanners %d, want %d", w.Scanners, want)
	}
	// 2.5 k known scanners scaled is 0.5: every known org keeps one.
	if w.KnownScanners < 10 || w.KnownScanners > 40 || w.Labelled+w.Hidden != w.KnownScanners {
		t.Errorf("known scanners %d (labelled %d, hidden %d): want one per known org", w.KnownScanners, w.Labelled, w.Hidden)
	}
	if w.MaxScannerProbes < 20*w.MedianScannerProbes {
		t.Errorf("probes per scanner: max %d, median %d: not heavy-tailed", w.MaxScannerProbes, w.MedianScannerProbes)
	}
	for _, svc := range []string{"http", "tls", "dns", "ssh"} {
		if w.Probes.Of(svc) == 0 {
			t.Errorf("no %s probes", svc)
		}
	}
	if d := w.DistinctPayloads.Total(); d == 0 || d > wantProbes/10 {
		t.Errorf("%d distinct payloads for %d probes", d, wantProbes)
	}

	// Rows: in the month, in their day's file, in time order; scanners as
	// scanners.csv says.
	perScanner := map[string]int{}
	rows := 0
	var last time.Time
	for _, name := range w.Files {
		day, err := time.Parse("2006-01-02.csv", filepath.Base(name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(bufio.NewReader(f))
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ts, err := time.Parse(time.RFC3339Nano, rec[0])
			if err != nil {
				t.Fatal(err)
			}
			if ts.Before(last) || ts.Before(day) || !ts.Before(day.AddDate(0, 0, 1)) {
				t.Fatalf("%s: row at %s out of order or out of its day", name, rec[0])
			}
			last = ts
			perScanner[rec[1]]++
			rows++
		}
		f.Close()
	}
	if !w.Start.Equal(simulate.C23Start) || w.End.Sub(w.Start) != 30*24*time.Hour {
		t.Errorf("span %s .. %s, want the 30 days from %s", w.Start, w.End, simulate.C23Start)
	}
	if rows != wantProbes || len(perScanner) != w.Scanners {
		t.Errorf("files hold %d rows from %d scanners, want %d from %d", rows, len(perScanner), wantProbes, w.Scanners)
	}
	truth, err := os.ReadFile(filepath.Join(a, "scanners.csv"))
	if err != nil {
		t.Fatal(err)
	}
	tr := csv.NewReader(bytes.NewReader(truth))
	recs, err := tr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, rec := range recs[1:] {
		n, _ := strconv.Atoi(rec[3])
		if perScanner[rec[0]] != n {
			t.Errorf("scanner %s: %d rows, scanners.csv says %d", rec[0], perScanner[rec[0]], n)
		}
		if rec[1] != "unknown" {
			known++
		}
	}
	if known != w.KnownScanners {
		t.Errorf("scanners.csv: %d known-org scanners, world.json %d", known, w.KnownScanners)
	}

	// The payload CSV reader sees one first probe per row.
	extracted := 0
	for _, name := range w.Files {
		st, err := capture.ExtractPayloadCSV(ctx, filepath.Join(a, name), capture.Options{}, func(p probe.Probe) error {
			if p.Service == "other" {
				t.Errorf("%s:%d: probe of no known service", name, p.Offset)
			}
			extracted++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = st
	}
	if extracted != wantProbes {
		t.Errorf("payload CSV reader found %d first probes in %d rows", extracted, wantProbes)
	}
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
