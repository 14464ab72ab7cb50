package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// fullStore is a store whose disk fills after ok batches: every later
// batch fails as a full disk does (store.ErrFull), storing nothing.
type fullStore struct {
	store.Store
	ok, calls int
}

func (s *fullStore) InsertProbes(ctx context.Context, ps []probe.Probe) (int, error) {
	s.calls++
	if s.calls > s.ok {
		return 0, fmt.Errorf("%w: no space left for test.db (database or disk is full (13))", store.ErrFull)
	}
	return s.Store.InsertProbes(ctx, ps)
}

// A disk that fills during a payload-CSV ingest stops the ingest at the
// failed batch (not file after file), reports the cause once, and keeps
// the batches before it; an ingest of the same input once there is room
// stores exactly the rest. (The store's own test fills a real SQLite file.)
func TestDiskFullStopsIngest(t *testing.T) {
	defer func(n int) { batchSize = n }(batchSize)
	batchSize = 16
	dir := t.TempDir()
	const files, rows = 3, 40
	for f := range files {
		var b strings.Builder
		b.WriteString("time,src_ip,src_port,dst_ip,dst_port,transport,payload\n")
		for i := range rows {
			fmt.Fprintf(&b, "2024-03-0%dT10:00:%02dZ,203.0.113.%d,%d,192.0.2.1,80,tcp,%x\n",
				f+1, i, 1+f, 40000+i, "GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("day%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st := openStore(t)
	full := &fullStore{Store: st, ok: 2}
	res, err := Run(ctx, full, PayloadCSV, []string{dir}, capture.Options{}, nil)
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("want a full-disk error, got %v", err)
	}
	if n := strings.Count(err.Error(), "no space left"); n != 1 {
		t.Errorf("the cause is reported %d times: %v", n, err)
	}
	if full.calls != 3 || res.Files != 2 {
		t.Errorf("after the disk filled: %d store calls, %d files read; want 3 and 2 (stop at once)", full.calls, res.Files)
	}
	if res.Stored != 2*16 || countProbes(t, st) != 2*16 {
		t.Fatalf("stored %d, store holds %d: want the two batches before the disk filled", res.Stored, countProbes(t, st))
	}
	again, err := Run(ctx, st, PayloadCSV, []string{dir}, capture.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != files*rows-2*16 || countProbes(t, st) != files*rows {
		t.Fatalf("after freeing space: %d new, store holds %d of %d", again.Stored, countProbes(t, st), files*rows)
	}
}
