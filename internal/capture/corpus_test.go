package capture

import (
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// corpusEntry is one connection of real_tool_probes.jsonl: the bytes a real
// scanner tool sent first, and how the corpus authors dissected them.
type corpusEntry struct {
	Tool       string `json:"tool"`
	DstPort    uint16 `json:"dst_port"`
	Provenance string `json:"provenance"`
	PayloadHex string `json:"payload_hex"`
	HelloHex   string `json:"tls_clienthello_hex"`
	HTTP       *struct {
		Method, URL, Version string
		Headers              [][2]string `json:"headers"`
	} `json:"http"`
	TLS *struct {
		JA3MD5 string `json:"ja3_md5"`
		JA4    string `json:"ja4"`
	} `json:"tls"`
	DNS *struct {
		Qname string `json:"qname"`
		Qtype int    `json:"qtype"`
	} `json:"dns"`
}

func loadCorpus(t *testing.T) []corpusEntry {
	var out []corpusEntry
	for _, e := range sharedtest.JSONLines[corpusEntry](t, "realdata", "probe_corpus", "real_tool_probes.jsonl") {
		if e.Provenance == "captured-on-loopback" {
			out = append(out, e)
		}
	}
	return out
}

func corpusProbes(t *testing.T) []probe.Probe {
	got, _, err := extract(t, Options{}, sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRealToolCorpus checks every first probe found in the real loopback
// capture against the corpus' own record of what each tool sent. The pcap
// holds one run of the tools and the JSON lines another, so TLS randoms
// differ: HTTP and DNS are matched by bytes, TLS by fingerprint. Tools that
// send several requests on one connection (l9explore) have corpus entries
// for each request, but only the first is a first probe.
func TestRealToolCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	got := corpusProbes(t)
	byService := map[string]int{}
	for _, p := range got {
		byService[p.Service]++
	}
	// Golden counts, cross-checked with tshark 4.0 (see TestAgreesWithTshark).
	// Three of the TLS probes are SSLv2-compatible hellos (testssl, nmap);
	// the RDP ones are nmap -sV's TerminalServer and TerminalServerCookie
	// probes, sent to three ports each.
	want := map[string]int{"http": 29, "tls": 271, "dns": 7, "rdp": 6, "other": 68}
	for s, n := range want {
		if byService[s] != n {
			t.Errorf("%s probes: got %d, want %d", s, byService[s], n)
		}
	}
	type key struct {
		port uint16
		hex  string
	}
	byBytes := map[key]corpusEntry{}
	tlsFP := map[string]corpusEntry{} // "port ja3 ja4"
	for _, e := range corpus {
		byBytes[key{e.DstPort, e.PayloadHex}] = e
		if e.TLS != nil && e.HelloHex != "" {
			tlsFP[strconv.Itoa(int(e.DstPort))+" "+e.TLS.JA3MD5+" "+e.TLS.JA4] = e
		}
	}
	var httpChecked, tlsByCorpus, dnsChecked int
	for _, p := range got {
		switch p.Service {
		case "http", "dns":
			e, ok := byBytes[key{p.DstPort, hex.EncodeToString(p.Payload)}]
			if !ok {
				t.Errorf("%s probe to port %d not in the corpus: %q", p.Service, p.DstPort, p.Payload)
				continue
			}
			if e.HTTP != nil && p.Service == "http" {
				httpChecked++
				line := p.Fields.Value("Method") + " " + p.Fields.Value("Url") + " " + p.Fields.Value("Version")
				if line != e.HTTP.Method+" "+e.HTTP.URL+" "+e.HTTP.Version {
					t.Errorf("%s: request line %q, corpus %s %s %s", e.Tool, line, e.HTTP.Method, e.HTTP.URL, e.HTTP.Version)
				}
				ua := probe.NotAvailable
				for _, h := range e.HTTP.Headers {
					if h[0] == "User-Agent" {
						ua = h[1]
					}
				}
				if p.Fields.Value("User-Agent") != ua {
					t.Errorf("%s: User-Agent %q, corpus %q", e.Tool, p.Fields.Value("User-Agent"), ua)
				}
			}
			if e.DNS != nil && p.Service == "dns" {
				dnsChecked++
				if p.Fields.Value("qname") != e.DNS.Qname || p.Fields.Value("qtype") != strconv.Itoa(e.DNS.Qtype) {
					t.Errorf("%s: qname %s qtype %s, corpus %s %d", e.Tool, p.Fields.Value("qname"), p.Fields.Value("qtype"), e.DNS.Qname, e.DNS.Qtype)
				}
			}
		case "tls":
			if _, ok := tlsFP[strconv.Itoa(int(p.DstPort))+" "+p.Fields.Value("ja3")+" "+p.Fields.Value("ja4")]; ok {
				tlsByCorpus++
			}
		}
	}
	// Floors from the capture: every HTTP probe with a dissected corpus twin,
	// every DNS query, and the TLS hellos of tools the corpus dissected.
	if httpChecked < 10 || dnsChecked != 3 || tlsByCorpus < 200 {
		t.Errorf("checked http %d, dns %d, tls fingerprints %d against the corpus", httpChecked, dnsChecked, tlsByCorpus)
	}
}

// TestAgreesWithTshark compares the JA3 of every first ClientHello with
// Wireshark's dissection, an independent implementation.
func TestAgreesWithTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark); .ci/run installs it")
	}
	path := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	out, err := exec.Command("tshark", "-r", path, "-d", "tcp.port==18443,tls", "-d", "tcp.port==18444,tls",
		"-Y", "tls.handshake.type==1", "-T", "fields", "-e", "tcp.srcport", "-e", "tls.handshake.ja3").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 2 {
			if _, seen := want[f[0]]; !seen {
				want[f[0]] = strings.Split(f[1], ",")[0]
			}
		}
	}
	if len(want) < 250 {
		t.Fatalf("tshark found only %d hellos", len(want))
	}
	ours := map[string]string{}
	for _, p := range corpusProbes(t) {
		if p.Service == "tls" {
			ours[strconv.Itoa(int(p.SrcPort))] = p.Fields.Value("ja3")
		}
	}
	for port, ja3 := range want {
		if ja3 == "" {
			continue // tshark computes no JA3 for SSLv2-compatible hellos
		}
		if ours[port] != ja3 {
			t.Errorf("client port %s: ja3 %q, tshark %q", port, ours[port], ja3)
		}
	}
}
