package capture

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
)

const httpReq = "GET /robots.txt HTTP/1.1\r\nHost: 192.0.2.10\r\nUser-Agent: Mozilla/5.0 zgrab/0.x\r\nAccept: */*\r\n\r\n"

// kdig's "id.server CH TXT" query, from the real probe corpus.
var dnsQuery, _ = hex.DecodeString("253a01200001000000000000026964067365727665720000100003")

func extract(t *testing.T, opts Options, paths ...string) ([]probe.Probe, Stats, error) {
	t.Helper()
	var got []probe.Probe
	st, err := Extract(context.Background(), paths, opts, func(p probe.Probe) error {
		p.Payload = append([]byte(nil), p.Payload...)
		got = append(got, p)
		return nil
	})
	return got, st, err
}

func TestLinkTypesAndFileFormats(t *testing.T) {
	cases := []struct {
		name string
		link layers.LinkType
		opts []string
	}{
		{"ethernet", layers.LinkTypeEthernet, nil},
		{"ethernet-vlan", layers.LinkTypeEthernet, []string{"vlan"}},
		{"linux-sll", layers.LinkTypeLinuxSLL, nil},
		{"linux-sll2", layers.LinkTypeLinuxSLL2, nil},
		{"bsd-loopback", layers.LinkTypeNull, nil},
		{"raw-ip", layers.LinkTypeRaw, nil},
		{"pcapng", layers.LinkTypeEthernet, []string{"pcapng"}},
		{"pcap-gzip", layers.LinkTypeEthernet, []string{"gzip"}},
		{"pcapng-gzip", layers.LinkTypeEthernet, []string{"pcapng", "gzip"}},
	}
	for _, c := range cases {
		for _, fam := range []struct{ client, server string }{{"198.51.100.7", "192.0.2.10"}, {"2001:db8::7", "2001:db8::10"}} {
			t.Run(c.name+"/"+fam.client, func(t *testing.T) {
				path := tempPath(t, "x.pcap")
				writePcap(t, path, c.link, tcpSession(fam.client, fam.server, 40001, 8080, time.Second, []byte(httpReq)), c.opts...)
				got, st, err := extract(t, Options{Sensor: "hp1"}, path)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("want 1 probe, got %d (stats %+v)", len(got), st)
				}
				p := got[0]
				if p.Service != "http" || p.SrcIP.String() != fam.client || p.DstIP.String() != fam.server ||
					p.SrcPort != 40001 || p.DstPort != 8080 || p.Transport != probe.TCP || p.Sensor != "hp1" {
					t.Fatalf("wrong probe: %+v", p)
				}
				if !p.Time.Equal(t0.Add(time.Second + 3*time.Millisecond)) {
					t.Errorf("time %v, want the first payload packet's time", p.Time)
				}
				if string(p.Payload) != httpReq || p.Fields.Value("User-Agent") != "Mozilla/5.0 zgrab/0.x" || p.Fields.Value("Url") != "/robots.txt" {
					t.Errorf("payload/fields wrong: %q %v", p.Payload, p.Fields)
				}
				if p.SourceFile != path || p.Offset <= 0 {
					t.Errorf("source %q offset %d", p.SourceFile, p.Offset)
				}
			})
		}
	}
}

func corpusHello(t *testing.T) []byte {
	t.Helper()
	// curl's ClientHello (517 bytes), captured from the real tool.
	const h = "1603010200010001fc0303f56085ecbd6daa463ec22d02945dbaf59ec9888cecd2dc755b2b3c68523217f920b000abfa6ec0aecea52bdf76832a0a39fda95de832971fa07e015286a9cc266c003e130213031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000175000b000403000102000a00160014001d0017001e00190018010001010102010301040010000e000c02683208687474702f312e31001600000017000000310000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00201788649a117b2206eb2fd0802f7d4b53bc1b9fbf6705000891f72cd8acf2a146001500c6"
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, make([]byte, 517-len(b))...) // the padding extension's zeros
}

