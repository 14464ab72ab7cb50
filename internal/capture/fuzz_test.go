package capture

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FuzzExtract feeds arbitrary bytes as a capture file: extraction must never
// panic, whatever the file holds, and every probe must respect the size cap.
func FuzzExtract(f *testing.F) {
	dir := f.TempDir()
	for _, opts := range [][]string{nil, {"pcapng"}, {"vlan"}} {
		path := filepath.Join(dir, "seed.pcap")
		segs := tcpSession("198.51.100.7", "192.0.2.10", 40001, 443, 0, []byte(httpReq))
		segs = append(segs, seg{src: "198.51.100.7", dst: "192.0.2.10", sport: 5353, dport: 53, udp: true, payload: dnsQuery})
		writePcap(f, path, layers.LinkTypeEthernet, segs, opts...)
		data, _ := os.ReadFile(path)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st := Stats{}
		tr := newTracker(Options{MaxFlows: 64}.withDefaults(), &st, func(p probe.Probe) error {
			if len(p.Payload) > probe.MaxPayload {
				t.Fatalf("payload of %d bytes exceeds the cap", len(p.Payload))
			}
			return nil
		})
		fr, err := openReader("fuzz", io.NopCloser(bytes.NewReader(data)))
		if err != nil {
			return
		}
		defer fr.Close()
		var p packet
		for fr.next(&p) == nil {
			if err := tr.handle(&p); err != nil {
				t.Fatal(err)
			}
		}
		tr.flush()
	})
}

// FuzzPayloadCSV does the same for payload logs.
func FuzzPayloadCSV(f *testing.F) {
	f.Add([]byte("time,src_ip,src_port,dst_ip,dst_port,transport,payload\n2024-02-01 07:19:09,198.51.100.7,40001,192.0.2.10,80,tcp,474554202f20485454502f312e310d0a0d0a\n"))
	f.Add([]byte("ts,saddr,sport,daddr,dport,proto,payload_base64\n1706772060,::1,1,::2,53,udp,AAA=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ExtractPayloadCSV(context.Background(), path, Options{MaxFlows: 64}, func(probe.Probe) error { return nil })
	})
}
