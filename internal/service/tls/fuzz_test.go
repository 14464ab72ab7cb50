package tls

import (
	"errors"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FuzzParse feeds arbitrary payloads to the service. Beyond "never panic" it
// checks that the service's answers agree with each other.
func FuzzParse(f *testing.F) {
	seen := map[string]bool{}
	for _, h := range loadCorpus(f) {
		if !seen[h.Want.JA4] {
			seen[h.Want.JA4] = true
			f.Add(h.Payload)
		}
	}
	f.Add(mustHex(nmapSSLv3Hello))
	f.Add(mustHex(testsslSSLv2Hello))
	f.Add(inRecords(mustHex(curlHello)[recordHeaderLen:], 0x0301, 2, 90))
	svc := New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > probe.MaxPayload {
			payload = payload[:probe.MaxPayload]
		}
		complete := svc.Complete(payload, probe.TCP)
		fs, err := svc.Parse(payload, probe.TCP)
		ch, chErr := ParseClientHello(payload)
		if (err == nil) != (chErr == nil) {
			t.Fatalf("Parse and ParseClientHello disagree: %v vs %v", err, chErr)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(payload) {
				t.Fatalf("error %v does not carry a payload offset", err)
			}
			if errors.Is(err, ErrTruncated) && complete {
				t.Fatalf("truncated (%v) but Complete = true", err)
			}
			return
		}
		if !complete {
			t.Fatal("parsed a hello that Complete calls incomplete")
		}
		if c := svc.Detect(payload, probe.TCP, 0); c != probe.Certain {
			t.Fatalf("parsed a hello that Detect scores %d", c)
		}
		if ch.Length > len(payload) || ch.Length < recordHeaderLen+handshakeHeaderLen {
			t.Fatalf("Length %d of %d-byte payload", ch.Length, len(payload))
		}
		if len(fs) != len(fieldOrder) {
			t.Fatalf("%d fields", len(fs))
		}
		for _, f := range fs {
			if f.Items != nil && f.Value != strings.Join(f.Items, ",") {
				t.Fatalf("%s: value %q is not its items joined", f.Name, f.Value)
			}
		}
		if ja4 := fs.Value(FieldJA4); len(ja4) != 36 && !ch.SSLv2 {
			t.Fatalf("JA4 %q is not 36 characters", ja4)
		}
		// Parsing the hello again from only the bytes it occupies must give
		// the same fields: nothing after it may leak in.
		again, err := svc.Parse(payload[:ch.Length], probe.TCP)
		if err != nil || mustJSON(again) != mustJSON(fs) {
			t.Fatalf("re-parse of the hello alone: %v", err)
		}
	})
}
