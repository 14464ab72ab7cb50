package capture

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// TestRealSSHAndRDPClients extracts the loopback captures of real SSH and
// RDP clients (internal/service/{ssh,rdp}/testdata/clients.pcap) and checks
// that every connection of a client gives one probe of its service whose
// payload is what the client sent first, as recorded in the same run
// (clients/*.bin): for SSH the identification and the whole KEXINIT,
// although the server spoke first; for RDP the Connection Request alone,
// not what the client sent after the server's confirm. The RDP capture also
// holds nmap -sV's thirty probes (testdata/nmap-sV): two are connection
// requests, the others are no RDP.
func TestRealSSHAndRDPClients(t *testing.T) {
	for _, c := range []struct {
		service string
		port    uint16
		first   func([]byte) []byte
		others  int
	}{
		{"ssh", 2222, func(b []byte) []byte { return b }, 0},
		{"rdp", 3389, func(b []byte) []byte { return b[:int(b[2])<<8|int(b[3])] }, 28},
	} {
		t.Run(c.service, func(t *testing.T) {
			dir := filepath.Join("..", "service", c.service)
			got, _, err := extract(t, Options{}, filepath.Join(dir, "testdata", "clients.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "clients", "*.bin"))
			if c.service == "rdp" {
				files = append(files, filepath.Join(dir, "testdata", "nmap-sV", "nmap-sV.bin"), filepath.Join(dir, "testdata", "nmap-sV", "nmap-sV-2.bin"))
			}
			if len(files) < 12 {
				t.Fatalf("%d recordings", len(files))
			}
			var want, have []string
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, string(c.first(b)))
			}
			others := 0
			for _, p := range got {
				if p.Service != c.service {
					others++
					continue
				}
				if p.DstPort != c.port || p.ParseError != "" || len(p.Fields) < 3 {
					t.Errorf("probe %s:%d → %d: %d fields, parse error %q", p.SrcIP, p.SrcPort, p.DstPort, len(p.Fields), p.ParseError)
				}
				have = append(have, string(p.Payload))
			}
			slices.Sort(want)
			slices.Sort(have)
			if !slices.Equal(want, have) {
				t.Fatalf("%d %s probes, %d recordings; payloads differ", len(have), c.service, len(want))
			}
			if others != c.others {
				t.Errorf("%d probes of other services, want %d", others, c.others)
			}
		})
	}
}

// An SSH identification seen mid-stream says nothing about who sent it: a
// capture that missed the handshake takes the port's word for it, and the
// client's identification that follows the server's is the probe.
func TestMidstreamSSHBannerIsTheServers(t *testing.T) {
	segs := []seg{
		{src: "192.0.2.10", dst: "203.0.113.21", sport: 22, dport: 50003, ack: true, seq: 7001, payload: []byte("SSH-2.0-OpenSSH_9.2p1\r\n")},
		{src: "203.0.113.21", dst: "192.0.2.10", sport: 50003, dport: 22, ack: true, seq: 9001, payload: []byte("SSH-2.0-Go\r\n"), at: time.Millisecond},
	}
	path := tempPath(t, "mid.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	got, _, err := extract(t, Options{}, path)
	if err != nil || len(got) != 1 || got[0].Service != "ssh" || got[0].SrcIP.String() != "203.0.113.21" ||
		got[0].DstPort != 22 || string(got[0].Payload) != "SSH-2.0-Go\r\n" {
		t.Fatalf("a session whose first payload is the server's banner gave %+v %v", got, err)
	}
}
