package sensor

import (
	"bytes"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// answered reports whether a plain HTTP request to addr from src gets an
// HTTP answer.
func answered(t testing.TB, src string, addr netip.AddrPort, path string) bool {
	t.Helper()
	c := dialFrom(t, src, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUser-Agent: probe-test\r\n\r\n"); err != nil {
		return false
	}
	got, _ := io.ReadAll(c)
	return bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n"))
}

// query sends a DNS query over UDP from src and returns the answer, nil
// when none came within wait.
func query(t testing.TB, src string, addr netip.AddrPort, msg []byte, wait time.Duration) []byte {
	t.Helper()
	var la *net.UDPAddr
	if src != "" {
		la = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	c, err := net.DialUDP("udp", la, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		return nil
	}
	return b[:n]
}

func packQuery(t testing.TB, name string, qtype uint16) []byte {
	t.Helper()
	b, err := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype).Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGarbageOnEveryPort sends random bytes to every listener, TCP and
// UDP: each is stored as a probe nobody recognises, counted as garbage,
// and every listener still serves its own protocol after.
func TestGarbageOnEveryPort(t *testing.T) {
	h := startSensor(t, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 200)
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	garbage[0] = 0xfe // no protocol starts so
	var sent int
	for _, b := range h.s.Addrs() {
		if b.Network == "udp" {
			if ans := query(t, "", b.Addr, garbage, 300*time.Millisecond); ans != nil {
				t.Errorf("DNS answered garbage with %q", ans)
			}
			sent++
			continue
		}
		c := dialFrom(t, "", b.Addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(garbage)
		got, _ := io.ReadAll(c) // the sensor answers (or not) and closes
		c.Close()
		if b.Service == HTTP && !bytes.HasPrefix(got, []byte("HTTP/1.1 400 Bad Request\r\n")) {
			t.Errorf("HTTP answer to garbage: %q", got)
		}
		sent++
	}
	if !answered(t, "", h.addr(HTTP, "tcp"), "/after") {
		t.Error("HTTP not served after garbage")
	}
	if ans := query(t, "", h.addr(DNS, "udp"), packQuery(t, "after.example", dns.TypeA), 2*time.Second); ans == nil {
		t.Error("DNS not served after garbage")
	}
	ps := h.probes()
	var junk int
	for _, p := range ps {
		if bytes.Equal(p.Payload, garbage) {
			junk++
			if p.Service != probe.Other {
				t.Errorf("garbage to port %d stored as %s", p.DstPort, p.Service)
			}
		}
	}
	if junk != sent || h.stats.Garbage != int64(sent) {
		t.Errorf("%d garbage probes stored, %d counted, %d sent", junk, h.stats.Garbage, sent)
	}
}

// clientHello returns the first flight of crypto/tls's client.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	svc, _ := probe.Lookup(TLS)
	var hello []byte
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !svc.Complete(hello, probe.TCP) || len(hello) == 0 {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		hello = append(hello, buf[:n]...)
	}
	return hello
}

// TestTLSClientNeverFinishes: one client sends a whole ClientHello and
// never answers the server's flight, another sends half a hello and
// stops. Both are stored, both connections end at the read deadline, and
// the sensor serves the next client.
func TestTLSClientNeverFinishes(t *testing.T) {
	h := startSensor(t, Config{Listen: []Listen{{TLS, "127.0.0.1:0"}}, ReadTimeout: 400 * time.Millisecond})
	hello := clientHello(t, "stuck.example")
	var wg sync.WaitGroup
	for _, part := range [][]byte{hello, hello[:len(hello)/2]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialFrom(t, "", h.addr(TLS, "tcp"))
			defer c.Close()
			c.Write(part)
			start := time.Now()
			c.SetDeadline(start.Add(5 * time.Second))
			io.Copy(io.Discard, c) // until the sensor closes
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("sensor held a stuck TLS client for %s", took)
			}
		}()
	}
	wg.Wait()
	curl, err := tls.Dial("tcp", h.addr(TLS, "tcp").String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("a good TLS client after the stuck ones: %v", err)
	}
	curl.Close()
	ps := h.probes()
	var whole, half int
	for _, p := range ps {
		switch {
		case bytes.Equal(p.Payload, hello):
			whole++
			if p.Service != TLS || fieldValue(p, "extensions_sni") != "stuck.example" || p.ParseError != "" {
				t.Errorf("stored whole hello: %s %q %q", p.Service, fieldValue(p, "extensions_sni"), p.ParseError)
			}
		case bytes.Equal(p.Payload, hello[:len(hello)/2]):
			half++
		}
	}
	st := h.stats
	if whole != 1 || half != 1 || len(ps) != 3 || st.HandshakeFailed < 1 || st.Timeouts != 1 {
		t.Errorf("stored %d probes (whole hello %d, half %d); %d handshakes failed, %d timeouts", len(ps), whole, half, st.HandshakeFailed, st.Timeouts)
	}
}

