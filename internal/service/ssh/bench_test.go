package ssh

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// BenchmarkParse parses the OpenSSH 9.2p1 client's identification and
// KEXINIT (1.6 KB), as recorded on loopback.
func BenchmarkParse(b *testing.B) {
	servicetest.BenchParse(b, New(), readClient(b, "openssh-9.2p1.bin"), probe.TCP)
}

// BenchmarkDetectComplete is what reassembly pays per segment.
func BenchmarkDetectComplete(b *testing.B) {
	payload := readClient(b, "openssh-9.2p1.bin")
	b.SetBytes(int64(len(payload)))
	servicetest.BenchDetectComplete(b, New(), payload, 22)
}
