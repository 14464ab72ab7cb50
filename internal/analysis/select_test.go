package analysis

import "testing"

func TestStillUnknownSelection(t *testing.T) {
	disclosed := map[string]bool{"censys": true, "driftnet": true}
	for _, tc := range []struct {
		attributed, truth     string
		stillUnknown, starred bool
	}{
		{"unknown", "", true, false},
		{"unknown", "unknown", true, false},
		{"unknown", "censys", true, false},  // fully disclosed org: part of the unknown class
		{"unknown", "shodan", false, false}, // a known org the system missed: not "still unknown"
		{"shodan", "", false, true},         // unknown-class probe placed in a known org
		{"shodan", "driftnet", false, true}, // same, for a disclosed org
		{"shodan", "shodan", false, false},  // a labelled probe of its own org
		{"", "", false, false},              // no attribution at all
	} {
		if got := IsStillUnknown(tc.attributed, tc.truth, disclosed); got != tc.stillUnknown {
			t.Errorf("IsStillUnknown(%q, %q) = %v", tc.attributed, tc.truth, got)
		}
		if got := IsAttributedUnknownClass(tc.attributed, tc.truth, disclosed); got != tc.starred {
			t.Errorf("IsAttributedUnknownClass(%q, %q) = %v", tc.attributed, tc.truth, got)
		}
	}
}
