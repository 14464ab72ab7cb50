package feature

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all" // the rules of HTTP, TLS, DNS
	"github.com/scannergrouper/scannergrouper/internal/service/dns"
)

// dnsFields are the DNS fields every DNS layout holds.
var dnsFields = dns.FieldOrder

// f builds a field; items are given for list fields.
func f(name, value string, items ...string) probe.Field {
	return probe.Field{Name: name, Value: value, Items: items}
}

func list(name string, items ...string) probe.Field {
	v := ""
	for i, it := range items {
		if i > 0 {
			v += ","
		}
		v += it
	}
	return probe.Field{Name: name, Value: v, Items: items}
}

func mkProbe(service string, i int, fields ...probe.Field) probe.Probe {
	return probe.Probe{
		Time:      time.Date(2024, 4, 12, 16, 0, i, 0, time.UTC),
		SrcIP:     netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
		DstPort:   80,
		Transport: probe.TCP,
		Service:   service,
		Fields:    fields,
	}
}

// repeat returns n copies of a probe template.
func repeat(n int, service string, fields ...probe.Field) []probe.Probe {
	out := make([]probe.Probe, n)
	for i := range out {
		out[i] = mkProbe(service, i, fields...)
	}
	return out
}

// httpFixture is a small HTTP week in the shape of real scanner traffic:
// a censys-like probe without headers, a zgrab-like one, a Chrome-like one
// with list headers, a duplicated header, and a one-off that the frequency
// filter drops.
func httpFixture() []probe.Probe {
	var ps []probe.Probe
	ps = append(ps, repeat(5, "http", f("Method", "GET"), f("Url", "/"), f("Version", "HTTP/1.1"),
		f("Host", "198.51.100.7:80"))...)
	ps = append(ps, repeat(3, "http", f("Method", "GET"), f("Url", "/"), f("Version", "HTTP/1.1"),
		f("Host", "198.51.100.7"), f("User-Agent", "Mozilla/5.0 zgrab/0.x"), f("Accept", "*/*"),
		f("Accept-Encoding", "gzip"))...)
	ps = append(ps, repeat(3, "http", f("Method", "GET"), f("Url", "/nice%20ports%2C/Tri%6Eity.txt%2ebak"),
		f("Version", "HTTP/1.0"), f("Connection", "close"),
		f("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
		f("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"), f("Accept-Encoding", "gzip, deflate"),
		f("Accept-Language", "zh-CN,zh;q=0.9"))...)
	ps = append(ps, repeat(2, "http", f("Method", "GET"), f("Url", "/cgi-bin/luci/;stok=/locale"),
		f("Version", "HTTP/1.1"), f("User-Agent", "curl/7.88.1"), f("user-agent", "curl/7.88.1"),
		f("Accept", "*/*"), f("Accept", "text/plain"))...)
	ps = append(ps, mkProbe("http", 99, f("Method", "OPTIONS"), f("Url", "sip:nm"), f("Version", "SIP/2.0"),
		f("User-Agent", "one-off/1.0")))
	return ps
}

var httpFixtureFields = []string{"Accept", "Accept-Encoding", "Connection", "Url", "User-Agent", "Version"}

func tlsFixture() []probe.Probe {
	var ps []probe.Probe
	hello := func(n int, random, sid string, suites, groups []string) {
		for i := range n {
			ps = append(ps, mkProbe("tls", len(ps),
				f("tls_version", "TLS 1.0"), f("handshake_version", "TLS 1.2"),
				f("handshake_random_bytes", fmt.Sprintf("%s%02x", random, i)),
				f("handshake_sessionid", sid),
				list("handshake_ciphersuites", suites...),
				list("extensions_supported_groups", groups...),
				f("ja3", fmt.Sprintf("ja3-%d", len(suites)))))
		}
	}
	hello(4, "5f2a9c", "", []string{"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}, []string{"x25519", "secp256r1"})
	hello(3, "a0b1c2", "b'\\x01\\x02'", []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, []string{"secp256r1"})
	// A ClientHello without the supported_groups extension.
	for i := range 2 {
		ps = append(ps, mkProbe("tls", len(ps), f("tls_version", "TLS 1.0"), f("handshake_version", "TLS 1.0"),
			f("handshake_random_bytes", fmt.Sprintf("ffee%02d", i)),
			list("handshake_ciphersuites", "TLS_RSA_WITH_AES_128_CBC_SHA"),
			f("ja3", "ja3-old")))
	}
	return ps
}

func dnsFixture() []probe.Probe {
	q := func(i int, id, rd, qname, qtype, edns string) probe.Probe {
		return mkProbe("dns", i, f("id", id), f("qr", "0"), f("opcode", "0"), f("aa", "0"), f("tc", "0"),
			f("rd", rd), f("ra", "0"), f("z", "0"), f("ad", "0"), f("cd", "0"), f("rcode", "0"),
			f("qdcount", "1"), f("ancount", "0"), f("nscount", "0"), f("arcount", edns),
			f("qname", qname), f("qtype", qtype), f("qclass", "3"), f("edns", edns))
	}
	return []probe.Probe{
		q(0, "4660", "0", "version.bind", "16", "0"),
		q(1, "65535", "1", "dnsscan.shadowserver.org.example.with.a.long.tail", "1", "1"),
		q(2, "0", "1", "ip.parrotdns.com", "255", "1"),
		// Missing and malformed ints encode as zero bits.
		mkProbe("dns", 3, f("id", "12x"), f("qname", probe.NotAvailable)),
	}
}

// Service names of the protocols the tests feed the encoding; the rules
// come from the registered services (internal/service/all).
const (
	ServiceHTTP = "http"
	ServiceTLS  = "tls"
	ServiceDNS  = "dns"
)
