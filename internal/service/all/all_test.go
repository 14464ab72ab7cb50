package all

import (
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func TestEveryServiceRegisteredAndSummarised(t *testing.T) {
	want := []string{"dns", "http", "rdp", "ssh", "tls"}
	got := probe.Services()
	if len(got) != len(want) {
		t.Fatalf("registered %d services, want %v", len(got), want)
	}
	// The registration order is the pipeline's service order.
	if order := probe.ServiceNames(); strings.Join(order, ",") != "http,tls,dns,ssh,rdp" {
		t.Errorf("registration order %v, want http, tls, dns, ssh, rdp", order)
	}
	for i, s := range got {
		if s.Name() != want[i] {
			t.Errorf("service %d is %q, want %q", i, s.Name(), want[i])
		}
		if _, ok := s.(probe.Summarizer); !ok {
			t.Errorf("%s has no Summary", s.Name())
		}
		if _, ok := s.(probe.Encoder); !ok {
			t.Errorf("%s declares no encoding rules", s.Name())
		}
	}
	cases := []struct {
		payload string
		service string
		summary string
	}{
		{"GET /robots.txt HTTP/1.1\r\nUser-Agent: Mozilla/5.0 zgrab/0.x\r\n\r\n", "http", "GET /robots.txt HTTP/1.1  UA: Mozilla/5.0 zgrab/0.x"},
		{"GET / HTTP/1.0\r\n\r\n", "http", "GET / HTTP/1.0  (no User-Agent)"},
		{"\x25\x3a\x01\x20\x00\x01\x00\x00\x00\x00\x00\x00\x02id\x06server\x00\x00\x10\x00\x03", "dns", "id.server type 16 class 3 rd=1 edns=0"},
	}
	for _, c := range cases {
		tr := probe.TCP
		if c.service == "dns" {
			tr = probe.UDP
		}
		svc := probe.Classify([]byte(c.payload), tr, 53)
		if svc == nil || svc.Name() != c.service {
			t.Fatalf("%q classified as %v, want %s", c.payload, svc, c.service)
		}
		fields, err := svc.Parse([]byte(c.payload), tr)
		if err != nil {
			t.Fatal(err)
		}
		if got := probe.Summary(probe.Probe{Service: c.service, Fields: fields}); got != c.summary {
			t.Errorf("summary %q, want %q", got, c.summary)
		}
	}
}
