package simulate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// defaultPort is the port a client leaves out of the Host header.
var defaultPort = [numServices]uint16{80, 443, 53}

func (p *planner) buildHTTP(sess *session, v *httpVariant, owner string) {
	url := v.URL
	if len(v.URLs) > 0 {
		url = v.URLs[p.rng.IntN(len(v.URLs))]
	}
	if v.ExploitURL && len(p.cat.exploitURLs) > 0 {
		url = p.cat.exploitURLs[p.rng.IntN(len(p.cat.exploitURLs))]
	}
	ua := ""
	if v.BotUA && len(p.cat.bots) > 0 {
		ua = p.cat.bots[p.rng.IntN(len(p.cat.bots))]
	}
	// {host} is what most clients send (the port when it is not 80), {ip}
	// what clients that never name the port send.
	ip := sess.dst.String()
	host := ip
	if sess.dport != defaultPort[0] {
		host += ":" + strconv.Itoa(int(sess.dport))
	}
	var req, sig strings.Builder
	line := v.Method + " " + url + " " + v.Version + "\r\n"
	req.WriteString(line)
	sig.WriteString(line)
	for _, h := range v.Headers {
		val := strings.ReplaceAll(h[1], "{ua}", ua)
		sig.WriteString(h[0] + ": " + val + "\r\n")
		val = strings.ReplaceAll(strings.ReplaceAll(val, "{host}", host), "{ip}", ip)
		req.WriteString(h[0] + ": " + val + "\r\n")
	}
	req.WriteString("\r\n")
	req.WriteString(v.trailer)
	sig.WriteString(v.trailer)
	sess.payload = []byte(req.String())
	sess.signature = sig.String()
	sess.profile = owner + "/" + v.Name
	sess.reply = httpReply(url, sess)
}

// httpReply is the honeypot's answer: a small page for "/", 404 elsewhere.
func httpReply(url string, sess *session) []byte {
	status, body := "404 Not Found", "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>\n"
	if url == "/" {
		status, body = "200 OK", "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n"
	}
	// The Date header has second resolution: the SYN's second is close enough.
	date := time.UnixMicro(sess.synTime).UTC().Format(time.RFC1123)
	date = strings.Replace(date, "UTC", "GMT", 1)
	return []byte("HTTP/1.1 " + status + "\r\nServer: nginx/1.24.0\r\nDate: " + date +
		"\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body)
}

func (p *planner) buildTLS(sess *session, v *tlsVariant, owner string) {
	st := v.stacks[0]
	if len(v.stacks) > 1 {
		st = v.stacks[p.rng.IntN(len(v.stacks))]
	}
	sess.payload = st.clientHello(p.rng, "")
	str, md5 := st.ja3()
	sess.ja3 = md5
	sess.signature = str + "|" + strings.Join(st.ALPN, ",")
	sess.template = fmt.Sprintf("%s|%x|%x|%d|%x|%v", sess.signature, st.SigAlgs, st.Versions, st.SessionIDLen, st.Compression, st.FixedRandom != nil)
	sess.profile = owner + "/" + v.Name
	sess.reply = tlsAlertHandshakeFailure
}

func (p *planner) buildDNS(sess *session, v *dnsVariant, owner string) {
	qname := v.QName
	if v.RandomLabel {
		qname = strconv.FormatUint(uint64(p.rng.Uint32()|1<<31), 16) + "." + qname
	}
	q := v.query(uint16(p.rng.Uint32()), qname)
	payload, err := q.Pack()
	if err != nil {
		// dnsVariant.resolve packed this question at load time, so only a
		// bug in this package can get here.
		panic("simulate: dns profile " + v.Name + ": " + err.Error())
	}
	sess.payload = payload
	sig := v.QName
	if v.RandomLabel {
		sig = "*." + sig
	}
	sess.signature = strings.Join([]string{sig, strconv.Itoa(int(v.QType)), strconv.Itoa(int(v.QClass)), v.Flags, strconv.FormatBool(v.EDNS)}, "|")
	sess.profile = owner + "/" + v.Name
	sess.reply = dnsReply(q)
}

// query builds the DNS query of this variant.
func (v *dnsVariant) query(id uint16, qname string) *dns.Msg {
	q := new(dns.Msg)
	q.Id = id
	q.Opcode = int(v.flags>>11) & 0xf
	q.RecursionDesired = v.flags&0x0100 != 0
	q.AuthenticatedData = v.flags&0x0020 != 0
	q.CheckingDisabled = v.flags&0x0010 != 0
	q.Question = []dns.Question{{Name: dns.Fqdn(qname), Qtype: v.QType, Qclass: v.QClass}}
	if v.EDNS {
		q.SetEdns0(1232, false)
	}
	return q
}

// dnsReply answers CHAOS TXT queries with a BIND version string, as a
// default BIND does, and refuses everything else: the honeypot is no open
// resolver.
func dnsReply(q *dns.Msg) []byte {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = false
	qq := q.Question[0]
	if qq.Qclass == dns.ClassCHAOS && qq.Qtype == dns.TypeTXT {
		r.Answer = []dns.RR{&dns.TXT{
			Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS, Ttl: 0},
			Txt: []string{"9.18.24-1-Debian"},
		}}
	} else {
		r.Rcode = dns.RcodeRefused
	}
	b, err := r.Pack()
	if err != nil {
		panic("simulate: dns reply: " + err.Error())
	}
	return b
}
