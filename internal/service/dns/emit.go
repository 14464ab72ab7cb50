package dns

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

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

// Wire: a DNS query is one datagram.
func (Service) Wire() probe.Wire { return probe.Wire{} }

// template is one DNS query of a scanner profile, from the simulator's
// profiles.json: a corpus query by name, or a question spelled out.
type template struct {
	probe.TemplateMeta
	Query string `json:"query"`
	QName string `json:"qname"`
	// RandomLabel prepends a random 8-hex-digit label to QName, as
	// open-resolver surveys do to defeat caches and match answers.
	RandomLabel bool   `json:"random_label"`
	QType       uint16 `json:"qtype"`
	QClass      uint16 `json:"qclass"`
	Flags       string `json:"flags"`
	EDNS        bool   `json:"edns"`

	flags uint16
}

// CorpusQuery is the question of a real tool's first DNS query.
// It is an entry of the simulator's corpus.json (internal/simulate/corpusfile).
type CorpusQuery struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Flags  string `json:"flags"`
	QName  string `json:"qname"`
	QType  uint16 `json:"qtype"`
	QClass uint16 `json:"qclass"`
	EDNS   bool   `json:"edns"`
}

// Templates reads the corpus queries templates may name.
func (Service) Templates(d *probe.EmitData) (probe.TemplateDecoder, error) {
	var queries []CorpusQuery
	if err := d.Corpus("dns_queries", &queries); err != nil {
		return nil, err
	}
	byName := map[string]CorpusQuery{}
	for _, q := range queries {
		byName[q.Name] = q
	}
	return func(raw json.RawMessage) ([]probe.Template, error) {
		return probe.DecodeTemplates(raw, func(t *template) error { return t.resolve(byName) })
	}, nil
}

func (v *template) resolve(corpus map[string]CorpusQuery) error {
	if v.Query != "" {
		base, ok := corpus[v.Query]
		if !ok {
			return fmt.Errorf("unknown corpus query %q", v.Query)
		}
		v.QName, v.QType, v.QClass, v.Flags, v.EDNS = base.QName, base.QType, base.QClass, base.Flags, base.EDNS
	}
	if v.QName == "" || v.QType == 0 || v.QClass == 0 {
		return fmt.Errorf("incomplete question")
	}
	f, err := strconv.ParseUint(strings.TrimPrefix(v.Flags, "0x"), 16, 16)
	if err != nil {
		return fmt.Errorf("flags %q: %w", v.Flags, err)
	}
	v.flags = uint16(f)
	// Pack once with the longest name this template can produce, so that a
	// bad name fails here and not in the middle of a generation.
	name := v.QName
	if v.RandomLabel {
		name = "ffffffff." + name
	}
	if _, _, err := v.question(name).Exchange(0); err != nil {
		return fmt.Errorf("question %q does not pack: %w", name, err)
	}
	return nil
}

// question is the DNS question of this template asking qname.
func (v *template) question(qname string) Question {
	return Question{Name: qname, Type: v.QType, Class: v.QClass, Flags: v.flags, EDNS: v.EDNS}
}

func (v *template) Ports() [][2]int { return nil }
func (v *template) Next() string    { return "" }

// Emit draws the random label, then the query id.
func (v *template) Emit(rng *rand.Rand, _ netip.Addr, _ uint16, _ time.Time) probe.Emission {
	qname := v.QName
	if v.RandomLabel {
		qname = strconv.FormatUint(uint64(rng.Uint32()|1<<31), 16) + "." + qname
	}
	payload, reply, err := v.question(qname).Exchange(uint16(rng.Uint32()))
	if err != nil {
		// resolve packed this question at load time, so only a bug in
		// this package can get here.
		panic("dns: template " + v.TemplateName + ": " + err.Error())
	}
	sig := v.QName
	if v.RandomLabel {
		sig = "*." + sig
	}
	return probe.Emission{Payload: payload, Reply: reply,
		Signature: strings.Join([]string{sig, strconv.Itoa(int(v.QType)), strconv.Itoa(int(v.QClass)), v.Flags, strconv.FormatBool(v.EDNS)}, "|")}
}

// derivedNames are question names a derived template asks instead of its
// base's: CHAOS-class ones for version probes, popular domains for resolver
// probes.
var derivedNames = map[bool][]string{
	true: {"version.bind", "hostname.bind", "id.server", "version.server", "authors.bind",
		"version.pdns", "version.maradns", "version.mydns", "version.unbound", "version.nsd",
		"version.knot", "version.yadifa", "version.coredns", "version.powerdns", "version.dnsmasq"},
	false: {"example.com", "google.com", "cloudflare.com", "wikipedia.org", "amazon.com",
		"github.com", "microsoft.com", "apple.com", "example.net", "example.org",
		"bing.com", "yahoo.com", "baidu.com", "qq.com", "mozilla.org"},
}

// Derive asks another name of the same kind (the j-th of derivedNames that
// the base does not ask).
func (v *template) Derive(j int) probe.Template {
	d := *v
	d.TemplateName = probe.DerivedName(v.TemplateName, j)
	var names []string
	for _, n := range derivedNames[v.QClass == mdns.ClassCHAOS] {
		if n != v.QName {
			names = append(names, n)
		}
	}
	d.QName = names[(j-1)%len(names)]
	return &d
}
