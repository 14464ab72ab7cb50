package sensor

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/crypto/ssh"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// firstLineWord returns the word-th space-separated word of the first line
// a program prints for args ("curl --version" → "7.88.1").
func firstLineWord(t *testing.T, word int, prog string, args ...string) string {
	t.Helper()
	out, _ := exec.Command(prog, args...).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) <= word {
		t.Fatalf("%s %q printed %q", prog, args, out)
	}
	return f[word]
}

// checkTags opens every cookie tag in text with the test key and checks
// that the sensor recorded giving it to 127.0.0.1; it returns how many.
func checkTags(t *testing.T, h *harness, text string) int {
	t.Helper()
	tags := label.FindTags(text)
	tagger := label.NewTagger(testKey, "")
	for _, tag := range tags {
		info, err := tagger.Open(tag)
		if err != nil {
			t.Errorf("tag %s: %v", tag, err)
			continue
		}
		if info.Sensor != testSensor || time.Since(info.Time) > time.Minute {
			t.Errorf("tag %s carries sensor %q, time %s", tag, info.Sensor, info.Time)
		}
		rec, ok, err := h.st.TagRecipient(context.Background(), tag)
		if err != nil || !ok || rec.Scanner.String() != "127.0.0.1" || rec.Sensor != testSensor {
			t.Errorf("tag %s recorded as %+v, %v, %v; want given to 127.0.0.1 by %s", tag, rec, ok, err, testSensor)
		}
	}
	return len(tags)
}

