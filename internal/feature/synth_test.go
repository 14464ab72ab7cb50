package feature

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Synthetic traffic for ranking tests and benchmarks, shaped like
// SelfDeploy-24 (reference-impl §1.5): ~88 % unattributed probes from many
// unrelated tools, the rest from ~20 orgs of very different sizes, each
// sending a few fixed templates. Per-connection values (Host, TLS random,
// time, session id) are drawn per probe.

var synthOrgs = []struct {
	name   string
	weight int
}{
	{"stretchoid", 300}, {"shadowserver", 160}, {"binaryedge", 110}, {"driftnet", 90}, {"censys", 80},
	{"internet_census", 40}, {"shodan", 12}, {"onyphe", 10}, {"internettl", 8}, {"criminalip", 4},
	{"zoomeye", 4}, {"ipip", 3}, {"fofa", 3}, {"leakix", 3}, {"rapid7", 3}, {"intrinsec", 2},
	{"tum", 2}, {"quake", 1}, {"cybergreen", 1},
}

const synthUnknownShare = 0.88

var (
	synthSuites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA",
		"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"}
	synthGroups = []string{"x25519", "secp256r1", "secp384r1", "secp521r1", "x448", "ffdhe2048"}
	synthSigs   = []string{"ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "rsa_pkcs1_sha256", "ecdsa_secp384r1_sha384",
		"rsa_pss_rsae_sha384", "rsa_pkcs1_sha384", "rsa_pkcs1_sha1", "ecdsa_sha1"}
	synthUAs = []string{probe.NotAvailable, "Mozilla/5.0 zgrab/0.x", "curl/7.64.1", "Go-http-client/1.1",
		"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
		"Mozilla/5.0 (compatible; InternetMeasurement/1.0; +https://internet-measurement.com/)",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
		"python-requests/2.31.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"}
	synthURLs = []string{"/", "/nice%20ports%2C/Tri%6Eity.txt%2ebak", "/favicon.ico", "/robots.txt", "/.env",
		"/cgi-bin/luci/;stok=/locale?form=country", "/showLogin.cc", "/cdn-cgi/trace", "/actuator/health", "/wp-login.php"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func subset(rng *rand.Rand, xs []string, k int) []string {
	out := make([]string, 0, k)
	for _, i := range rng.Perm(len(xs))[:k] {
		out = append(out, xs[i])
	}
	return out
}

// synthLabel draws the org of the next probe.
func synthLabel(rng *rand.Rand) (org string, idx int) {
	if rng.Float64() < synthUnknownShare {
		return "unknown", -1
	}
	total := 0
	for _, o := range synthOrgs {
		total += o.weight
	}
	r := rng.IntN(total)
	for i, o := range synthOrgs {
		if r < o.weight {
			return o.name, i
		}
		r -= o.weight
	}
	panic("unreachable")
}

type tlsTemplate struct {
	version                   string
	suites, groups, sigs, ext []string
	sessionID                 bool
}

func newTLSTemplate(rng *rand.Rand) tlsTemplate {
	ext := []string{"server_name", "supported_groups", "ec_point_formats", "signature_algorithms"}
	if rng.IntN(2) == 0 {
		ext = append(ext, "supported_versions", "key_share")
	}
	return tlsTemplate{
		version: pick(rng, []string{"TLS 1.0", "TLS 1.2"}),
		suites:  subset(rng, synthSuites, 3+rng.IntN(10)),
		groups:  subset(rng, synthGroups, 1+rng.IntN(4)),
		sigs:    subset(rng, synthSigs, 2+rng.IntN(6)),
		ext:     ext, sessionID: rng.IntN(2) == 0,
	}
}

func randomHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// synthTLS returns n ClientHellos and their org labels.
func synthTLS(rng *rand.Rand, n int) ([]probe.Probe, []string) {
	orgTpl := make([][]tlsTemplate, len(synthOrgs))
	for i := range orgTpl {
		for range 1 + rng.IntN(2) {
			orgTpl[i] = append(orgTpl[i], newTLSTemplate(rng))
		}
	}
	unknownTpl := make([]tlsTemplate, 300)
	for i := range unknownTpl {
		unknownTpl[i] = newTLSTemplate(rng)
	}
	ps := make([]probe.Probe, n)
	labels := make([]string, n)
	for i := range ps {
		org, oi := synthLabel(rng)
		var tp tlsTemplate
		if oi < 0 {
			tp = unknownTpl[int(rng.ExpFloat64()*40)%len(unknownTpl)]
		} else {
			tp = pick(rng, orgTpl[oi])
		}
		ja3 := fmt.Sprintf("771,%d,%d,%d,0", len(tp.suites), len(tp.ext), len(tp.groups)) + strings.Join(tp.suites, "-")
		sum := md5.Sum([]byte(ja3))
		sid := ""
		if tp.sessionID {
			sid = randomHex(rng, 32)
		}
		ps[i] = mkProbe("tls", i,
			f("tls_version", "TLS 1.0"), f("handshake_version", tp.version),
			f("handshake_random_bytes", randomHex(rng, 28)),
			f("handshake_time", fmt.Sprint(1712000000+rng.IntN(1<<24))),
			f("handshake_sessionid", sid),
			list("handshake_ciphersuites", tp.suites...), list("handshake_comp_methods", "null"),
			list("extensions", tp.ext...), list("extensions_hash_algs", tp.sigs...),
			list("extensions_supported_groups", tp.groups...), list("extensions_ec_point_formats", "uncompressed"),
			f("ja3_string", ja3), f("ja3", hex.EncodeToString(sum[:])))
		labels[i] = org
	}
	return ps, labels
}

type httpTemplate struct {
	ua, accept, encoding, conn, version string
	urls                                []string
}

func newHTTPTemplate(rng *rand.Rand, unknown bool) httpTemplate {
	tp := httpTemplate{
		ua:       pick(rng, synthUAs),
		accept:   pick(rng, []string{probe.NotAvailable, "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}),
		encoding: pick(rng, []string{probe.NotAvailable, "gzip", "gzip, deflate", "gzip, deflate, br"}),
		conn:     pick(rng, []string{probe.NotAvailable, "close", "keep-alive"}),
		version:  pick(rng, []string{"HTTP/1.1", "HTTP/1.1", "HTTP/1.0"}),
		urls:     subset(rng, synthURLs, 1+rng.IntN(3)),
	}
	if unknown && rng.IntN(3) == 0 {
		// Botnets and one-off tools: versions nobody else sends.
		tp.ua = fmt.Sprintf("Mozilla/5.0 (Linux; Android %d) Bot%d/%d.%d", rng.IntN(14), rng.IntN(500), rng.IntN(9), rng.IntN(9))
	}
	return tp
}

// synthHTTP returns n HTTP requests and their org labels.
func synthHTTP(rng *rand.Rand, n int) ([]probe.Probe, []string) {
	orgTpl := make([][]httpTemplate, len(synthOrgs))
	for i := range orgTpl {
		for range 1 + rng.IntN(3) {
			orgTpl[i] = append(orgTpl[i], newHTTPTemplate(rng, false))
		}
	}
	unknownTpl := make([]httpTemplate, 800)
	for i := range unknownTpl {
		unknownTpl[i] = newHTTPTemplate(rng, true)
	}
	ps := make([]probe.Probe, n)
	labels := make([]string, n)
	for i := range ps {
		org, oi := synthLabel(rng)
		var tp httpTemplate
		if oi < 0 {
			tp = unknownTpl[int(rng.ExpFloat64()*80)%len(unknownTpl)]
		} else {
			tp = pick(rng, orgTpl[oi])
		}
		fs := probe.Fields{f("Method", "GET"), f("Url", pick(rng, tp.urls)), f("Version", tp.version),
			f("Host", fmt.Sprintf("198.51.%d.%d:%d", rng.IntN(256), rng.IntN(256), pick(rng, []int{80, 8080, 443})))}
		for _, h := range []struct{ name, value string }{
			{"User-Agent", tp.ua}, {"Accept", tp.accept}, {"Accept-Encoding", tp.encoding}, {"Connection", tp.conn},
		} {
			if h.value != probe.NotAvailable {
				fs = append(fs, f(h.name, h.value))
			}
		}
		ps[i] = mkProbe("http", i, fs...)
		labels[i] = org
	}
	return ps, labels
}
