package feature

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// pixelLines keeps the "probe N: px=v ..." lines of imagesText: which pixels
// light, without the field names that describe them.
func pixelLines(text []byte) []string {
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "probe ") {
			out = append(out, line)
		}
	}
	return out
}

// TestLayoutOfOldTLSNamesEncodesTheSamePixels: a TLS layout saved before
// "ja3" meant the MD5 (format 1, its hash field called ja3_md5) loads with
// today's names and lights, for today's probes, exactly the pixels it lit
// for the same probes under the old names; saved again, it is not renamed a
// second time.
func TestLayoutOfOldTLSNamesEncodesTheSamePixels(t *testing.T) {
	old, err := LoadFile(filepath.Join("testdata", "golden", "tls_layout_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(old.FieldNames(), "ja3_md5") || !slices.Contains(old.FieldNames(), "ja3") {
		t.Fatalf("fields after load %v: ja3_md5 should now be ja3", old.FieldNames())
	}
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "tls_images_v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := imagesText(old, tlsFixture())
	if !slices.Equal(pixelLines(got), pixelLines(want)) || len(pixelLines(got)) == 0 {
		t.Errorf("old layout, new names: pixels\n%s\nwant\n%s", strings.Join(pixelLines(got), "\n"), strings.Join(pixelLines(want), "\n"))
	}
	var buf bytes.Buffer
	if err := old.Save(&buf); err != nil {
		t.Fatal(err)
	}
	again, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.FieldNames(), old.FieldNames()) || again.FormatVersion != LayoutFormatVersion {
		t.Errorf("saved and reloaded: fields %v (format %d), want %v", again.FieldNames(), again.FormatVersion, old.FieldNames())
	}
}

// TestOldNamesSwapAtOnce: in a format-1 layout holding both the JA3 string
// (then "ja3") and its hash (then "ja3_md5"), each pixel keeps its value:
// the string's pixel lights for today's ja3_string, the hash's for today's
// ja3, and pending values follow their field.
func TestOldNamesSwapAtOnce(t *testing.T) {
	const v1 = `{"format_version": 1, "service": "tls", "mode": "full", "side": 2, "min_count": 1, "max_pixels": 1024,
	  "generation": 0, "used": 3, "overflow": 0, "fields": [
	    {"name": "ja3", "kind": "option", "tokenizer": "whole", "offset": 0, "width": 0,
	     "options": [{"value": "771,4865,0,29,0", "pixel": 0, "count": 5, "generation": 0}]},
	    {"name": "ja3_md5", "kind": "option", "tokenizer": "whole", "offset": 0, "width": 0,
	     "options": [{"value": "0123456789abcdef0123456789abcdef", "pixel": 1, "count": 5, "generation": 0},
	                 {"value": "N/A", "pixel": 2, "count": 5, "generation": 0}]}],
	  "pending": [{"field": "ja3", "value": "769,47,,,", "count": 1}]}`
	l, err := Load(strings.NewReader(v1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.FieldNames(), []string{"ja3_string", "ja3"}) || l.Pending[0].Field != "ja3_string" {
		t.Fatalf("fields %v, pending %+v", l.FieldNames(), l.Pending)
	}
	img := make([]uint8, l.Pixels())
	l.Encode(probe.Probe{Service: "tls", Fields: probe.Fields{
		{Name: "ja3_string", Value: "771,4865,0,29,0"}, {Name: "ja3", Value: "0123456789abcdef0123456789abcdef"}}}, img)
	if !slices.Equal(img, []uint8{On, On, 0, 0}) {
		t.Errorf("image %v, want the string's and the hash's pixels", img)
	}
	// A layout of a newer naming than this binary knows is refused.
	newer := strings.Replace(strings.Replace(v1, `"format_version": 1`, `"format_version": 2, "names_version": 9`, 1), "ja3_md5", "x", 1)
	if _, err := Load(strings.NewReader(newer)); err == nil {
		t.Error("Load accepted field names newer than the binary")
	}
}
