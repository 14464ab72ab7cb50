package dns

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// digQuery is dig's "example.com A" query with EDNS, from the real tool
// corpus.
func digQuery(b *testing.B) []byte {
	for _, e := range loadCorpus(b) {
		if e.Tool == "dig-A" && e.DNS != nil {
			return mustHex(b, e.PayloadHex)
		}
	}
	b.Fatal("no dig-A query in the corpus")
	return nil
}

func BenchmarkParse(b *testing.B) {
	payload := digQuery(b)
	svc := New()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Parse(payload, probe.UDP); err != nil {
			b.Fatal(err)
		}
	}
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
