package http

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FuzzParse checks the contract of every entry point on arbitrary bytes:
// no panic, fields in the documented shape, valid UTF-8 values, and output
// bounded by the input.
func FuzzParse(f *testing.F) {
	for _, e := range loadCorpus(f) {
		f.Add(requestBytes(f, e))
	}
	for _, s := range []string{
		"", "\r\n\r\n", "GET /", "GET / HTTP/1.1\r\nHost:h\r\n x\r\n\r\nbody",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "\xff\xfe / HTTP/1.1\r\n",
		"GET /\xff HTTP/1.1\r\nBody: x\r\n\r\n\x80",
	} {
		f.Add([]byte(s))
	}
	svc := New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, tr := range []probe.Transport{probe.TCP, probe.UDP} {
			svc.Detect(payload, tr, 80)
			svc.Complete(payload, tr)
		}
		fields, err := svc.Parse(payload, probe.TCP)
		if err != nil {
			if fields != nil || !strings.HasPrefix(err.Error(), "http: ") {
				t.Fatalf("error %q with fields %v", err, fields)
			}
			return
		}
		if len(fields) < 4 || len(fields) > maxHeaders+4 {
			t.Fatalf("%d fields", len(fields))
		}
		for i, name := range []string{FieldMethod, FieldURL, FieldVersion} {
			if fields[i].Name != name {
				t.Fatalf("field %d is %q, want %q", i, fields[i].Name, name)
			}
		}
		if last := fields[len(fields)-1]; last.Name != FieldBody || len(last.Value) > 4*BodyCap {
			t.Fatalf("last field %q of %d bytes", last.Name, len(last.Value))
		}
		total := 0
		for i, fl := range fields {
			if !utf8.ValidString(fl.Name) || !utf8.ValidString(fl.Value) {
				t.Fatalf("field %d not valid UTF-8: %q=%q", i, fl.Name, fl.Value)
			}
			if i >= 3 && i < len(fields)-1 {
				switch fl.Name {
				case "", FieldMethod, FieldURL, FieldVersion, FieldBody:
					t.Fatalf("header field %d has reserved or empty name %q", i, fl.Name)
				}
			}
			total += len(fl.Name) + len(fl.Value)
		}
		// Escaping at most quadruples a byte; the four fixed field names and N/A
		// placeholders add a constant.
		if total > 4*len(payload)+64 {
			t.Fatalf("fields hold %d bytes for a %d-byte payload", total, len(payload))
		}
	})
}

// A parse allocates the field slice and one copy of the payload, whatever
// the number of headers, so a hostile payload cannot multiply memory.
func TestParseAllocationsAreBounded(t *testing.T) {
	payload := []byte("GET / HTTP/1.1\r\n" + strings.Repeat("X-Header: value\r\n", maxHeaders) + "\r\n" + strings.Repeat("b", 4000))
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := ParseRequest(payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("%v allocations per parse of %d headers, want 2", allocs, maxHeaders)
	}
}
