package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadWorldTruth: columns are found by name, an IP is hidden when any
// of its rows is, and a file without the columns says what it lacks.
func TestReadWorldTruth(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "truth.csv")
	os.WriteFile(good, []byte("time,src_ip,org,hidden\nx,192.0.2.1,shodan,false\nx,192.0.2.1,shodan,true\nx,192.0.2.2,unknown,false\n"), 0o644)
	truth, err := ReadWorldTruth(good)
	if err != nil {
		t.Fatal(err)
	}
	if truth["192.0.2.1"] != (IPTruth{Org: "shodan", Hidden: true}) || truth["192.0.2.2"] != (IPTruth{Org: "unknown"}) || len(truth) != 2 {
		t.Fatalf("truth %+v", truth)
	}
	bad := filepath.Join(dir, "labels.csv")
	os.WriteFile(bad, []byte("ip,org\n192.0.2.1,shodan\n"), 0o644)
	if _, err := ReadWorldTruth(bad); err == nil || !strings.Contains(err.Error(), "no src_ip column") {
		t.Fatalf("labels file read as truth: %v", err)
	}
}
