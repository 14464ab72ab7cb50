package lists

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample mixes single addresses, adjacent ones, an overlapping prefix, a
// duplicate and an IPv4-mapped IPv6 address, in both families.
var sample = []string{
	"192.0.2.1", "192.0.2.0", "192.0.2.2/31", "192.0.2.3", // one /30
	"198.51.100.7", "::ffff:198.51.100.6", // a /31 (the mapped address is IPv4)
	"203.0.113.0/25", "203.0.113.128/25", "203.0.113.9", // one /24
	"2001:db8::1", "2001:db8::", "2001:db8:0:1::/64", "2001:db8:0:1::5",
}

func samplePrefixes(t *testing.T) []netip.Prefix {
	t.Helper()
	ps, err := ParseAddrs(sample)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestAggregate(t *testing.T) {
	got := Aggregate(samplePrefixes(t))
	want := []string{"192.0.2.0/30", "198.51.100.6/31", "203.0.113.0/24", "2001:db8::/127", "2001:db8:0:1::/64"}
	var gs []string
	for _, p := range got {
		gs = append(gs, p.String())
	}
	if !slices.Equal(gs, want) {
		t.Errorf("Aggregate = %v, want %v", gs, want)
	}
	if len(Aggregate(nil)) != 0 {
		t.Error("Aggregate(nil) is not empty")
	}
}

func TestParseAddrsRejects(t *testing.T) {
	for _, bad := range []string{"192.0.2.300", "2001:db8::/129", "example.com", ""} {
		if _, err := ParseAddrs([]string{bad}); err == nil {
			t.Errorf("ParseAddrs(%q) accepted", bad)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	ps := samplePrefixes(t)
	var b bytes.Buffer
	if err := WriteCIDR(&b, "shodan scanner IPs\nattributed", ps); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.cidr", b.Bytes())

	b.Reset()
	wl := NewWarninglist("ScannerGrouper: Shodan scanner IPs", "Scanner IPs of Shodan", 20261203, ps)
	if err := WriteMISP(&b, wl); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.misp.json", b.Bytes())

	b.Reset()
	if err := WriteNFT(&b, "scannergrouper", "shodan", "shodan scanner IPs", ps); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.nft", b.Bytes())

	b.Reset()
	if err := WriteIPSet(&b, "shodan", "shodan scanner IPs", ps); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.ipset", b.Bytes())
}

// TestWarninglistShape checks the fields MISP requires, as MISP reads
// them (a JSON object with these keys and types).
func TestWarninglistShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMISP(&b, NewWarninglist("n", "d", 1, samplePrefixes(t))); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for key, kind := range map[string]string{"name": "string", "description": "string", "version": "float64", "type": "string",
		"list": "[]interface {}", "matching_attributes": "[]interface {}"} {
		v, ok := m[key]
		if !ok {
			t.Errorf("no %q", key)
			continue
		}
		if got := typeName(v); got != kind {
			t.Errorf("%q is %s, want %s", key, got, kind)
		}
	}
	if m["type"] != "cidr" || len(m["list"].([]any)) != 5 {
		t.Errorf("type %v, %d entries", m["type"], len(m["list"].([]any)))
	}
	if err := WriteMISP(&b, Warninglist{Name: "x"}); err == nil {
		t.Error("a warninglist without a version was written")
	}
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "float64"
	case []any:
		return "[]interface {}"
	}
	return "other"
}

func TestSetName(t *testing.T) {
	for in, want := range map[string]string{
		"shodan":                               "shodan",
		"internet-measurement":                 "internet_measurement",
		"1337 scanners":                        "s_1337_scanners",
		"":                                     "s_",
		"a-very-long-organisation-name-indeed": "a_very_long_organisation_name_i",
	} {
		if got := SetName(in); got != want {
			t.Errorf("SetName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := setSuffix(SetName("a-very-long-organisation-name-indeed"), "_v4"); len(got) != 31 {
		t.Errorf("setSuffix gave %q (%d chars)", got, len(got))
	}
}
