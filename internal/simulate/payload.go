package simulate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sdns "github.com/scannergrouper/scannergrouper/internal/service/dns"
	shttp "github.com/scannergrouper/scannergrouper/internal/service/http"
	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// The payload and reply bytes are built by the protocol folders
// (internal/service/<proto>/emit.go); this file draws what varies per probe.

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
	sess.payload, sess.signature = shttp.Request{Method: v.Method, URL: url, Version: v.Version, Headers: v.Headers, Trailer: v.trailer}.Build(ua, sess.dst.String(), sess.dport)
	sess.profile = owner + "/" + v.Name
	// The Date header has second resolution: the SYN's second is close enough.
	sess.reply = shttp.Reply(url, time.UnixMicro(sess.synTime))
}

func (p *planner) buildTLS(sess *session, v *tlsVariant, owner string) {
	st := v.stacks[0]
	if len(v.stacks) > 1 {
		st = v.stacks[p.rng.IntN(len(v.stacks))]
	}
	sess.payload = st.ClientHello(p.rng, "")
	str, md5 := st.JA3()
	sess.ja3 = md5
	sess.signature = str + "|" + strings.Join(st.ALPN, ",")
	sess.template = fmt.Sprintf("%s|%x|%x|%d|%x|%v", sess.signature, st.SigAlgs, st.Versions, st.SessionIDLen, st.Compression, st.FixedRandom != nil)
	sess.profile = owner + "/" + v.Name
	sess.reply = stls.AlertHandshakeFailure
}

func (p *planner) buildDNS(sess *session, v *dnsVariant, owner string) {
	qname := v.QName
	if v.RandomLabel {
		qname = strconv.FormatUint(uint64(p.rng.Uint32()|1<<31), 16) + "." + qname
	}
	payload, reply, err := v.question(qname).Exchange(uint16(p.rng.Uint32()))
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
	sess.reply = reply
}

// question is the DNS question of this variant asking qname.
func (v *dnsVariant) question(qname string) sdns.Question {
	return sdns.Question{Name: qname, Type: v.QType, Class: v.QClass, Flags: v.flags, EDNS: v.EDNS}
}
