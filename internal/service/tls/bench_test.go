package tls

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// chromeHello is the Chrome ClientHello from testssl.sh's client simulations
// (captured browser bytes replayed by testssl): GREASE, 15 suites, 16
// extensions, the JA4 of the FoxIO specification's own example.
func chromeHello(b *testing.B) []byte {
	for _, h := range loadCorpus(b) {
		if h.Want.JA4 == "t13i1515h2_8daaf6152771_e5627efa2ab1" {
			return h.Payload
		}
	}
	b.Fatal("Chrome hello not in the corpus")
	return nil
}

// BenchmarkParse is the ingest path: bytes to probe fields with JA3/JA4.
func BenchmarkParse(b *testing.B) {
	payload := chromeHello(b)
	svc := New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Parse(payload, probe.TCP); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseClientHello is the structural parse alone.
func BenchmarkParseClientHello(b *testing.B) {
	payload := chromeHello(b)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClientHello(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectComplete is what session reassembly pays per segment.
func BenchmarkDetectComplete(b *testing.B) {
	payload := chromeHello(b)
	svc := New()
	b.ReportAllocs()
	for b.Loop() {
		if svc.Detect(payload, probe.TCP, 443) != probe.Certain || !svc.Complete(payload, probe.TCP) {
			b.Fatal("not detected")
		}
	}
}
