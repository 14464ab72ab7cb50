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
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func readClient(t testing.TB, name string) []byte { return servicetest.ReadClient(t, name) }

// firstPDU is the Connection Request at the start of a recording (the
// rest is what the client sent after the listener's confirm).
func firstPDU(b []byte) []byte {
	return b[:min(len(b), int(b[2])<<8|int(b[3]))]
}

// TestRealClients parses the requests real tools sent (clients/README.md).
func TestRealClients(t *testing.T) {
	want := map[string]struct{ cookie, neg, protocols string }{
		"xfreerdp-2.11.7.bin":         {"scanner", "RDP_NEG_REQ", "SSL,HYBRID"},
		"xfreerdp-2.11.7-rdp-sec.bin": {"scanner", "absent", probe.NotAvailable},
		"nmap-rdp-ntlm-info.bin":      {"nmap", "RDP_NEG_REQ", "SSL,HYBRID,HYBRID_EX"},
	}
	// rdp-enum-encryption asks for each security protocol on a connection
	// of its own, in parallel (so in no fixed file order), then for
	// standard security with no negotiation request on four more.
	var enumProtocols []string
	svc := New()
	files, _ := filepath.Glob("clients/*.bin")
	if len(files) != 12 {
		t.Fatalf("%d recordings, want 12", len(files))
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
		if strings.HasPrefix(name, "nmap-rdp-enum-encryption") {
			if fields.Value(FieldCookie) != "nmap" {
				t.Errorf("%s: cookie %q", name, fields.Value(FieldCookie))
			}
			enumProtocols = append(enumProtocols, fields.Value(FieldNegRequest)+" "+fields.Value(FieldRequestedProtoNames))
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation", name)
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
	slices.Sort(enumProtocols)
	wantEnum := []string{"RDP_NEG_REQ HYBRID_EX", "RDP_NEG_REQ RDP", "RDP_NEG_REQ RDSTLS", "RDP_NEG_REQ SSL", "RDP_NEG_REQ SSL,HYBRID",
		"absent N/A", "absent N/A", "absent N/A", "absent N/A"}
	slices.Sort(wantEnum)
	if !slices.Equal(enumProtocols, wantEnum) {
		t.Errorf("rdp-enum-encryption asked for %q, want %q", enumProtocols, wantEnum)
	}
}

// nmapServiceProbes are nmap -sV's probes to port 3389 (testdata/nmap-sV):
// the first bytes of each of its connections.
func nmapServiceProbes(t *testing.T) map[string][]byte {
	files, _ := filepath.Glob("testdata/nmap-sV/*.bin")
	if len(files) != 30 {
		t.Fatalf("%d nmap -sV recordings, want 30", len(files))
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// Of nmap -sV's thirty probes to port 3389 only TerminalServerCookie (its
// first) and TerminalServer are connection requests; no other is claimed.
func TestNmapServiceProbes(t *testing.T) {
	svc := New()
	for name, b := range nmapServiceProbes(t) {
		claimed := svc.Detect(b, probe.TCP, Port) == probe.Certain
		switch name {
		case "nmap-sV.bin", "nmap-sV-2.bin":
			fields, err := svc.Parse(b, probe.TCP)
			if !claimed || err != nil {
				t.Errorf("%s: claimed %v, %v", name, claimed, err)
			}
			want := map[string]string{"nmap-sV.bin": "nmap SSL,HYBRID", "nmap-sV-2.bin": "N/A absent"}[name]
			if got := fields.Value(FieldCookie) + " " + fields.Value(FieldRequestedProtoNames); name == "nmap-sV.bin" && got != want {
				t.Errorf("%s: %s", name, got)
			} else if name == "nmap-sV-2.bin" && fields.Value(FieldNegRequest) != "absent" {
				t.Errorf("%s: %s", name, render(fields))
			}
		default:
			if svc.Detect(b, probe.TCP, Port) != probe.NotMine {
				t.Errorf("%s (%x) claimed", name, b[:min(len(b), 16)])
			}
		}
	}
}

// TestTsharkAgrees dissects testdata/clients.pcap, recorded in the same
// run as clients/*.bin and testdata/nmap-sV, with Wireshark's RDP dissector
// and checks that the Connection Requests it finds are those of the
// recordings: the same
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
	// A bare request is a line of empty fields: trim only the last line end.
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
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
	var requests [][]byte
	files, _ := filepath.Glob("clients/*.bin")
	for _, f := range files {
		requests = append(requests, readClient(t, filepath.Base(f)))
	}
	for _, b := range nmapServiceProbes(t) {
		if crShape(b) {
			requests = append(requests, b)
		}
	}
	for _, b := range requests {
		fields, err := ParseRequest(b)
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
