package http

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// corpusEntry is one connection of the real tool probe corpus; http is the
// corpus builder's own parse of the request (Python), our ground truth.
type corpusEntry struct {
	sharedtest.CorpusProbe
	InnerHTTPHex string `json:"inner_http_hex"`
	HTTP         *struct {
		Method  string      `json:"method"`
		URL     string      `json:"url"`
		Version string      `json:"version"`
		Headers [][2]string `json:"headers"`
	} `json:"http"`
}

func loadCorpus(t testing.TB) []corpusEntry {
	t.Helper()
	return sharedtest.ProbeCorpus[corpusEntry](t)
}

// requestBytes returns the plaintext HTTP request of an entry: the decrypted
// inner request for HTTPS listeners, the payload otherwise.
func requestBytes(t testing.TB, e corpusEntry) []byte {
	t.Helper()
	h := e.PayloadHex
	if e.InnerHTTPHex != "" {
		h = e.InnerHTTPHex
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("%s: bad hex: %v", e.Tool, err)
	}
	return b
}

func TestRealToolRequestsMatchCorpusParse(t *testing.T) {
	svc := New()
	checked, plainHTTP := 0, 0
	for i, e := range loadCorpus(t) {
		if e.HTTP == nil {
			continue
		}
		payload := requestBytes(t, e)
		if e.InnerHTTPHex == "" {
			plainHTTP++
		}
		fields, err := svc.Parse(payload, probe.TCP)
		if err != nil {
			t.Errorf("entry %d (%s): parse: %v", i, e.Tool, err)
			continue
		}
		if got := fields.Value(FieldMethod); got != e.HTTP.Method {
			t.Errorf("entry %d (%s): Method %q, want %q", i, e.Tool, got, e.HTTP.Method)
		}
		if got := fields.Value(FieldURL); got != e.HTTP.URL {
			t.Errorf("entry %d (%s): Url %q, want %q", i, e.Tool, got, e.HTTP.URL)
		}
		if got := fields.Value(FieldVersion); got != e.HTTP.Version {
			t.Errorf("entry %d (%s): Version %q, want %q", i, e.Tool, got, e.HTTP.Version)
		}
		headers := fields[3 : len(fields)-1]
		if len(headers) != len(e.HTTP.Headers) {
			t.Errorf("entry %d (%s): %d headers %v, want %d %v", i, e.Tool, len(headers), headers, len(e.HTTP.Headers), e.HTTP.Headers)
			continue
		}
		for j, want := range e.HTTP.Headers {
			if headers[j].Name != want[0] || headers[j].Value != want[1] {
				t.Errorf("entry %d (%s): header %d = %q: %q, want %q: %q", i, e.Tool, j, headers[j].Name, headers[j].Value, want[0], want[1])
			}
		}
		if last := fields[len(fields)-1]; last.Name != FieldBody {
			t.Errorf("entry %d (%s): last field %q, want Body", i, e.Tool, last.Name)
		}
		if c := svc.Detect(payload, probe.TCP, e.DstPort); c < probe.ByContent {
			t.Errorf("entry %d (%s): Detect = %d on a real request %q", i, e.Tool, c, payload)
		}
		if !svc.Complete(payload, probe.TCP) {
			t.Errorf("entry %d (%s): Complete = false on a whole request %q", i, e.Tool, payload)
		}
		checked++
	}
	// The corpus holds 42 parsed requests from the plain HTTP listener, one
	// masscan template and 25 decrypted HTTPS requests; a shrunken count
	// means the test silently stopped looking.
	if checked < 68 || plainHTTP < 43 {
		t.Fatalf("checked %d requests (%d plaintext), corpus has 68 (43)", checked, plainHTTP)
	}
}

// The corpus builder parsed HTTP only on its HTTP listener; a payload it
// found there to be no HTTP request (nmap's binary service probes, "HELP",
// bare line ends), a TLS ClientHello or a DNS query must be left to other
// services wherever it was sent, and a payload it parsed as HTTP must be
// claimed on every listener.
func TestRealProbesDetectedByContent(t *testing.T) {
	svc := New()
	entries := loadCorpus(t)
	isHTTP := map[string]bool{}
	notHTTP := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.HTTP != nil && e.InnerHTTPHex == "":
			isHTTP[e.PayloadHex] = true
		case e.Listener == "http" || e.Listener == "dns-udp" || e.Listener == "tls-raw" && strings.HasPrefix(e.PayloadHex, "16"):
			notHTTP[e.PayloadHex] = true
		}
	}
	claimed, refused := 0, 0
	for i, e := range entries {
		payload, err := hex.DecodeString(e.PayloadHex)
		if err != nil {
			t.Fatal(err)
		}
		c := svc.Detect(payload, probe.TCP, e.DstPort)
		switch {
		case isHTTP[e.PayloadHex]:
			if c < probe.ByContent {
				t.Errorf("entry %d (%s, port %d): Detect = %d on HTTP request %q", i, e.Tool, e.DstPort, c, payload)
			}
			claimed++
		case notHTTP[e.PayloadHex] && len(payload) > 0:
			if c != probe.NotMine {
				t.Errorf("entry %d (%s, port %d): Detect = %d, want NotMine for %q", i, e.Tool, e.DstPort, c, payload[:min(len(payload), 40)])
			}
			refused++
		}
		// Bare line ends are HTTP only on a web port.
		if onlyLineEnds(payload) && len(payload) > 0 {
			if c := svc.Detect(payload, probe.TCP, 80); c != probe.ByPort {
				t.Errorf("entry %d (%s): Detect(%q, port 80) = %d, want ByPort", i, e.Tool, payload, c)
			}
		}
	}
	if claimed < 53 || refused < 107 {
		t.Fatalf("checked %d HTTP and %d non-HTTP probes; the corpus has 53 and 107", claimed, refused)
	}
	t.Logf("%d HTTP probes claimed, %d non-HTTP probes refused", claimed, refused)
}