// TestDNSOneByte: a 1-byte datagram is stored (it is what the client sent)
// and gets no answer; the next query gets one.
func TestDNSOneByte(t *testing.T) {
	h := startSensor(t, Config{Listen: []Listen{{DNS, "127.0.0.1:0"}}})
	if ans := query(t, "", h.addr(DNS, "udp"), []byte{0x42}, 300*time.Millisecond); ans != nil {
		t.Errorf("a 1-byte packet got %q", ans)
	}
	c := dialFrom(t, "", h.addr(DNS, "tcp")) // and a 1-byte TCP message
	c.Write([]byte{0})
	c.Close()
	ans := query(t, "", h.addr(DNS, "udp"), packQuery(t, "ok.example", dns.TypeA), 2*time.Second)
	var m dns.Msg
	if ans == nil || m.Unpack(ans) != nil || len(m.Answer) != 1 {
		t.Fatalf("query after the 1-byte packet: %q", ans)
	}
	type stored struct {
		tr      probe.Transport
		payload string
	}
	var got []stored
	for _, p := range h.probes() {
		got = append(got, stored{p.Transport, string(p.Payload)})
	}
	if len(got) != 3 || !slices.Contains(got, stored{probe.UDP, "\x42"}) || !slices.Contains(got, stored{probe.TCP, "\x00"}) {
		t.Errorf("stored %q, want the 1-byte UDP and TCP messages and the query", got)
	}
}

// streamCut sends prefix and then filler bytes up to total to a listener
// and checks that the sensor stored exactly probe.MaxPayload bytes of it,
// cut at the cap, and closed the connection.
func streamCut(t *testing.T, service string, prefix string, filler byte, total int) {
	h := startSensor(t, Config{Listen: []Listen{{service, "127.0.0.1:0"}}})
	c := dialFrom(t, "", h.addr(service, "tcp"))
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		data := append([]byte(prefix), bytes.Repeat([]byte{filler}, total-len(prefix))...)
		c.Write(data) // fails once the sensor resets the connection
	}()
	io.Copy(io.Discard, c)
	<-done
	if !answered(t, "", h.addr(service, "tcp"), "/next") && service == HTTP {
		t.Error("HTTP not served after the stream")
	}
	ps := h.probes()
	lens := h.sink.lengths()
	if len(ps) == 0 || lens[0] != probe.MaxPayload || !strings.HasPrefix(string(ps[0].Payload), prefix) || h.stats.OverCap != 1 {
		t.Errorf("stored %d probes, payload lengths %v, %d over the cap; want the first cut at %d", len(ps), lens, h.stats.OverCap, probe.MaxPayload)
	}
}

func TestHTTPMegabyteStreamCut(t *testing.T) {
	streamCut(t, HTTP, "GET / HTTP/1.1\r\nX-Junk: ", 'a', 1<<20)
}

func TestSSHHugeBanner(t *testing.T) {
	streamCut(t, SSH, "SSH-2.0-", 'A', 100<<10)
}

