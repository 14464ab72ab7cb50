package http

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// zgrab2Request is the first request of zgrab2's http module, from the real
// tool corpus.
func zgrab2Request(b *testing.B) []byte {
	e := servicetest.First(b, loadCorpus(b), "zgrab2-http request", func(e corpusEntry) bool {
		return e.Tool == "zgrab2-http" && e.HTTP != nil
	})
	return requestBytes(b, e)
}

func BenchmarkParse(b *testing.B) {
	servicetest.BenchParse(b, New(), zgrab2Request(b), probe.TCP)
}

// BenchmarkDetectComplete reports throughput too: Complete scans the request
// for the blank line that ends its headers.
func BenchmarkDetectComplete(b *testing.B) {
	payload := zgrab2Request(b)
	b.SetBytes(int64(len(payload)))
	servicetest.BenchDetectComplete(b, New(), payload, 80)
}
