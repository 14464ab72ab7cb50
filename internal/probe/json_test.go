package probe

import (
	"encoding/json"
	"testing"
)

var jsonCases = []Fields{
	nil,
	{},
	{{Name: "Method", Value: "GET"}, {Name: "User-Agent", Value: "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)"}},
	{{Name: "handshake_ciphersuites", Value: "GREASE,TLS_AES_128_GCM_SHA256", Items: []string{"GREASE", "TLS_AES_128_GCM_SHA256"}}},
	{{Name: "Url", Value: `/a"b\c` + "\n\r\t\x00\x1f<>&"}, {Name: "Body", Value: "caf\xc3\xa9 \xff bad \u2028"}},
	{{Name: "", Value: "", Items: []string{""}}},
}

func TestFieldsJSONRoundTripsLikeEncodingJSON(t *testing.T) {
	var d FieldsDecoder
	for _, fs := range jsonCases {
		b := fs.AppendJSON(nil)
		var std Fields
		if err := json.Unmarshal(b, &std); err != nil {
			t.Fatalf("%q is not valid JSON: %v", b, err)
		}
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !sameFields(got, std) {
			t.Errorf("decode(%s) = %#v, encoding/json says %#v", b, got, std)
		}
		// What encoding/json wrote (HTML escapes and all) decodes the same.
		stdBytes, _ := json.Marshal(fs)
		got2, err := d.Decode(stdBytes)
		if err != nil || !sameFields(got2, got) {
			t.Errorf("decode(%s) = %#v %v, want %#v", stdBytes, got2, err, got)
		}
	}
}

// sameFields compares field lists, taking nil and empty lists as equal.
func sameFields(a, b Fields) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Value != b[i].Value || len(a[i].Items) != len(b[i].Items) {
			return false
		}
		for j := range a[i].Items {
			if a[i].Items[j] != b[i].Items[j] {
				return false
			}
		}
	}
	return true
}

func TestFieldsDecoderInterns(t *testing.T) {
	var d FieldsDecoder
	b := Fields{{Name: "handshake_ciphersuites", Value: "x", Items: []string{"TLS_AES_128_GCM_SHA256"}}}.AppendJSON(nil)
	a, _ := d.Decode(b)
	c, _ := d.Decode(append([]byte(nil), b...))
	if unsafeStringData(a[0].Items[0]) != unsafeStringData(c[0].Items[0]) {
		t.Error("repeated items must share one string")
	}
	if &a[0].Items[0] != &c[0].Items[0] {
		t.Error("repeated item lists must share one slice")
	}
	// Shared lists are capped: an append copies instead of writing into
	// the other probe's list.
	_ = append(a[0].Items, "extra")
	if len(c[0].Items) != 1 || cap(c[0].Items) != 1 {
		t.Errorf("shared list grew: %v (cap %d)", c[0].Items, cap(c[0].Items))
	}
}

// One decoder reuses its scratch space: what it returned before stays as
// it was, whatever it decodes after.
func TestFieldsDecoderKeepsEarlierResults(t *testing.T) {
	var d FieldsDecoder
	var got []Fields
	for range 2 {
		for _, fs := range jsonCases {
			dec, err := d.Decode(fs.AppendJSON(nil))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, dec)
		}
	}
	for i, dec := range got {
		var std Fields
		if err := json.Unmarshal(jsonCases[i%len(jsonCases)].AppendJSON(nil), &std); err != nil {
			t.Fatal(err)
		}
		if !sameFields(dec, std) {
			t.Errorf("case %d changed after later decodes: %#v, want %#v", i, dec, std)
		}
	}
}

func FuzzFieldsJSON(f *testing.F) {
	for _, fs := range jsonCases {
		f.Add(fs.AppendJSON(nil))
	}
	f.Add([]byte(`[{"value":"v","name":"n","items":[]}]`))
	f.Add([]byte(`[{"name":"a"} ]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d FieldsDecoder
		got, err := d.Decode(b)
		var std Fields
		stdErr := json.Unmarshal(b, &std)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("decode error %v, encoding/json error %v for %q", err, stdErr, b)
		}
		if err == nil && !sameFields(got, std) {
			t.Fatalf("decode %q = %#v, encoding/json %#v", b, got, std)
		}
		if err == nil {
			again, err := d.Decode(got.AppendJSON(nil))
			if err != nil || !sameFields(again, got) {
				t.Fatalf("re-encoding %#v gives %#v %v", got, again, err)
			}
		}
	})
}