// TestFloodFromOneIP: one address opens connections far faster than its
// rate and holds more than its share open; it is refused, counted, and
// another address is served all along.
func TestFloodFromOneIP(t *testing.T) {
	h := startSensor(t, Config{RatePerIP: 20, BurstPerIP: 20, MaxConnsPerIP: 8,
		Listen: []Listen{{HTTP, "127.0.0.1:0"}, {DNS, "127.0.0.1:0"}}})
	httpAddr, dnsAddr := h.addr(HTTP, "tcp"), h.addr(DNS, "udp")
	// 16 silent connections held open: the last 8 are over the per-address limit.
	var held []net.Conn
	for range 16 {
		if c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", httpAddr.String()); err == nil {
			held = append(held, c)
		}
	}
	time.Sleep(50 * time.Millisecond)
	for _, c := range held {
		c.Close()
	}
	flood := 300
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	for i := range flood {
		// A refused connection may be reset before the dial returns.
		if c, err := d.Dial("tcp", httpAddr.String()); err == nil {
			io.WriteString(c, "GET /flood HTTP/1.0\r\n\r\n")
			c.Close()
		}
		if i%100 == 0 && !answered(t, "127.0.0.3", httpAddr, "/other") {
			t.Errorf("another address was not served during the flood (after %d connections)", i)
		}
	}
	for range flood {
		query(t, "127.0.0.2", dnsAddr, packQuery(t, "flood.example", dns.TypeA), 0)
	}
	// Like a resolver, the other address asks up to three times: a flood
	// may fill the socket's buffer for a moment.
	var ans []byte
	for try := 0; try < 3 && ans == nil; try++ {
		ans = query(t, "127.0.0.3", dnsAddr, packQuery(t, "other.example", dns.TypeA), 2*time.Second)
	}
	if ans == nil {
		t.Error("another address got no DNS answer during the flood")
	}
	ps := h.probes()
	st := h.stats
	var fromOther int
	for _, p := range ps {
		if p.SrcIP.String() == "127.0.0.3" {
			fromOther++
		}
	}
	if fromOther < 4 || st.IPBusy < 8 || st.RateLimited < int64(flood) {
		t.Errorf("served the other address %d times (want at least 4); %d refused as ip-busy, %d rate-limited", fromOther, st.IPBusy, st.RateLimited)
	}
	// Everything admitted is stored: every accepted connection or datagram
	// was refused, silent, or stored.
	if int64(len(ps)) != st.Probes || st.Accepted+st.Datagrams != st.RateLimited+st.IPBusy+st.Busy+st.Silent+st.Probes {
		t.Errorf("stored %d probes of %d made; counters %+v", len(ps), st.Probes, st)
	}
}

// TestUDPSessionFirstDatagram: as in capture ingest, only the first
// datagram of a UDP session is a first probe; every query is answered.
func TestUDPSessionFirstDatagram(t *testing.T) {
	h := startSensor(t, Config{Listen: []Listen{{DNS, "127.0.0.1:0"}}})
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(h.addr(DNS, "udp")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"first.example", "second.example"} {
		c.Write(packQuery(t, name, dns.TypeA))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 512)); err != nil {
			t.Fatalf("no answer to %s: %v", name, err)
		}
	}
	ps := h.probes()
	if len(ps) != 1 || fieldValue(ps[0], "qname") != "first.example" {
		t.Errorf("stored %d probes (want the session's first query only): %v", len(ps), ps)
	}
	if st := (udpSessions{}); !st.first(h.addr(DNS, "udp"), h.addr(DNS, "udp"), time.Unix(0, 0)) ||
		st.first(h.addr(DNS, "udp"), h.addr(DNS, "udp"), time.Unix(299, 0)) || !st.first(h.addr(DNS, "udp"), h.addr(DNS, "udp"), time.Unix(600, 0)) {
		t.Error("a UDP session must end after 5 minutes of silence, not before")
	}
}
