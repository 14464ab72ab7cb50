package rdp

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// BenchmarkParse parses xfreerdp's Connection Request (cookie and
// RDP_NEG_REQ), as recorded on loopback.
func BenchmarkParse(b *testing.B) {
	servicetest.BenchParse(b, New(), firstPDU(readClient(b, "xfreerdp-2.11.7.bin")), probe.TCP)
}

// BenchmarkDetectComplete is what reassembly pays per segment.
func BenchmarkDetectComplete(b *testing.B) {
	payload := firstPDU(readClient(b, "xfreerdp-2.11.7.bin"))
	b.SetBytes(int64(len(payload)))
	servicetest.BenchDetectComplete(b, New(), payload, Port)
}
