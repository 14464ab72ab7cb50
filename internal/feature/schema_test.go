package feature

import (
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/dns"
)

func TestTokensUserAgent(t *testing.T) {
	cases := []struct {
		ua   string
		want []string
	}{
		{"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
			[]string{"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
			[]string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "AppleWebKit/537.36 (KHTML, like Gecko)", "Chrome/120.0.0.0", "Safari/537.36"}},
		{"curl/7.88.1", []string{"curl/7.88.1"}},
		{"Go-http-client/1.1", []string{"Go-http-client/1.1"}},
		{"Mozilla/5.0 zgrab/0.x", []string{"Mozilla/5.0", "zgrab/0.x"}},
		// A comment with no product before it is its own token.
		{"(nested (comment) here) Foo/1", []string{"(nested (comment) here)", "Foo/1"}},
		// Two comments attach to the same product; blanks collapse around tokens.
		{"  A/1 (x)  (y)   B/2\t", []string{"A/1 (x)  (y)", "B/2"}},
		// Comment glued to the product.
		{"A/1(x) B", []string{"A/1(x)", "B"}},
		// Escaped parenthesis and an unterminated comment.
		{`A/1 (a\) b) C (open`, []string{`A/1 (a\) b)`, "C (open"}},
		{"", []string{""}},
		{"   ", []string{""}},
	}
	for _, c := range cases {
		got := Tokens(TokProduct, probe.Field{Name: "User-Agent", Value: c.ua})
		if !slices.Equal(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

func TestTokensLists(t *testing.T) {
	cases := []struct {
		tok  Tokenizer
		f    probe.Field
		want []string
	}{
		{TokComma, probe.Field{Value: "gzip, deflate"}, []string{"gzip", "deflate"}},
		{TokComma, probe.Field{Value: "zh-CN,zh;q=0.9"}, []string{"zh-CN", "zh;q=0.9"}},
		{TokComma, probe.Field{Value: " , ,"}, []string{""}},
		{TokComma, probe.Field{Value: "*/*"}, []string{"*/*"}},
		{TokComma, probe.Field{Value: probe.NotAvailable}, []string{probe.NotAvailable}},
		{TokItems, probe.Field{Value: "a,b", Items: []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}},
			[]string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}},
		{TokItems, probe.Field{Value: "x25519,secp256r1"}, []string{"x25519", "secp256r1"}},
		{TokItems, probe.Field{Value: ""}, []string{""}},
		{TokWhole, probe.Field{Value: "771,4865-4866,0-23,29,0"}, []string{"771,4865-4866,0-23,29,0"}},
	}
	for _, c := range cases {
		if got := Tokens(c.tok, c.f); !slices.Equal(got, c.want) {
			t.Errorf("Tokens(%v, %+v) = %q, want %q", c.tok, c.f, got, c.want)
		}
	}
}

func TestTokensBounded(t *testing.T) {
	long := strings.Repeat("a/1 ", 10000)
	if n := len(Tokens(TokProduct, probe.Field{Value: long})); n != maxTokensPerField {
		t.Errorf("got %d tokens, want the cap %d", n, maxTokensPerField)
	}
	if n := len(Tokens(TokComma, probe.Field{Value: strings.Repeat("x,", 10000)})); n != maxTokensPerField {
		t.Errorf("got %d comma items, want the cap %d", n, maxTokensPerField)
	}
}

func TestRuleFor(t *testing.T) {
	cases := []struct {
		svc, field string
		want       FieldRule
	}{
		{ServiceHTTP, "User-Agent", FieldRule{Kind: probe.KindOption, Tokenizer: TokProduct}},
		{ServiceHTTP, "user-agent", FieldRule{Kind: probe.KindOption, Tokenizer: TokProduct}},
		{ServiceHTTP, "Accept-Encoding", FieldRule{Kind: probe.KindOption, Tokenizer: TokComma}},
		{ServiceHTTP, "Url", FieldRule{Kind: probe.KindString, Width: 10, Identity: probe.IdentityURL}},
		{ServiceHTTP, "host", FieldRule{Kind: probe.KindString, Width: 10, Identity: probe.IdentityHost}},
		{ServiceHTTP, "X-Made-Up", FieldRule{Kind: probe.KindString, Width: 10}},
		{ServiceTLS, "handshake_ciphersuites", FieldRule{Kind: probe.KindOption, Tokenizer: TokItems}},
		{ServiceTLS, "handshake_random_bytes", FieldRule{Kind: probe.KindString, Width: 10}},
		{ServiceTLS, "ja3", FieldRule{Kind: probe.KindOption, Tokenizer: TokWhole}},
		{ServiceTLS, "ja3_string", FieldRule{Kind: probe.KindOption, Tokenizer: TokWhole}},
		{ServiceDNS, "qname", FieldRule{Kind: probe.KindString, Width: 32, Identity: probe.IdentityQName}},
		{ServiceTLS, "extensions_sni", FieldRule{Kind: probe.KindString, Width: 10, Identity: probe.IdentityHost}},
		// A service nobody registered: every field is a default string.
		{"no-such-service", "anything", FieldRule{Kind: probe.KindString, Width: 10}},
		{ServiceDNS, "id", FieldRule{Kind: probe.KindInt, Width: 16}},
		{ServiceDNS, "opcode", FieldRule{Kind: probe.KindInt, Width: 4}},
		{ServiceDNS, "edns", FieldRule{Kind: probe.KindInt, Width: 1}},
	}
	for _, c := range cases {
		if got := RuleFor(c.svc, c.field); got != c.want {
			t.Errorf("RuleFor(%s, %s) = %+v, want %+v", c.svc, c.field, got, c.want)
		}
	}
	bits := 0
	for _, name := range dnsFields {
		if r := RuleFor(ServiceDNS, name); r.Kind == probe.KindInt {
			bits += r.Width
		}
	}
	// 16+1+4+7×1+4+4×16+16+16+1 (reference-impl §2.7) + qname 32 fits 16×16.
	if bits != 129 || bits+dns.QNameWidth > dns.CanvasSide*dns.CanvasSide {
		t.Errorf("DNS int bits = %d, want 129 and to fit the 16×16 canvas with the qname", bits)
	}
}
