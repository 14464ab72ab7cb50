// Package servicetest holds what the tests of the protocol services
// (internal/service/...) share. It imports none of them, so their own tests
// can import it; the product never does.
package servicetest

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// BenchParse is the body of a service's BenchmarkParse, the ingest path:
// svc.Parse of one payload over tr per iteration, reporting throughput in
// payload bytes and allocations. A parse error fails the benchmark.
func BenchParse(b *testing.B, svc probe.Service, payload []byte, tr probe.Transport) {
	b.Helper()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Parse(payload, tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchDetectComplete is what TCP session reassembly pays per segment of a
// first payload: svc.Detect on port, which must answer probe.Certain, and
// svc.Complete, which must find the message whole, per iteration. It reports
// allocations; a caller that wants throughput in payload bytes calls
// b.SetBytes first.
func BenchDetectComplete(b *testing.B, svc probe.Service, payload []byte, port uint16) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		if svc.Detect(payload, probe.TCP, port) != probe.Certain || !svc.Complete(payload, probe.TCP) {
			b.Fatalf("%s: %d-byte payload not detected as a whole message on port %d", svc.Name(), len(payload), port)
		}
	}
}

// First returns the first of records that match accepts, and fails t with
// "no <what> in the corpus" when none does: how a benchmark picks the real
// payload it measures.
func First[T any](t testing.TB, records []T, what string, match func(T) bool) T {
	t.Helper()
	for _, r := range records {
		if match(r) {
			return r
		}
	}
	t.Fatalf("no %s in the corpus", what)
	var none T
	return none
}
