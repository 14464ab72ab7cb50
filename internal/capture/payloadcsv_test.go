package capture

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func TestPayloadCSV(t *testing.T) {
	hello := corpusHello(t)
	rows := []string{
		"time,src_ip,src_port,dst_ip,dst_port,transport,payload,extra",
		// An HTTP request logged in two rows (two segments), base64.
		"2024-02-01 07:19:09,198.51.100.7,40001,192.0.2.10,80,tcp," + base64.StdEncoding.EncodeToString([]byte(httpReq[:20])) + ",x",
		"2024-02-01 07:19:09.5,198.51.100.7,40001,192.0.2.10,80,tcp," + base64.StdEncoding.EncodeToString([]byte(httpReq[20:])) + ",x",
		// A ClientHello in hex, RFC 3339 time.
		"2024-02-01T07:20:00Z,198.51.100.8,40002,192.0.2.10,443,TCP," + hex.EncodeToString(hello) + ",",
		"not-a-time,198.51.100.9,1,192.0.2.10,53,udp,00,",
		// A DNS query, Unix time, then the same session again (not a probe).
		"1706772060.25,198.51.100.9,5353,192.0.2.10,53,udp," + hex.EncodeToString(dnsQuery) + ",",
		"1706772061,198.51.100.9,5353,192.0.2.10,53,udp," + hex.EncodeToString(dnsQuery) + ",",
		"2024-02-01 07:21:00,198.51.100.10,70000,192.0.2.10,80,tcp,00,",
	}
	path := tempPath(t, "log.csv")
	os.WriteFile(path, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	var got []probe.Probe
	_, err := ExtractPayloadCSV(context.Background(), path, Options{}, func(p probe.Probe) error {
		got = append(got, p)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), path+":5: time") || !strings.Contains(err.Error(), path+":8: src_port") {
		t.Fatalf("bad rows must be reported with file:line, got %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("want 3 probes, got %d", len(got))
	}
	services := map[string]probe.Probe{}
	for _, p := range got {
		services[p.Service] = p
	}
	if p := services["http"]; string(p.Payload) != httpReq || p.Fields.Value("User-Agent") != "Mozilla/5.0 zgrab/0.x" {
		t.Errorf("http rows not joined: %q", p.Payload)
	}
	if p := services["tls"]; p.Fields.Value("ja3") != "78f0dc5ac5b19daf131a133cfdee9691" {
		t.Errorf("tls probe: %+v", p.Fields)
	}
	if p := services["dns"]; p.Fields.Value("qname") != "id.server" || p.Time.UnixMilli() != 1706772060250 {
		t.Errorf("dns probe: %v %v", p.Time, p.Fields)
	}
}

func TestPayloadCSVMissingColumn(t *testing.T) {
	path := tempPath(t, "log.csv")
	os.WriteFile(path, []byte("time,src_ip,payload\n"), 0o644)
	_, err := ExtractPayloadCSV(context.Background(), path, Options{}, func(probe.Probe) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `missing column "src_port"`) {
		t.Fatalf("got %v", err)
	}
}
