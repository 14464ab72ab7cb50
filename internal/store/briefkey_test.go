package store

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// TestBriefKeyParse reads the briefKey values SQLite and PostgreSQL spell
// and refuses damaged ones with the value in the message.
func TestBriefKeyParse(t *testing.T) {
	var b briefKeys
	var p probe.Probe
	pid, err := b.parse([]byte("198.51.100.7 2001:db8::1 http 40123 8080 77"), &p)
	if err != nil {
		t.Fatal(err)
	}
	want := probe.Probe{SrcIP: netip.MustParseAddr("198.51.100.7"), DstIP: netip.MustParseAddr("2001:db8::1"), Service: "http", SrcPort: 40123, DstPort: 8080}
	if pid != 77 || p.SrcIP != want.SrcIP || p.DstIP != want.DstIP || p.Service != want.Service || p.SrcPort != want.SrcPort || p.DstPort != want.DstPort {
		t.Errorf("parsed %+v, payload %d; want %+v, payload 77", p, pid, want)
	}
	var q probe.Probe
	if _, err := b.parse([]byte("198.51.100.8 192.0.2.1 http 1 2 3"), &q); err != nil || q.Service != "http" {
		t.Fatalf("second key: %v, service %q", err, q.Service)
	}
	for _, bad := range []string{
		"",
		"198.51.100.7",
		"198.51.100.7 192.0.2.1 http 1 2",
		"198.51.100.7 192.0.2.1 http 1 2 3 4",
		"198.51.100.999 192.0.2.1 http 1 2 3",
		"198.51.100.7 nowhere http 1 2 3",
		"198.51.100.7 192.0.2.1 http 65536 2 3",
		"198.51.100.7 192.0.2.1 http 1 -2 3",
		"198.51.100.7 192.0.2.1 http 1 2 x",
		"198.51.100.7  192.0.2.1 http 1 2 3",
	} {
		var p probe.Probe
		if _, err := b.parse([]byte(bad), &p); err == nil {
			t.Errorf("%q parsed as %+v", bad, p)
		} else if !strings.Contains(err.Error(), "bad ") {
			t.Errorf("%q: error %v does not say what is bad", bad, err)
		}
	}
}

// FuzzBriefKey: no key makes parse panic, and what it accepts spells the
// same key again.
func FuzzBriefKey(f *testing.F) {
	f.Add("198.51.100.7 192.0.2.1 http 40123 8080 77")
	f.Add("::1 ::2 dns 0 53 9223372036854775807")
	f.Add("1.2.3.4 5.6.7.8  1 2 3")
	f.Fuzz(func(t *testing.T, key string) {
		var b briefKeys
		var p probe.Probe
		pid, err := b.parse([]byte(key), &p)
		if err != nil {
			return
		}
		again := fmt.Sprintf("%s %s %s %d %d %d", p.SrcIP, p.DstIP, p.Service, p.SrcPort, p.DstPort, pid)
		var q probe.Probe
		pid2, err := b.parse([]byte(again), &q)
		if err != nil || pid2 != pid || q.SrcIP != p.SrcIP || q.DstIP != p.DstIP || q.Service != p.Service || q.SrcPort != p.SrcPort || q.DstPort != p.DstPort {
			t.Fatalf("%q parsed as %+v %d, spelt %q, read again as %+v %d (%v)", key, p, pid, again, q, pid2, err)
		}
	})
}
