package dns

import (
	mdns "github.com/miekg/dns"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// This file is what the simulator needs to send DNS first probes: the
// query of a question and the honeypot's answer to it.

// Transport is UDP: the simulator sends DNS first probes as datagrams.
func (Service) Transport() probe.Transport { return probe.UDP }

// DefaultPort is 53.
func (Service) DefaultPort() uint16 { return 53 }

// Question is one DNS query a scanner sends, header flags included.
type Question struct {
	Name  string
	Type  uint16
	Class uint16
	// Flags is the second 16-bit word of the header: opcode, RD, AD, CD.
	Flags uint16
	EDNS  bool
}

// query builds the DNS query of this question.
func (q Question) query(id uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.Id = id
	m.Opcode = int(q.Flags>>11) & 0xf
	m.RecursionDesired = q.Flags&0x0100 != 0
	m.AuthenticatedData = q.Flags&0x0020 != 0
	m.CheckingDisabled = q.Flags&0x0010 != 0
	m.Question = []mdns.Question{{Name: mdns.Fqdn(q.Name), Qtype: q.Type, Qclass: q.Class}}
	if q.EDNS {
		m.SetEdns0(1232, false)
	}
	return m
}

// Pack returns the query with that id, or why it cannot be sent (a label
// too long, a bad name).
func (q Question) Pack(id uint16) ([]byte, error) { return q.query(id).Pack() }

// Exchange returns the query with that id and the honeypot's reply to it.
func (q Question) Exchange(id uint16) (query, reply []byte, err error) {
	m := q.query(id)
	if query, err = m.Pack(); err != nil {
		return nil, nil, err
	}
	if reply, err = replyTo(m); err != nil {
		return nil, nil, err
	}
	return query, reply, nil
}

// replyTo answers CHAOS TXT queries with a BIND version string, as a
// default BIND does, and refuses everything else: the honeypot is no open
// resolver.
func replyTo(q *mdns.Msg) ([]byte, error) {
	r := new(mdns.Msg)
	r.SetReply(q)
	r.Authoritative = false
	qq := q.Question[0]
	if qq.Qclass == mdns.ClassCHAOS && qq.Qtype == mdns.TypeTXT {
		r.Answer = []mdns.RR{&mdns.TXT{
			Hdr: mdns.RR_Header{Name: qq.Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassCHAOS, Ttl: 0},
			Txt: []string{"9.18.24-1-Debian"},
		}}
	} else {
		r.Rcode = mdns.RcodeRefused
	}
	return r.Pack()
}
