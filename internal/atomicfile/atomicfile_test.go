package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	if err := WriteBytes(path, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "half of v2")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want the fill error, got %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "v1" {
		t.Fatalf("a failed write changed the file: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := WriteBytes(path, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "v2" {
		t.Fatalf("replacement: %q", b)
	}
}

// A write that fails before anything exists leaves nothing, not an empty
// file a reader would take for output.
func TestFailedFirstWriteLeavesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	if err := Write(path, func(io.Writer) error { return errors.New("no") }); err == nil {
		t.Fatal("fill error lost")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed first write left %s: %v", path, err)
	}
}

func TestWriteIntoAFileFails(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(root, "x")
	if err := WriteBytes(blocker, []byte("keep")); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(filepath.Join(blocker, "y.txt"), []byte("z")); err == nil {
		t.Fatal("wrote below a file")
	}
	if b, _ := os.ReadFile(blocker); string(b) != "keep" {
		t.Fatalf("the blocking file changed: %q", b)
	}
}
