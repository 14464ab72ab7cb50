package sensor

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// seeds are inputs every endpoint fuzz target starts from: each protocol's
// first message, cut short, and junk.
func seeds(f *testing.F) {
	q, _ := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT).Pack()
	for _, s := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost"),
		clientHello(f, "fuzz.example"),
		q,
		binary.BigEndian.AppendUint16(nil, uint16(len(q))),
		[]byte("SSH-2.0-OpenSSH_9.2\r\n\x00\x00\x00\x0c\x0a\x14"),
		[]byte("SSH-2.0-x\r\n\xff\xff\xff\xff"),
		mstscRequest(true),
		[]byte("\x03\x00\x00\x05\x00"),
		[]byte("\x03\x00\xff\xff\x02\xe0"),
		{0},
		{},
	} {
		f.Add(s)
	}
}

// FuzzEndpoints sends each input to every listener of one sensor, over TCP
// (then half-closes, so the sensor stores at once) and as a datagram: no
// input may crash a handler, and the sensor must keep answering.
func FuzzEndpoints(f *testing.F) {
	seeds(f)
	h := startSensor(f, Config{ReadTimeout: 2 * time.Second, RatePerIP: -1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var wg sync.WaitGroup
		for _, b := range h.s.Addrs() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b.Network == "udp" {
					c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(b.Addr))
					if err == nil {
						c.Write(data)
						c.Close()
					}
					return
				}
				c, err := net.DialTimeout("tcp", b.Addr.String(), 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write(data)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			}()
		}
		wg.Wait()
		if st := h.s.Stats(); st.Panics != 0 {
			t.Fatalf("a handler panicked on %q", data)
		}
	})
}

// FuzzConnectionConfirm: any bytes give a well-formed Connection Confirm
// or none.
func FuzzConnectionConfirm(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		cc := connectionConfirm(b)
		if cc == nil {
			return
		}
		if len(cc) < 11 || int(binary.BigEndian.Uint16(cc[2:4])) != len(cc) || cc[5] != x224CC || int(cc[4]) != len(cc)-5 {
			t.Fatalf("confirm %q to %q is malformed", cc, b)
		}
	})
}

// FuzzDNSAnswer: any bytes get no answer or an answer that parses, is a
// response, has the query's ID and is small (no amplification).
func FuzzDNSAnswer(f *testing.F) {
	seeds(f)
	s, err := New(Config{Listen: []Listen{{DNS, "127.0.0.1:0"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ans := s.dnsAnswer(b)
		if ans == nil {
			return
		}
		var m dns.Msg
		if err := m.Unpack(ans); err != nil || !m.Response || len(b) < 2 || m.Id != binary.BigEndian.Uint16(b) {
			t.Fatalf("answer %q to %q: %v", ans, b, err)
		}
		if len(ans) > 512 && len(ans) > 2*len(b) {
			t.Fatalf("a %d-byte query got a %d-byte answer", len(b), len(ans))
		}
	})
}

// FuzzSSHFraming: the end of the KEXINIT is never past the bytes, and the
// message cut there ends there too (what serveSSH stores is whole).
func FuzzSSHFraming(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		end, ok := sshKexInitEnd(b)
		if ok && (end > len(b) || end < 0) {
			t.Fatalf("end %d of %d bytes", end, len(b))
		}
		if ok && end < len(b) {
			if e2, ok2 := sshKexInitEnd(b[:end]); !ok2 || e2 != end {
				t.Fatalf("cut at %d, the cut message ends at %d (%v)", end, e2, ok2)
			}
		}
	})
}
