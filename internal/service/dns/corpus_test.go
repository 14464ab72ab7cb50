package dns

import (
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// corpusEntry is one connection of the real tool probe corpus; dns is the
// corpus builder's own decoding of the query, our ground truth.
type corpusEntry struct {
	sharedtest.CorpusProbe
	DNS *struct {
		ID      string `json:"id"`
		Flags   string `json:"flags"`
		QDCount int    `json:"qdcount"`
		ARCount int    `json:"arcount"`
		QName   string `json:"qname"`
		QType   int    `json:"qtype"`
		QClass  int    `json:"qclass"`
		EDNS    bool   `json:"edns"`
	} `json:"dns"`
}

func loadCorpus(t testing.TB) []corpusEntry {
	t.Helper()
	return sharedtest.ProbeCorpus[corpusEntry](t)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRealToolQueriesMatchCorpusDecode(t *testing.T) {
	svc := New()
	queries, junk := 0, 0
	for i, e := range loadCorpus(t) {
		if e.DNS == nil {
			continue
		}
		payload := mustHex(t, e.PayloadHex)
		fields, err := svc.Parse(payload, probe.UDP)
		if e.DNS.QDCount == 0 {
			// nmap's RPC probe sent to the DNS port: the corpus decoder read
			// it as DNS, but with no question it is not a query.
			junk++
			if err == nil {
				t.Errorf("entry %d (%s): parsed a message without a question: %v", i, e.Tool, fields)
			}
			if c := svc.Detect(payload, probe.UDP, 53); c != probe.NotMine {
				t.Errorf("entry %d (%s): Detect = %d on a payload with no question", i, e.Tool, c)
			}
			continue
		}
		if err != nil {
			t.Errorf("entry %d (%s): %v", i, e.Tool, err)
			continue
		}
		queries++
		id, _ := strconv.ParseUint(e.DNS.ID, 16, 16)
		flags, _ := strconv.ParseUint(e.DNS.Flags, 0, 16)
		want := map[string]uint64{
			FieldID: id, FieldQR: flags >> 15, FieldOpcode: flags >> 11 & 0xf,
			FieldAA: flags >> 10 & 1, FieldTC: flags >> 9 & 1, FieldRD: flags >> 8 & 1,
			FieldRA: flags >> 7 & 1, FieldZ: flags >> 6 & 1, FieldAD: flags >> 5 & 1,
			FieldCD: flags >> 4 & 1, FieldRcode: flags & 0xf,
			FieldQDCount: uint64(e.DNS.QDCount), FieldARCount: uint64(e.DNS.ARCount),
			FieldQType: uint64(e.DNS.QType), FieldQClass: uint64(e.DNS.QClass),
		}
		if e.DNS.EDNS {
			want[FieldEDNS] = 1
		} else {
			want[FieldEDNS] = 0
		}
		for name, w := range want {
			if got := fields.Value(name); got != strconv.FormatUint(w, 10) {
				t.Errorf("entry %d (%s): %s = %s, want %d", i, e.Tool, name, got, w)
			}
		}
		if got := fields.Value(FieldQName); got != e.DNS.QName {
			t.Errorf("entry %d (%s): qname %q, want %q", i, e.Tool, got, e.DNS.QName)
		}
		if c := svc.Detect(payload, probe.UDP, 53); c != probe.Certain {
			t.Errorf("entry %d (%s): Detect on port 53 = %d, want Certain", i, e.Tool, c)
		}
		if c := svc.Detect(payload, probe.UDP, e.DstPort); c < probe.ByContent {
			t.Errorf("entry %d (%s): Detect on port %d = %d, want ByContent", i, e.Tool, e.DstPort, c)
		}

		// The same query over TCP, with its length prefix.
		framed := append([]byte{byte(len(payload) >> 8), byte(len(payload))}, payload...)
		tcpFields, err := svc.Parse(framed, probe.TCP)
		if err != nil || render(tcpFields) != render(fields) {
			t.Errorf("entry %d (%s): TCP framing changed the parse: %v\n%s", i, e.Tool, err, render(tcpFields))
		}
		if !svc.Complete(framed, probe.TCP) || svc.Complete(framed[:len(framed)-1], probe.TCP) {
			t.Errorf("entry %d (%s): Complete wrong around the announced length", i, e.Tool)
		}
	}
	// dig (2), kdig, masscan, nmap version.bind; and nmap's RPC probe.
	if queries < 5 || junk < 1 {
		t.Fatalf("checked %d queries and %d non-queries; the corpus has 5 and 1", queries, junk)
	}
}

// No HTTP request, TLS hello or nmap binary probe of the corpus may be taken
// for a DNS query, whichever transport or port it is offered on.
func TestRealNonDNSProbesAreNotClaimed(t *testing.T) {
	svc := New()
	checked := 0
	for i, e := range loadCorpus(t) {
		if e.DNS != nil {
			continue
		}
		payload := mustHex(t, e.PayloadHex)
		if len(payload) == 0 {
			continue
		}
		// nmap -sV's DNSVersionBindReqTCP is a real DNS query over TCP.
		isTCPQuery := e.PayloadHex == nmapVersionBindTCP
		for _, tr := range []probe.Transport{probe.UDP, probe.TCP} {
			want := probe.NotMine
			if isTCPQuery && tr == probe.TCP {
				want = probe.Certain
			}
			if c := svc.Detect(payload, tr, 53); c != want {
				t.Errorf("entry %d (%s) over %s: Detect = %d, want %d for %x", i, e.Tool, tr, c, want, payload[:min(len(payload), 32)])
			}
		}
		checked++
	}
	if checked < 300 {
		t.Fatalf("only %d non-DNS probes checked", checked)
	}
}
