package tls

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// chromeHello is the Chrome ClientHello from testssl.sh's client simulations
// (captured browser bytes replayed by testssl): GREASE, 15 suites, 16
// extensions, the JA4 of the FoxIO specification's own example.
func chromeHello(b *testing.B) []byte {
	h := servicetest.First(b, loadCorpus(b), "Chrome hello", func(h corpusHello) bool {
		return h.Want.JA4 == "t13i1515h2_8daaf6152771_e5627efa2ab1"
	})
	return h.Payload
}

// BenchmarkParse is the ingest path: bytes to probe fields with JA3/JA4.
func BenchmarkParse(b *testing.B) {
	servicetest.BenchParse(b, New(), chromeHello(b), probe.TCP)
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
	servicetest.BenchDetectComplete(b, New(), chromeHello(b), 443)
}
