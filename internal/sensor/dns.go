package sensor

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// maxDatagram is the read buffer of a UDP listener: any datagram fits, and
// the probe keeps the first probe.MaxPayload bytes.
const maxDatagram = 64 << 10

// udpIdle ends a UDP session, as in capture ingest (docs/formats.md §1):
// only the first datagram of a (source, destination) pair within it is a
// first probe. maxUDPSessions bounds the table.
const (
	udpIdle        = 5 * time.Minute
	maxUDPSessions = 1 << 16
)

// udpSessions remembers when each UDP session was last heard from.
type udpSessions map[[2]netip.AddrPort]time.Time

// first reports whether a datagram from src to dst at now starts a session.
func (u udpSessions) first(src, dst netip.AddrPort, now time.Time) bool {
	k := [2]netip.AddrPort{src, dst}
	last, seen := u[k]
	if len(u) >= maxUDPSessions && !seen {
		for k, t := range u {
			if now.Sub(t) > udpIdle {
				delete(u, k)
			}
		}
		if len(u) >= maxUDPSessions {
			clear(u) // a flood of sources: forget them rather than grow
		}
	}
	u[k] = now
	return !seen || now.Sub(last) > udpIdle
}

// udpLoop serves one UDP socket: the first datagram of each session is a
// first probe (as capture ingest counts them), and every query gets an
// answer.
func (s *Sensor) udpLoop(u *udpListener) {
	buf := make([]byte, maxDatagram)
	ep := newUDPEndpoint(u.pc)
	sessions := udpSessions{}
	for {
		n, src, dst, err := ep.read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.stats.acceptErrors.Add(1)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		now := time.Now()
		s.stats.datagrams.Add(1)
		if v := s.lim.allow(src.Addr(), now); v != admitted {
			s.stats.refused(v)
			continue
		}
		payload := buf[:min(n, probe.MaxPayload)]
		if n > probe.MaxPayload {
			s.stats.overCap.Add(1)
		}
		if n == 0 {
			s.stats.silent.Add(1)
			continue
		}
		if sessions.first(src, dst, now) {
			s.w.probe(s.newProbe(now, src, dst, probe.UDP, payload))
		}
		if reply := s.dnsAnswer(payload); reply != nil {
			u.pc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if err := ep.write(reply, dst, src); err != nil {
				s.stats.writeErrors.Add(1)
			}
		}
	}
}

// serveDNSTCP reads one length-prefixed query (RFC 1035 §4.2.2) and
// answers it the same way.
func (cs *session) serveDNSTCP() {
	defer cs.release()
	p := cs.readFirst(cs.complete)
	if p == nil || len(cs.buf) < 2 {
		return
	}
	n := int(binary.BigEndian.Uint16(cs.buf))
	if len(cs.buf) < 2+n {
		return
	}
	if reply := cs.s.dnsAnswer(cs.buf[2 : 2+n]); reply != nil {
		cs.write(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reply)), uint16(len(reply))))
		cs.write(reply)
	}
}

// dnsAnswer answers a query like a small authoritative server: an A record
// for any name of class IN, the version in TXT for version.bind in class
// CHAOS, REFUSED for every other question. What is not a query (an answer,
// bytes miekg/dns cannot read, no single question) gets nothing, so the
// sensor neither loops with another server nor reflects garbage.
func (s *Sensor) dnsAnswer(msg []byte) []byte {
	var q dns.Msg
	if err := q.Unpack(msg); err != nil || q.Response {
		return nil
	}
	r := new(dns.Msg)
	if q.Opcode != dns.OpcodeQuery || len(q.Question) != 1 {
		r.SetRcode(&q, dns.RcodeRefused)
		r.Question = nil
	} else {
		r.SetReply(&q)
		qq := q.Question[0]
		switch {
		case qq.Qclass == dns.ClassINET && qq.Qtype == dns.TypeA:
			r.Authoritative = true
			r.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
				A:   net.IP(s.cfg.DNSAnswer.AsSlice()),
			}}
			if !s.cfg.DNSAnswer.Is4() {
				r.Answer = nil // an IPv6 answer address has no A record
			}
		case qq.Qclass == dns.ClassCHAOS && qq.Qtype == dns.TypeTXT && strings.EqualFold(qq.Name, "version.bind."):
			r.Authoritative = true
			r.Answer = []dns.RR{&dns.TXT{
				Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
				Txt: []string{s.cfg.DNSVersion},
			}}
		default:
			r.Rcode = dns.RcodeRefused
		}
	}
	if opt := q.IsEdns0(); opt != nil {
		r.SetEdns0(1232, opt.Do())
	}
	out, err := r.Pack()
	if err != nil {
		return nil
	}
	return out
}
