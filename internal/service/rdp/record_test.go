package rdp

import (
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

var record = flag.Bool("record", false, "record real RDP clients on loopback into clients/ and testdata/clients.pcap (needs xfreerdp, nmap, dumpcap)")

// confirm is the recording listener's X.224 Connection Confirm to a
// request: with an RDP_NEG_RSP selecting the first protocol the client
// asked for (standard RDP security when it asked for none), as a Windows
// server does.
func confirm(got []byte) []byte {
	if !New().Complete(got, "tcp") {
		return nil
	}
	fields, _ := ParseRequest(got)
	selected := byte(0)
	if f, ok := fields.Get(FieldRequestedProtoNames); ok {
		for bit, name := range []string{"SSL", "HYBRID", "RDSTLS", "HYBRID_EX"} {
			if slices.Contains(f.Items, name) {
				selected = 1 << bit
				break
			}
		}
	}
	return []byte{3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, selected, 0, 0, 0}
}

// TestRecordRealClients rewrites clients/*.bin and testdata/clients.pcap;
// clients/README.md says which tool and command made each file.
func TestRecordRealClients(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record the real clients")
	}
	clients := []servicetest.Client{
		{Name: "xfreerdp-2.11.7", Cmd: []string{"timeout", "20", "xvfb-run", "-a", "xfreerdp", "/v:ADDR:PORT", "/u:scanner", "/p:secret", "/cert:ignore", "/auth-only"}},
		{Name: "xfreerdp-2.11.7-rdp-sec", Cmd: []string{"timeout", "20", "xvfb-run", "-a", "xfreerdp", "/v:ADDR:PORT", "/u:scanner", "/p:secret", "/cert:ignore", "/auth-only", "/sec:rdp"}},
		{Name: "nmap-rdp-enum-encryption", Cmd: []string{"nmap", "-Pn", "-n", "-p", "PORT", "--script", "rdp-enum-encryption", "ADDR"}},
		{Name: "nmap-rdp-ntlm-info", Cmd: []string{"nmap", "-Pn", "-n", "-p", "PORT", "--script", "rdp-ntlm-info", "ADDR"}},
		{Name: "nmap-sV", Cmd: []string{"nmap", "-Pn", "-n", "-sV", "-p", "PORT", "ADDR"}},
	}
	recs := servicetest.Record(t, Port, servicetest.Listener{Reply: confirm}, clients, 1500*time.Millisecond, "testdata/clients.pcap")
	// nmap -sV is no RDP client: its probes are test data, not templates.
	var clientRecs, nmapRecs []servicetest.Recording
	for _, r := range recs {
		if r.Client == "nmap-sV" {
			nmapRecs = append(nmapRecs, r)
		} else {
			clientRecs = append(clientRecs, r)
		}
	}
	for _, name := range servicetest.WriteRecordings(t, "clients", clientRecs) {
		t.Log("wrote clients/" + name)
	}
	for _, name := range servicetest.WriteRecordings(t, "testdata/nmap-sV", nmapRecs) {
		t.Log("wrote testdata/nmap-sV/" + name)
	}
}
