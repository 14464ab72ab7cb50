package capture

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// benchCapture writes a capture of n sessions (9 packets each: handshake,
// request, reply, FIN exchange, with an HTTP request or a ClientHello as the
// first probe) plus a DNS query per 8 sessions. It is cached per size.
func benchCapture(b *testing.B, sessions int) (string, int) {
	b.Helper()
	path := b.TempDir() + "/bench.pcap"
	hello := corpusHello(&testing.T{})
	var segs []seg
	for i := 0; i < sessions; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		client := "198.51." + itoa(100+i%100) + "." + itoa(i/100%250+1)
		if i%2 == 0 {
			segs = append(segs, tcpSession(client, "192.0.2.10", uint16(1024+i%60000), 80, at, []byte(httpReq))...)
		} else {
			segs = append(segs, tcpSession(client, "192.0.2.11", uint16(1024+i%60000), 443, at, hello[:300], hello[300:])...)
		}
		if i%8 == 0 {
			segs = append(segs, seg{src: client, dst: "192.0.2.12", sport: uint16(2000 + i%60000), dport: 53, udp: true, payload: dnsQuery, at: at})
		}
	}
	writePcap(b, path, layers.LinkTypeEthernet, segs)
	return path, len(segs)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// BenchmarkExtract measures capture reading, session tracking, reassembly
// and parsing of first probes, reported as packets per second.
func BenchmarkExtract(b *testing.B) {
	path, packets := benchCapture(b, 135000)
	info, _ := os.Stat(path)
	b.SetBytes(info.Size())
	b.ResetTimer()
	m := benchutil.Start()
	var probes int64
	for i := 0; i < b.N; i++ {
		st, err := Extract(context.Background(), []string{path}, Options{}, func(probe.Probe) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		probes = st.Probes
	}
	m.Report(b, float64(packets)*float64(b.N), "packets")
	b.ReportMetric(float64(probes)*float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}
