package simulate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
	"github.com/scannergrouper/scannergrouper/internal/simulate/corpusfile"
)

// TestHTTPRequestsAreTheToolsBytes rebuilds every real tool's HTTP request
// from corpus.json for the address and port the tool was run against, and
// checks that the bytes are exactly what the tool sent
// (realdata/probe_corpus/real_tool_probes.jsonl).
func TestHTTPRequestsAreTheToolsBytes(t *testing.T) {
	path := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cf corpusfile.File
	if err := readJSON("data/corpus.json", &cf); err != nil {
		t.Fatal(err)
	}
	corpus := map[string]corpusfile.HTTPRequest{}
	for _, h := range cf.HTTPRequests {
		corpus[h.Name] = h
	}
	type entry struct {
		Name    string  `json:"name"`
		Weight  float64 `json:"weight"`
		Request string  `json:"request"`
	}
	var list []entry
	for name := range corpus {
		list = append(list, entry{Name: name, Weight: 1, Request: name})
	}
	templates := testTemplates(t, "http", list)
	rng := rand.New(rand.NewPCG(1, 1))
	checked := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var rec struct {
			Tool    string          `json:"tool"`
			DstPort uint16          `json:"dst_port"`
			Payload string          `json:"payload_hex"`
			HTTP    json.RawMessage `json:"http"`
			TLS     json.RawMessage `json:"tls"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.HTTP == nil || string(rec.HTTP) == "null" || rec.TLS != nil || rec.Payload == "" {
			continue
		}
		real, err := hex.DecodeString(rec.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(real, []byte("\r\n\r\n")) || !bytes.Contains(real[:bytes.IndexByte(real, '\n')+1], []byte(" HTTP/")) {
			continue // not a plain HTTP request (SIP, RTSP, multi-protocol probes)
		}
		matched := false
		// gendata keeps one copy of identical requests, whichever tool sent
		// them first, so any corpus entry may match.
		for _, v := range templates {
			em := v.Emit(rng, netip.MustParseAddr("127.0.0.1"), rec.DstPort, time.Time{})
			if bytes.Equal(em.Payload, real) {
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("%s (port %d): no corpus request rebuilds the tool's bytes %q", rec.Tool, rec.DstPort, real)
		}
		checked++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d real HTTP requests checked", checked)
	}
}