func TestSplitRetransmittedAndReorderedClientHello(t *testing.T) {
	hello := corpusHello(t)
	a, b, c := hello[:100], hello[100:300], hello[300:]
	segs := tcpSession("203.0.113.5", "192.0.2.10", 50000, 443, 0, a, b, c)
	// Deliver: a, c (early), a again (retransmission), b.
	segs[4], segs[5] = segs[5], segs[4]
	retrans := segs[3]
	segs = append(segs[:5], append([]seg{retrans}, segs[5:]...)...)
	path := tempPath(t, "split.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	got, st, err := extract(t, Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Service != "tls" {
		t.Fatalf("want one tls probe, got %d: %+v", len(got), got)
	}
	if string(got[0].Payload) != string(hello) {
		t.Fatalf("reassembled %d bytes, want the %d-byte hello", len(got[0].Payload), len(hello))
	}
	if ja3 := got[0].Fields.Value("ja3"); ja3 != "78f0dc5ac5b19daf131a133cfdee9691" {
		t.Errorf("ja3 %s", ja3)
	}
	if st.Retransmissions != 1 {
		t.Errorf("retransmissions %d, want 1", st.Retransmissions)
	}
}

func TestCaptureStartingMidConnection(t *testing.T) {
	full := tcpSession("203.0.113.9", "192.0.2.10", 50001, 80, 0, []byte(httpReq))
	t.Run("client payload first", func(t *testing.T) {
		path := tempPath(t, "mid.pcap")
		writePcap(t, path, layers.LinkTypeEthernet, full[3:]) // no handshake
		got, st, err := extract(t, Options{}, path)
		if err != nil || len(got) != 1 || got[0].SrcIP.String() != "203.0.113.9" || st.Midstream != 1 {
			t.Fatalf("got %+v stats %+v err %v", got, st, err)
		}
		got, _, _ = extract(t, Options{RequireHandshake: true}, path)
		if len(got) != 0 {
			t.Fatalf("RequireHandshake must drop the session, got %d probes", len(got))
		}
	})
	t.Run("server reply first is never a probe", func(t *testing.T) {
		path := tempPath(t, "reply.pcap")
		writePcap(t, path, layers.LinkTypeEthernet, full[4:]) // starts with the honeypot's reply
		got, _, err := extract(t, Options{}, path)
		if err != nil || len(got) != 0 {
			t.Fatalf("a reply must not become a probe: %+v %v", got, err)
		}
	})
	t.Run("honeypot list decides direction", func(t *testing.T) {
		odd := []seg{{src: "203.0.113.9", dst: "192.0.2.10", sport: 80, dport: 50001, ack: true, seq: 7, payload: []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09")}}
		path := tempPath(t, "odd.pcap")
		writePcap(t, path, layers.LinkTypeEthernet, odd)
		got, _, _ := extract(t, Options{Honeypots: mustPrefixes("192.0.2.0/24")}, path)
		if len(got) != 1 || got[0].SrcIP.String() != "203.0.113.9" || got[0].Service != probe.Other {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestBannerFirstProtocolKeepsClientProbe(t *testing.T) {
	segs := tcpSession("203.0.113.20", "192.0.2.10", 50002, 22, 0, []byte("SSH-2.0-Go\r\n"))
	banner := seg{src: "192.0.2.10", dst: "203.0.113.20", sport: 22, dport: 50002, ack: true, seq: 5001, payload: []byte("SSH-2.0-OpenSSH_8.9\r\n"), at: 2500 * time.Microsecond}
	segs = append(segs[:3], append([]seg{banner}, segs[3:]...)...)
	path := tempPath(t, "ssh.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	got, _, err := extract(t, Options{}, path)
	if err != nil || len(got) != 1 || string(got[0].Payload) != "SSH-2.0-Go\r\n" || got[0].Service != "ssh" || got[0].DstPort != 22 ||
		got[0].Fields.Value("software_version") != "Go" || got[0].ParseError != "" {
		t.Fatalf("got %+v %v", got, err)
	}
}

func TestUDPSessionsAndIdleTimeout(t *testing.T) {
	resp := append([]byte(nil), dnsQuery...)
	resp[2] |= 0x80 // QR: a response
	segs := []seg{
		{src: "203.0.113.30", dst: "192.0.2.10", sport: 5353, dport: 53, udp: true, payload: dnsQuery, at: 0},
		{src: "192.0.2.10", dst: "203.0.113.30", sport: 53, dport: 5353, udp: true, payload: resp, at: time.Millisecond},
		{src: "203.0.113.30", dst: "192.0.2.10", sport: 5353, dport: 53, udp: true, payload: dnsQuery, at: time.Minute},
		{src: "203.0.113.30", dst: "192.0.2.10", sport: 5353, dport: 53, udp: true, payload: dnsQuery, at: 7 * time.Minute},
	}
	path := tempPath(t, "dns.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	got, _, err := extract(t, Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want 2 probes (first datagram, then a new session after 5 min idle), got %d", len(got))
	}
	for _, p := range got {
		if p.Service != "dns" || p.SrcIP.String() != "203.0.113.30" || p.Fields.Value("qname") != "id.server" || p.Transport != probe.UDP {
			t.Fatalf("wrong probe %+v", p)
		}
	}
	if !got[1].Time.Equal(t0.Add(7 * time.Minute)) {
		t.Errorf("second session at %v", got[1].Time)
	}
}

func mustPrefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestSessionSpanningTwoDailyFilesInADirectory(t *testing.T) {
	dir := t.TempDir()
	segs := tcpSession("203.0.113.40", "192.0.2.10", 50003, 80, 0, []byte(httpReq))
	// Named so that sorting, not creation order, puts the handshake first.
	writePcap(t, filepath.Join(dir, "2024-02-02.pcap"), layers.LinkTypeEthernet, segs[3:])
	writePcap(t, filepath.Join(dir, "2024-02-01.pcap"), layers.LinkTypeEthernet, segs[:3])
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a capture"), 0o644)
	got, st, err := extract(t, Options{}, dir)
	if err != nil || st.Files != 2 || len(got) != 1 || st.Midstream != 0 {
		t.Fatalf("got %d probes, stats %+v, err %v", len(got), st, err)
	}
}

func TestTruncatedFileKeepsEarlierProbesAndNamesOffset(t *testing.T) {
	var segs []seg
	for i := 0; i < 3; i++ {
		segs = append(segs, tcpSession("203.0.113.50", "192.0.2.10", uint16(51000+i), 80, time.Duration(i)*time.Second, []byte(httpReq))...)
	}
	path := tempPath(t, "cut.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	data, _ := os.ReadFile(path)
	// Cut inside the third session's request packet (session = 7 packets).
	r, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p packet
	var cutAt int64
	for i := 0; i <= 14+3; i++ {
		cutAt = r.offset()
		if err := r.next(&p); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	os.WriteFile(path, data[:cutAt+30], 0o644)
	got, _, err := extract(t, Options{}, path)
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != path || fe.Offset != cutAt {
		t.Fatalf("want a FileError at offset %d of %s, got %v", cutAt, path, err)
	}
	if len(got) != 2 {
		t.Fatalf("want the 2 probes before the cut, got %d", len(got))
	}
}

func TestNotACaptureIsRejectedClearly(t *testing.T) {
	path := tempPath(t, "notes.pcap")
	os.WriteFile(path, []byte("ip,org\n1.2.3.4,censys\n"), 0o644)
	_, _, err := extract(t, Options{}, path)
	if !errors.Is(err, ErrNotCapture) {
		t.Fatalf("want ErrNotCapture, got %v", err)
	}
	if want := path + ": offset 0: not a pcap or pcapng capture file"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}

func TestFlowTableIsBounded(t *testing.T) {
	var segs []seg
	// 200 half-open connections (a SYN scan) and then one real session.
	for i := 0; i < 200; i++ {
		segs = append(segs, seg{src: "203.0.113.60", dst: "192.0.2.10", sport: uint16(30000 + i), dport: 80, syn: true, seq: 1, at: time.Duration(i) * time.Millisecond})
	}
	segs = append(segs, tcpSession("203.0.113.61", "192.0.2.10", 50004, 80, time.Second, []byte(httpReq))...)
	path := tempPath(t, "scan.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, segs)
	var peak int
	st := Stats{}
	tr := newTracker(Options{MaxFlows: 16}.withDefaults(), &st, func(probe.Probe) error { return nil })
	r, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p packet
	for r.next(&p) == nil {
		if err := tr.handle(&p); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, len(tr.flows))
	}
	r.Close()
	tr.flush()
	if peak > 17 || st.Evicted < 180 || st.Probes != 1 {
		t.Fatalf("peak %d flows, evicted %d, probes %d", peak, st.Evicted, st.Probes)
	}
}

func ExampleExtract() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "day.pcap")
	writePcap(&testing.T{}, path, layers.LinkTypeEthernet, tcpSession("198.51.100.7", "192.0.2.10", 40001, 80, 0, []byte(httpReq)))
	Extract(context.Background(), []string{path}, Options{}, func(p probe.Probe) error {
		fmt.Println(p.Service, p.SrcIP, p.Fields.Value("User-Agent"))
		return nil
	})
	// Output: http 198.51.100.7 Mozilla/5.0 zgrab/0.x
}
