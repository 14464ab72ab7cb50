package http

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// zgrab2Request is the first request of zgrab2's http module, from the real
// tool corpus.
func zgrab2Request(b *testing.B) []byte {
	for _, e := range loadCorpus(b) {
		if e.Tool == "zgrab2-http" && e.HTTP != nil {
			return requestBytes(b, e)
		}
	}
	b.Fatal("no zgrab2-http request in the corpus")
	return nil
}

func BenchmarkParse(b *testing.B) {
	payload := zgrab2Request(b)
	svc := New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Parse(payload, probe.TCP); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectComplete(b *testing.B) {
	payload := zgrab2Request(b)
	svc := New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if svc.Detect(payload, probe.TCP, 80) != probe.Certain || !svc.Complete(payload, probe.TCP) {
			b.Fatal("zgrab2 request not detected as a whole HTTP request")
		}
	}
}