func TestHTTPRealClients(t *testing.T) {
	curl := need(t, "curl", "curl")
	wget := need(t, "wget", "wget")
	h := startSensor(t, Config{ServerHeader: "Apache/2.4.62 (Debian)", Listen: []Listen{{HTTP, "127.0.0.1:0"}}})
	url := "http://127.0.0.1:" + h.port(HTTP) + "/index.html?q=1"
	cout, err := run(t, curl, "-sS", "-i", url)
	if err != nil || !strings.HasPrefix(cout, "HTTP/1.1 200 OK\r\n") || !strings.Contains(cout, "\r\nServer: Apache/2.4.62 (Debian)\r\n") ||
		!strings.Contains(cout, "\r\nSet-Cookie: sid=sgt1_") || !strings.Contains(cout, "successfully installed") {
		t.Fatalf("curl: %v\n%s", err, cout)
	}
	wout, err := run(t, wget, "-S", "-O", "/dev/null", url)
	if err != nil || !strings.Contains(wout, "Set-Cookie: sid=sgt1_") {
		t.Fatalf("wget: %v\n%s", err, wout)
	}
	ps := h.probes()
	if n := checkTags(t, h, cout+wout); n != 2 {
		t.Errorf("%d cookie tags in the answers, want 2", n)
	}
	want := []string{"Wget/" + firstLineWord(t, 2, wget, "--version"), "curl/" + firstLineWord(t, 1, curl, "--version")}
	var got []string
	for _, p := range only(t, ps, "http", 2) {
		got = append(got, fieldValue(p, "User-Agent"))
		if p.Sensor != testSensor || p.DstPort != h.addr(HTTP, "tcp").Port() || p.SrcIP.String() != "127.0.0.1" ||
			p.Transport != probe.TCP || fieldValue(p, "Url") != "/index.html?q=1" || p.ParseError != "" {
			t.Errorf("probe %+v", p)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stored User-Agents %q, want the clients' own %q", got, want)
	}
}

// pcapOf writes payload as one TCP segment from a client to port 443, for
// tshark to dissect.
func pcapOf(t *testing.T, payload []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hello.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{192, 0, 2, 9}, DstIP: net.IP{192, 0, 2, 1}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1.7e9, 0), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSRealClients(t *testing.T) {
	curl := need(t, "curl", "curl")
	openssl := need(t, "openssl", "openssl")
	h := startSensor(t, Config{Listen: []Listen{{TLS, "127.0.0.1:0"}}})
	addr := "127.0.0.1:" + h.port(TLS)
	cout, err := run(t, curl, "-sS", "-k", "-i", "https://"+addr+"/")
	if err != nil || !strings.HasPrefix(cout, "HTTP/1.1 200 OK\r\n") || !strings.Contains(cout, "Set-Cookie: sid=sgt1_") {
		t.Fatalf("curl over TLS: %v\n%s", err, cout)
	}
	sout, err := run(t, openssl, "s_client", "-connect", addr, "-servername", "scanner.example")
	if err != nil || !strings.Contains(sout, "CN = localhost") {
		t.Fatalf("openssl s_client: %v\n%s", err, sout)
	}
	ps := h.probes()
	if n := checkTags(t, h, cout); n != 1 {
		t.Errorf("%d cookie tags in curl's answer, want 1", n)
	}
	hellos := only(t, ps, "tls", 2)
	tshark, _ := exec.LookPath("tshark")
	for _, p := range hellos {
		sni, ja3, ja4 := fieldValue(p, "extensions_sni"), fieldValue(p, "ja3"), fieldValue(p, "ja4")
		// curl names no server for an IP address (JA4 "i"); s_client was told one ("d").
		switch sni {
		case probe.NotAvailable:
			if !strings.HasPrefix(ja4, "t13i") || fieldValue(p, "extensions_alpn") != "h2,http/1.1" {
				t.Errorf("curl's hello: JA4 %s, ALPN %s", ja4, fieldValue(p, "extensions_alpn"))
			}
		case "scanner.example":
			if !strings.HasPrefix(ja4, "t13d") {
				t.Errorf("s_client's hello: JA4 %s", ja4)
			}
		default:
			t.Errorf("stored SNI %q", sni)
		}
		if p.ParseError != "" || len(ja3) != 32 {
			t.Errorf("hello %s: JA3 %q, parse error %q", sni, ja3, p.ParseError)
		}
		if tshark == "" {
			t.Log("tshark not installed: JA3 not cross-checked")
			continue
		}
		out, err := exec.Command(tshark, "-r", pcapOf(t, p.Payload), "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tls.handshake.ja3").Output()
		if err != nil || strings.TrimSpace(string(out)) != ja3 {
			t.Errorf("tshark's JA3 of the stored hello (SNI %s): %q (%v), stored %q", sni, out, err, ja3)
		}
	}
}

func TestDNSRealClient(t *testing.T) {
	dig := need(t, "dig", "dnsutils")
	h := startSensor(t, Config{Listen: []Listen{{DNS, "127.0.0.1:0"}}, DNSAnswer: netip.MustParseAddr("198.51.100.7")})
	port := portOf(h.addr(DNS, "udp"))
	ask := func(args ...string) string {
		out, err := run(t, dig, append([]string{"@127.0.0.1", "-p", port, "+tries=1", "+time=3"}, args...)...)
		if err != nil {
			t.Fatalf("dig %q: %v\n%s", args, err, out)
		}
		return out
	}
	if out := ask("+short", "www.example.com", "A"); strings.TrimSpace(out) != "198.51.100.7" {
		t.Errorf("A answer %q", out)
	}
	if out := ask("+short", "version.bind", "CH", "TXT"); strings.TrimSpace(out) != `"`+DefaultDNSVersion+`"` {
		t.Errorf("version.bind answer %q", out)
	}
	if out := ask("www.example.com", "AAAA"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("AAAA answer:\n%s", out)
	}
	if out := ask("+tcp", "+short", "Mixed.Case.Example", "A"); strings.TrimSpace(out) != "198.51.100.7" {
		t.Errorf("A answer over TCP %q", out)
	}
	type q struct{ tr, name, typ, class string }
	var got []q
	for _, p := range only(t, h.probes(), "dns", 4) {
		got = append(got, q{string(p.Transport), fieldValue(p, "qname"), fieldValue(p, "qtype"), fieldValue(p, "qclass")})
		if fieldValue(p, "edns") != "1" || p.ParseError != "" {
			t.Errorf("dig's query %+v", p)
		}
	}
	want := []q{{"udp", "www.example.com", "1", "1"}, {"udp", "version.bind", "16", "3"}, {"udp", "www.example.com", "28", "1"}, {"tcp", "Mixed.Case.Example", "1", "1"}}
	if !slices.Equal(got, want) {
		t.Errorf("stored queries %q, want %q", got, want)
	}
}

// sshSplit cuts a stored SSH probe into the identification line and the
// one binary packet that must follow it, exactly.
func sshSplit(t *testing.T, payload []byte) (ident string, kex kexInit) {
	t.Helper()
	i := bytes.Index(payload, []byte("\r\n"))
	if i < 0 || len(payload) < i+6 {
		t.Fatalf("stored SSH probe %q has no identification line and packet", payload)
	}
	ident, pkt := string(payload[:i]), payload[i+2:]
	n := int(binary.BigEndian.Uint32(pkt))
	if len(pkt) != 4+n {
		t.Fatalf("stored SSH probe holds %d bytes after the identification, want exactly one packet of %d", len(pkt), 4+n)
	}
	pad := int(pkt[4])
	if err := ssh.Unmarshal(pkt[5:4+n-pad], &kex); err != nil {
		t.Fatalf("the packet after the identification is no KEXINIT: %v", err)
	}
	return ident, kex
}

func TestSSHRealClient(t *testing.T) {
	sshc := need(t, "ssh", "openssh-client")
	h := startSensor(t, Config{Listen: []Listen{{SSH, "127.0.0.1:0"}}})
	out, err := run(t, sshc, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=5", "-v", "-p", h.port(SSH), "scanner@127.0.0.1", "true")
	if err == nil {
		t.Fatalf("ssh logged in to a honeypot:\n%s", out)
	}
	m := regexp.MustCompile(`Local version string (\S+ ?\S*)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Remote protocol version 2.0, remote software version "+strings.TrimPrefix(DefaultSSHIdent, "SSH-2.0-")) ||
		!strings.Contains(out, "SSH2_MSG_KEXINIT received") {
		t.Fatalf("ssh did not get our identification and KEXINIT:\n%s", out)
	}
	ps := h.probes()
	if len(ps) != 1 {
		t.Fatalf("stored %d probes, want 1", len(ps))
	}
	p := ps[0]
	ident, kex := sshSplit(t, p.Payload)
	if ident != strings.TrimSpace(m[1]) {
		t.Errorf("stored identification %q, ssh -v says it sent %q", ident, m[1])
	}
	kexes, _ := exec.Command(sshc, "-Q", "kex").Output()
	for _, k := range kex.KexAlgos {
		if !slices.Contains(strings.Fields(string(kexes)), k) && !strings.HasPrefix(k, "ext-info-") && !strings.HasPrefix(k, "kex-strict-") {
			t.Errorf("stored KEXINIT offers %q, which ssh -Q kex does not list", k)
		}
	}
	checkSSHService(t, p)
}

// checkSSHService checks what the registry made of an SSH probe: "other"
// until an ssh service is registered; once one is, its software version
// and HASSH (MD5 of kex;ciphers;MACs;compression, client to server, as
// Salesforce defines it) must match the identification and KEXINIT the
// test cut from the stored bytes itself.
func checkSSHService(t *testing.T, p probe.Probe) {
	t.Helper()
	if _, ok := probe.Lookup(SSH); !ok {
		if p.Service != probe.Other {
			t.Errorf("no ssh service is registered, yet the probe is stored as %q", p.Service)
		}
		return
	}
	if p.Service != SSH || p.ParseError != "" {
		t.Fatalf("SSH probe stored as %q, parse error %q", p.Service, p.ParseError)
	}
	ident, kex := sshSplit(t, p.Payload)
	software := strings.Fields(strings.TrimPrefix(ident, "SSH-2.0-"))[0]
	hassh := strings.Join([]string{strings.Join(kex.KexAlgos, ","), strings.Join(kex.CiphersClientServer, ","),
		strings.Join(kex.MACsClientServer, ","), strings.Join(kex.CompressionClientServer, ",")}, ";")
	if got := fieldValue(p, "software_version"); got != software {
		t.Errorf("stored software_version %q, identification %q", got, ident)
	}
	if got, want := fieldValue(p, "hassh"), fmt.Sprintf("%x", md5.Sum([]byte(hassh))); got != want {
		t.Errorf("stored HASSH %s, want %s (of %s)", got, want, hassh)
	}
}

// recorder keeps what a client writes.
type recorder struct {
	net.Conn
	sent bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.sent.Write(b)
	return r.Conn.Write(b)
}

// TestSSHStoredExactly runs x/crypto/ssh's client (a real SSH client
// library) over a connection that records every byte it sends: the stored
// probe must be those bytes up to the end of its KEXINIT, exactly.
func TestSSHStoredExactly(t *testing.T) {
	h := startSensor(t, Config{Listen: []Listen{{SSH, "127.0.0.1:0"}}})
	rc := &recorder{Conn: dialFrom(t, "", h.addr(SSH, "tcp"))}
	defer rc.Close()
	rc.SetDeadline(time.Now().Add(10 * time.Second))
	_, _, _, err := ssh.NewClientConn(rc, h.addr(SSH, "tcp").String(), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.Password("x")}, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		ClientVersion: "SSH-2.0-Go-scanner_1.0",
	})
	if err == nil {
		t.Fatal("the Go client finished a key exchange with a honeypot that has no host key")
	}
	rc.Close()
	ps := h.probes()
	if len(ps) != 1 {
		t.Fatalf("stored %d probes, want 1", len(ps))
	}
	p := ps[0]
	if !bytes.HasPrefix(rc.sent.Bytes(), p.Payload) {
		t.Fatalf("stored %q, the client sent %q", p.Payload, rc.sent.Bytes())
	}
	ident, kex := sshSplit(t, p.Payload)
	if ident != "SSH-2.0-Go-scanner_1.0" || !slices.Contains(kex.KexAlgos, "curve25519-sha256") {
		t.Errorf("identification %q, kex %q", ident, kex.KexAlgos)
	}
	checkSSHService(t, p)
}

// mstscRequest is the Connection Request of MS-RDPBCGR 4.1.1 (a mstsc
// client): cookie "mstshash=eltons", RDP_NEG_REQ asking for standard RDP
// security only; withTLS asks for TLS and CredSSP as current clients do.
func mstscRequest(withTLS bool) []byte {
	b := []byte("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=eltons\r\n\x01\x00\x08\x00\x00\x00\x00\x00")
	if withTLS {
		b[len(b)-4] = 3
	}
	return b
}

func TestRDPConnectionConfirm(t *testing.T) {
	h := startSensor(t, Config{Listen: []Listen{{RDP, "127.0.0.1:0"}}})
	for _, tc := range []struct {
		req  []byte
		want []byte
	}{
		{mstscRequest(false), []byte("\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x0b\x08\x00\x00\x00\x00\x00")},
		{mstscRequest(true), []byte("\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x0b\x08\x00\x01\x00\x00\x00")},
		// No RDP_NEG_REQ (an old client, nmap's probe): no RDP_NEG_RSP.
		{[]byte("\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00"), []byte("\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00")},
	} {
		c := dialFrom(t, "", h.addr(RDP, "tcp"))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// Sent in two pieces: the listener must wait for the whole TPKT.
		c.Write(tc.req[:5])
		time.Sleep(20 * time.Millisecond)
		c.Write(tc.req[5:])
		got := make([]byte, 64)
		n, _ := readFull(c, got, len(tc.want))
		if !bytes.Equal(got[:n], tc.want) {
			t.Errorf("Connection Confirm to %q:\n got %q\nwant %q", tc.req, got[:n], tc.want)
		}
		c.Close()
	}
	ps := h.probes()
	if len(ps) != 3 {
		t.Fatalf("stored %d probes, want 3", len(ps))
	}
	var stored [][]byte
	for _, p := range ps {
		stored = append(stored, p.Payload)
		_, registered := probe.Lookup(RDP)
		switch {
		case !registered && p.Service != probe.Other:
			t.Errorf("no rdp service is registered, yet the probe is stored as %q", p.Service)
		case registered && (p.Service != RDP || p.ParseError != ""):
			t.Errorf("RDP request stored as %q, parse error %q", p.Service, p.ParseError)
		case registered && len(p.Payload) > 11 && !strings.Contains(fieldValue(p, "cookie"), "eltons"):
			t.Errorf("stored RDP cookie %q, sent mstshash=eltons", fieldValue(p, "cookie"))
		}
	}
	for _, req := range [][]byte{mstscRequest(false), mstscRequest(true)} {
		if !slices.ContainsFunc(stored, func(b []byte) bool { return bytes.Equal(b, req) }) {
			t.Errorf("request %q not stored exactly; stored %q", req, stored)
		}
	}
}

func readFull(c net.Conn, b []byte, n int) (int, error) {
	got := 0
	for got < n {
		k, err := c.Read(b[got:n])
		got += k
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// TestNmapSSH runs nmap's version detection and ssh2-enum-algos script
// against the SSH listener: nmap must name the service from our
// identification and list the algorithms of our KEXINIT, and the sensor
// stores the script's identification and KEXINIT.
func TestNmapSSH(t *testing.T) {
	nmap := need(t, "nmap", "nmap")
	h := startSensor(t, Config{Listen: []Listen{{SSH, "127.0.0.1:0"}}})
	out, err := run(t, nmap, "-Pn", "-n", "-sV", "--version-light", "-p", h.port(SSH), "--script", "ssh2-enum-algos", "127.0.0.1")
	if err != nil || !strings.Contains(out, "OpenSSH 9.2p1 Debian 2+deb12u3") || !strings.Contains(out, "curve25519-sha256@libssh.org") ||
		!strings.Contains(out, "chacha20-poly1305@openssh.com") {
		t.Fatalf("nmap: %v\n%s", err, out)
	}
	var found bool
	for _, p := range h.probes() {
		if bytes.HasPrefix(p.Payload, []byte("SSH-2.0-Nmap_SSH2_Enum_Algos\r\n")) {
			found = true
			if _, kex := sshSplit(t, p.Payload); len(kex.KexAlgos) == 0 {
				t.Error("nmap's KEXINIT offers no key exchange")
			}
			checkSSHService(t, p)
		}
	}
	if !found {
		t.Error("nmap's ssh2-enum-algos probe was not stored")
	}
}
