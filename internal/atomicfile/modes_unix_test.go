//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Output is shared: files 0644 and created folders 0755 even under a
// restrictive umask, and a replaced private file becomes 0644 too.
func TestModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "lists.csv")
	if err := WriteBytes(path, []byte("ip,org\n")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{path: FileMode, filepath.Join(root, "a"): DirMode | fs.ModeDir, filepath.Join(root, "a", "b"): DirMode | fs.ModeDir} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode(), want)
		}
	}
	private := filepath.Join(root, "private.json")
	if err := os.WriteFile(private, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(private, []byte("[]")); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(private); info.Mode() != FileMode {
		t.Errorf("replaced file: mode %v, want %v", info.Mode(), FileMode)
	}
	// An existing folder keeps the mode its owner gave it.
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(filepath.Join(root, "c.txt"), nil); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(root); info.Mode().Perm() != 0o700 {
		t.Errorf("existing folder changed to %v", info.Mode().Perm())
	}
}
