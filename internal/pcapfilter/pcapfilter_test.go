package pcapfilter

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// realFrames are the Ethernet frames of the real loopback capture (IPv4 TCP
// and UDP of real scanning tools) plus frames the capture lacks: IPv6 TCP,
// UDP and ICMPv6, an IPv4 header with options, a later IPv4 fragment and
// ICMP.
func testFrames(t testing.TB) [][]byte {
	t.Helper()
	path := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, data)
	}
	return append(frames, syntheticFrames(t)...)
}

func syntheticFrames(t testing.TB) [][]byte {
	t.Helper()
	eth := func(typ layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: typ}
	}
	ser := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	ip6 := func(src, dst string, next layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	}
	ip4 := func(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	}
	var out [][]byte
	{
		l3 := ip6("2001:db8::7", "2001:db8:1::10", layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: 40001, DstPort: 443, SYN: true, Window: 1024}
		tcp.SetNetworkLayerForChecksum(l3)
		out = append(out, ser(eth(layers.EthernetTypeIPv6), l3, tcp))
	}
	{
		l3 := ip6("2001:db8:1::10", "2001:db8::7", layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
		udp.SetNetworkLayerForChecksum(l3)
		out = append(out, ser(eth(layers.EthernetTypeIPv6), l3, udp, gopacket.Payload("x")))
	}
	{
		l3 := ip6("fe80::1", "ff02::1", layers.IPProtocolICMPv6)
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		icmp.SetNetworkLayerForChecksum(l3)
		out = append(out, ser(eth(layers.EthernetTypeIPv6), l3, icmp, gopacket.Payload("ping")))
	}
	{
		// IPv4 with 4 bytes of options: ports sit 24 bytes in, not 20.
		l3 := ip4("198.51.100.7", "192.0.2.10", layers.IPProtocolTCP)
		l3.IHL = 6
		l3.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		tcp := &layers.TCP{SrcPort: 18443, DstPort: 80, SYN: true, Window: 1024}
		tcp.SetNetworkLayerForChecksum(l3)
		out = append(out, ser(eth(layers.EthernetTypeIPv4), l3, tcp))
	}
	{
		// A later fragment: its first bytes are payload, not ports.
		l3 := ip4("198.51.100.7", "192.0.2.10", layers.IPProtocolTCP)
		l3.FragOffset = 100
		out = append(out, ser(eth(layers.EthernetTypeIPv4), l3, gopacket.Payload([]byte{0x00, 0x50, 0x00, 0x50, 1, 2, 3, 4})))
	}
	out = append(out, ser(eth(layers.EthernetTypeIPv4), ip4("192.0.2.10", "198.51.100.7", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}))
	return out
}

func run(t testing.TB, prog []bpf.RawInstruction, frames [][]byte) []bool {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program does not disassemble: %v", prog)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("program rejected by the BPF VM: %v", err)
	}
	out := make([]bool, len(frames))
	for i, f := range frames {
		n, err := vm.Run(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = n > 0
	}
	return out
}

// agreeing are expressions whose meaning is the same in tcpdump and here on
// the test frames (no SCTP, ARP or IPv6 extension headers among them).
var agreeing = []string{
	"tcp", "udp", "ip", "ip6", "icmp", "icmp6",
	"port 18080", "tcp port 18443", "udp port 15353", "dst port 18444", "src port 18444",
	"tcp dst port 18080 or 18443", "portrange 18000-18100", "udp portrange 50-60",
	"host 127.0.0.1", "src host 127.0.0.1", "dst net 127.0.0.0/8", "net 192.0.2.0/24",
	"net 2001:db8::/32", "ip6 host 2001:db8::7", "dst host 2001:db8::7", "src net 2001:db8:1::/48",
	"not port 18444", "tcp and not (port 18444 or port 18080)", "!tcp || udp port 53",
	"src or dst port 443", "src and dst net 127.0.0.0/8", "ip and tcp port 18080", "ip6 and tcp",
	"host 2001:db8::7 and port 443", "net 0.0.0.0/0", "port 80 and tcp", "tcp[13] & 2 != 0 or tcp",
}

func TestAgreesWithTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: the libpcap cross-check is skipped (.ci/run installs it)")
	}
	frames := testFrames(t)
	matched := 0
	for _, expr := range agreeing {
		t.Run(expr, func(t *testing.T) {
			out, err := exec.Command("tcpdump", "-y", "EN10MB", "-i", "lo", "-ddd", expr).Output()
			if err != nil {
				t.Skipf("tcpdump cannot compile here (%v): %s", err, out)
			}
			ref, err := ParseDDD(string(out))
			if err != nil {
				t.Fatalf("tcpdump -ddd output not read: %v\n%s", err, out)
			}
			prog, err := Compile(expr, Ethernet, 262144)
			if strings.Contains(expr, "tcp[") {
				// Byte-offset syntax is outside the subset: refused clearly,
				// and the -ddd route covers it.
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("want a syntax error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, got := run(t, ref, frames), run(t, prog, frames)
			n := 0
			for i := range frames {
				if want[i] != got[i] {
					t.Fatalf("frame %d: tcpdump says %v, we say %v (%d instructions vs tcpdump's %d)", i, want[i], got[i], len(prog), len(ref))
				}
				if got[i] {
					n++
				}
			}
			if n > 0 && n < len(frames) {
				matched++
			}
			t.Logf("%d of %d frames match, %d instructions (tcpdump -O0: %d)", n, len(frames), len(prog), len(ref))
		})
	}
	if matched < len(agreeing)/2 {
		t.Fatalf("only %d expressions split the frames; the comparison is too weak", matched)
	}
}

// TestSemantics checks verdicts that do not need tcpdump, on frames whose
// content is known.
func TestSemantics(t *testing.T) {
	syn := syntheticFrames(t) // v6 tcp 443, v6 udp 53, icmp6, v4+options tcp 80, v4 fragment, icmp
	cases := []struct {
		expr string
		want [6]bool
	}{
		{"tcp port 443", [6]bool{true, false, false, false, false, false}},
		{"port 80", [6]bool{false, false, false, true, false, false}}, // the fragment's 0x0050 bytes are not a port
		{"src port 53 and udp", [6]bool{false, true, false, false, false, false}},
		{"icmp or icmp6", [6]bool{false, false, true, false, false, true}},
		{"ip", [6]bool{false, false, false, true, true, true}},
		{"net 2001:db8::/32 and not udp", [6]bool{true, false, false, false, false, false}},
		{"src 198.51.100.7", [6]bool{false, false, false, true, true, false}},
		{"dst host 198.51.100.7 or dst port 5353", [6]bool{false, true, false, false, false, true}},
		{"tcp portrange 1-100 or port 18443", [6]bool{false, false, false, true, false, false}},
		{"not (ip or ip6)", [6]bool{}},
	}
	for _, c := range cases {
		prog, err := Compile(c.expr, Ethernet, 65535)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got := run(t, prog, syn)
		for i := range syn {
			if got[i] != c.want[i] {
				t.Errorf("%q on synthetic frame %d: got %v, want %v", c.expr, i, got[i], c.want[i])
			}
		}
	}
}

func TestRawIPLink(t *testing.T) {
	syn := syntheticFrames(t)
	for i := range syn {
		syn[i] = syn[i][14:] // drop the Ethernet header
	}
	prog, err := Compile("tcp port 443 or icmp", RawIP, 65535)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, prog, syn)
	want := []bool{true, false, false, false, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("raw frame %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"", "empty expression"},
		{"tcp port", "at offset 8: missing value"},
		{"port 99999", "not a port number"},
		{"host example.com", "host names are not resolved"},
		{"tcp host 192.0.2.1", "protocol other than ip or ip6"},
		{"ip6 host 192.0.2.1", "does not match ip/ip6"},
		{"ip port 80", "port and portrange take tcp, udp"},
		{"(tcp", "missing )"},
		{"tcp )", "at offset 4: unexpected \")\""},
		{"vlan 100", "unknown primitive \"vlan\""},
		{"tcp[13] & 2 != 0", "unexpected character '['"},
		{"portrange 80", "want N-M"},
		{"net 10.0.0.0/33", "not an IP address or CIDR prefix"},
		{"tcp and", "expression ends where a primitive was expected"},
		{strings.Repeat("(", 100) + "tcp" + strings.Repeat(")", 100), "nested deeper than 64"},
	}
	for _, c := range cases {
		_, err := Compile(c.expr, Ethernet, 65535)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%q) = %v; want a syntax error saying %q", c.expr, err, c.want)
		}
	}
}

func TestTooLargeIsRefused(t *testing.T) {
	var parts []string
	for p := 1; p <= 60; p++ {
		parts = append(parts, "port "+itoa(p))
	}
	_, err := Compile(strings.Join(parts, " or "), Ethernet, 65535)
	if err == nil || !strings.Contains(err.Error(), "tcpdump -ddd") || len(err.Error()) > 300 {
		t.Fatalf("a huge filter must be refused pointing at -ddd, got %v", err)
	}
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n > 0 || i == len(b) {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func TestParseDDD(t *testing.T) {
	// `tcpdump -ddd 'tcp port 80'` on an Ethernet interface (libpcap 1.10).
	const tcp80 = "20\n40 0 0 12\n21 0 6 34525\n48 0 0 20\n21 0 15 6\n40 0 0 54\n21 12 0 80\n40 0 0 56\n21 10 11 80\n" +
		"21 0 10 2048\n48 0 0 23\n21 0 8 6\n40 0 0 20\n69 6 0 8191\n177 0 0 14\n72 0 0 14\n21 2 0 80\n72 0 0 16\n21 0 1 80\n6 0 0 262144\n6 0 0 0\n"
	prog, err := Program(tcp80, Ethernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Compile("tcp port 80", Ethernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	syn := syntheticFrames(t)
	want, got := run(t, ours, syn), run(t, prog, syn)
	for i := range syn {
		if want[i] != got[i] {
			t.Fatalf("frame %d: -ddd program %v, compiled %v", i, got[i], want[i])
		}
	}
	if _, err := ParseDDD(strings.ReplaceAll(tcp80, "\n", ",")); err != nil {
		t.Fatalf("comma-separated form: %v", err)
	}
	bad := []struct{ text, want string }{
		{"2\n6 0 0 0\n", "says 2 instructions, has 1"},
		{"1\n21 0 1 80\n", "jumps past the end"},
		{"2\n5 0 0 7\n6 0 0 0\n", "jumps past the end"},
		{"1\n40 0 0 12\n", "not a return"},
		{"1\n6 0 0 99999999999\n", "field 4"},
		{"1\n6 0 0\n", "want 4 numbers"},
		{"x\n6 0 0 0\n", "instruction count"},
		{"5000\n", "instruction count"},
	}
	for _, b := range bad {
		if _, err := ParseDDD(b.text); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseDDD(%q) = %v, want %q", b.text, err, b.want)
		}
	}
}
