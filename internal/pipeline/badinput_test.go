package pipeline

import (
	"strings"
	"testing"
)

// TestDataWarningsNameThinOrgs: an organisation known from a single
// training scanner, and a single known organisation, are named.
func TestDataWarningsNameThinOrgs(t *testing.T) {
	res := &Result{Classes: newClasses([]string{"shodan"}, func(string) bool { return false }), trainScanners: []int{1}}
	w := strings.Join(DataWarnings(res), "\n")
	if !strings.Contains(w, "only one known organisation (shodan)") || !strings.Contains(w, "single training scanner") {
		t.Fatalf("warnings: %q", w)
	}
}
