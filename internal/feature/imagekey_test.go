package feature

import (
	"strings"
	"testing"
)

// Saved models hold image keys as SHA-256 hex: the format must not drift.
func TestImageKeySavedForm(t *testing.T) {
	k := KeyOf([]uint8("abc"))
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if k.String() != want {
		t.Fatalf("KeyOf(abc) = %s, want the SHA-256 %s", k, want)
	}
	for _, s := range []string{want, strings.ToUpper(want)} {
		if back, ok := ParseImageKey(s); !ok || back != k {
			t.Errorf("ParseImageKey(%q) = %v, %v", s, back, ok)
		}
	}
	for _, bad := range []string{"", want[:62], want + "00", "zz" + want[2:]} {
		if _, ok := ParseImageKey(bad); ok {
			t.Errorf("ParseImageKey(%q) accepted", bad)
		}
	}
}
