// Package sharedtest locates the project's shared data folder (../shared
// beside the repository) for tests that read real captures and lists. The
// product never imports it.
package sharedtest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of the shared folder, from $SCANNERGROUPER_SHARED
// or ../shared next to the module root. Tests that need real data skip with a
// clear message when it is absent; CI always has it.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SCANNERGROUPER_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(shared); err != nil {
				t.Skipf("shared data folder %s not found (set SCANNERGROUPER_SHARED)", shared)
			}
			return shared
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// Path joins elements under the shared folder and fails the test when the
// file is missing, because a silently skipped data test cannot fail.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared data missing: %v", err)
	}
	return p
}

// JSONLines decodes every line of a JSON-lines file under the shared folder
// (such as realdata/probe_corpus/real_tool_probes.jsonl) into a T.
func JSONLines[T any](t testing.TB, elem ...string) []T {
	t.Helper()
	f, err := os.Open(Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s line %d: %v", filepath.Join(elem...), len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
