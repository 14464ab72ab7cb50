package rdp

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func readClient(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstPDU is the Connection Request at the start of a recording (the
// rest is what the client sent after the listener's confirm).
func firstPDU(b []byte) []byte {
	return b[:min(len(b), int(b[2])<<8|int(b[3]))]
}

// TestRealClients parses the requests real tools sent (clients/README.md).
func TestRealClients(t *testing.T) {
	want := map[string]struct{ cookie, neg, protocols string }{
		"xfreerdp-2.11.7.bin":            {"scanner", "RDP_NEG_REQ", "SSL,HYBRID"},
		"xfreerdp-2.11.7-rdp-sec.bin":    {"scanner", "absent", probe.NotAvailable},
		"nmap-rdp-enum-encryption.bin":   {"nmap", "RDP_NEG_REQ", "SSL,HYBRID"},
		"nmap-rdp-enum-encryption-1.bin": {"nmap", "RDP_NEG_REQ", "SSL"},
		"nmap-rdp-enum-encryption-2.bin": {"nmap", "RDP_NEG_REQ", "RDP"},
		"nmap-rdp-enum-encryption-3.bin": {"nmap", "RDP_NEG_REQ", "RDSTLS"},
		"nmap-rdp-enum-encryption-4.bin": {"nmap", "RDP_NEG_REQ", "HYBRID_EX"},
		"nmap-rdp-enum-encryption-5.bin": {"nmap", "absent", probe.NotAvailable},
		"nmap-rdp-enum-encryption-8.bin": {"nmap", "absent", probe.NotAvailable},
		"nmap-rdp-ntlm-info.bin":         {"nmap", "RDP_NEG_REQ", "SSL,HYBRID,HYBRID_EX"},
	}
	svc := New()
	files, _ := filepath.Glob("clients/*.bin")
	if len(files) < 12 {
		t.Fatalf("%d recordings", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		b := readClient(t, name)
		if svc.Detect(b, probe.TCP, Port) != probe.Certain || !svc.Complete(b, probe.TCP) || !svc.Complete(firstPDU(b), probe.TCP) {
			t.Errorf("%s: not a complete request on %d", name, Port)
		}
		fields, err := svc.Parse(b, probe.TCP)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fields.Value(FieldTrailing) != probe.NotAvailable {
			t.Errorf("%s: the PDU after the request was read as part of it", name)
		}
		w, ok := want[name]
		if !ok {
			continue
		}
		delete(want, name)
		for field, v := range map[string]string{FieldCookie: w.cookie, FieldNegRequest: w.neg, FieldRequestedProtoNames: w.protocols} {
			if got := fields.Value(field); got != v {
				t.Errorf("%s: %s = %q, want %q", name, field, got, v)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("recordings missing: %v", want)
	}
}

// TestTsharkAgrees dissects testdata/clients.pcap, recorded in the same
// run as clients/*.bin, with Wireshark's RDP dissector and checks that the
// Connection Requests it finds are those of the recordings: the same
// cookie line, negotiation type, flags, length and requested protocols.
func TestTsharkAgrees(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install -y tshark); skipping the Wireshark cross-check")
	}
	out, err := exec.Command(tshark, "-r", "testdata/clients.pcap", "-Y", "cotp.type == 0x0e",
		"-T", "fields", "-E", "separator=/t", "-e", "rdp.rt_cookie", "-e", "rdp.neg_type", "-e", "rdp.negReq.flags",
		"-e", "rdp.neg_length", "-e", "rdp.negReq.requestedProtocols").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var theirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		theirs = append(theirs, line)
	}
	hexOrEmpty := func(fs probe.Fields, name string, digits int) string {
		v := fs.Value(name)
		if v == probe.NotAvailable {
			return ""
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		return fmt.Sprintf("0x%0*x", digits, n)
	}
	var ours []string
	files, _ := filepath.Glob("clients/*.bin")
	for _, f := range files {
		fields, err := ParseRequest(readClient(t, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		cookie := ""
		if c := fields.Value(FieldCookie); c != probe.NotAvailable {
			cookie = "Cookie: mstshash=" + c
		}
		negType, negLen := "", ""
		if fields.Value(FieldNegRequest) == "RDP_NEG_REQ" {
			negType, negLen = "0x01", fields.Value(FieldNegLength)
		}
		ours = append(ours, strings.Join([]string{cookie, negType, hexOrEmpty(fields, FieldNegFlags, 2), negLen,
			hexOrEmpty(fields, FieldRequestedProtocols, 8)}, "\t"))
	}
	slices.Sort(theirs)
	slices.Sort(ours)
	if !slices.Equal(theirs, ours) {
		t.Fatalf("tshark's requests\n%s\nours\n%s", strings.Join(theirs, "\n"), strings.Join(ours, "\n"))
	}
}

// The shared real-tool corpus holds nmap -sV's two RDP probes, sent to
// other services' ports; nothing else in it is a connection request.
func TestSharedCorpus(t *testing.T) {
	svc := New()
	found := map[string]int{}
	for _, e := range sharedtest.ProbeCorpus[sharedtest.CorpusProbe](t) {
		b, err := hex.DecodeString(e.PayloadHex)
		if err != nil {
			t.Fatal(err)
		}
		c := svc.Detect(b, probe.TCP, e.DstPort)
		if c == probe.NotMine {
			continue
		}
		if c != probe.ByContent {
			t.Errorf("%s on %d: Detect = %d", e.Tool, e.DstPort, c)
		}
		fields, err := svc.Parse(b, probe.TCP)
		if err != nil {
			t.Fatalf("%s: %v", e.Tool, err)
		}
		found[fields.Value(FieldCookie)+" "+fields.Value(FieldRequestedProtoNames)]++
	}
	// TerminalServer (bare) and TerminalServerCookie, three ports each.
	if found["N/A N/A"] != 3 || found["nmap SSL,HYBRID"] != 3 || len(found) != 2 {
		t.Fatalf("corpus requests %v", found)
	}
}
