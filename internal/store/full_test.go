package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A disk that fills during an ingest: SQLite's max_page_count stands for
// the full disk (SQLITE_FULL either way; no root needed). The batch that
// does not fit fails with ErrFull and a message naming the cause and the
// file; every batch before it is whole, nothing of it is stored, the file
// is sound; once there is room, the same input again stores exactly what
// was missing.
func TestSQLiteDiskFullMidIngest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	s := openDSN(t, path)
	ctx := context.Background()
	const batches, size = 30, 1000
	all := manyProbes(0, batches*size, "hp-a")
	ingest := batchIngest(s, all, size)
	// Room for the first batches only.
	if _, err := s.InsertProbes(ctx, all[:size]); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setMaxPages(t, s, pages*4)
	stored, ok, err := ingest()
	if err == nil {
		t.Fatalf("all %d batches stored in a database limited to %d pages", ok, pages*4)
	}
	if ok < 2 || ok >= batches {
		t.Fatalf("the disk filled after %d batches, want a few", ok)
	}
	t.Logf("the disk filled after %d batches: %v", ok, err)
	if !errors.Is(err, ErrFull) {
		t.Errorf("error is no ErrFull: %v", err)
	}
	for _, want := range []string{"no space left", path, "database or disk is full", "run the same ingest again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	rows, distinct := countProbes(t, s)
	if rows != ok*size || distinct != rows || stored != (ok-1)*size {
		t.Fatalf("after the disk filled: %d rows (%d distinct), %d batches acknowledged, %d new", rows, distinct, ok, stored)
	}
	var check string
	if err := s.db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check: %q %v", check, err)
	}
	// Space freed: the same input again.
	setMaxPages(t, s, 1<<30)
	again, _, err := ingest()
	if err != nil {
		t.Fatalf("ingest after space was freed: %v", err)
	}
	rows, distinct = countProbes(t, s)
	if again != len(all)-ok*size || rows != len(all) || distinct != rows {
		t.Fatalf("after freeing space: %d new, %d rows (%d distinct) of %d", again, rows, distinct, len(all))
	}
}

// setMaxPages sets the connection's max_page_count (the store keeps one
// connection open, so it holds for the inserts that follow).
func setMaxPages(t *testing.T, s *SQL, n int) {
	t.Helper()
	var got int
	if err := s.db.QueryRow(fmt.Sprintf(`PRAGMA max_page_count = %d`, n)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got < n && n < 1<<30 {
		t.Fatalf("max_page_count %d, asked %d", got, n)
	}
}
