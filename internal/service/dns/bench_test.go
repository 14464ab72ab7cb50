package dns

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// digQuery is dig's "example.com A" query with EDNS, from the real tool
// corpus.
func digQuery(b *testing.B) []byte {
	e := servicetest.First(b, loadCorpus(b), "dig-A query", func(e corpusEntry) bool {
		return e.Tool == "dig-A" && e.DNS != nil
	})
	return mustHex(b, e.PayloadHex)
}

func BenchmarkParse(b *testing.B) {
	servicetest.BenchParse(b, New(), digQuery(b), probe.UDP)
}

func BenchmarkDetect(b *testing.B) {
	payload := digQuery(b)
	svc := New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if svc.Detect(payload, probe.UDP, 53) != probe.Certain {
			b.Fatal("dig query not detected")
		}
	}
}
