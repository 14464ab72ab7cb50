package feature

import (
	"fmt"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Service names the encoding knows field rules for.
const (
	ServiceHTTP = "http"
	ServiceTLS  = "tls"
	ServiceDNS  = "dns"
)

// Default widths of the semantic encoding (paper §3.4 / App. F).
const (
	// StringWidth is how many leading bytes of a string field become pixels.
	StringWidth = 10
	// QnameWidth is the DNS qname's width: names differ late ("…shadowserver.org").
	QnameWidth = 32
)

// Tokenizer says how an option field's value is cut into the items that get
// one pixel each. It is saved in the layout by name, so a layout keeps
// meaning what it meant even if the default rule for a field changes.
type Tokenizer uint8

const (
	// TokWhole: the whole value is one item (ja3, tls_version).
	TokWhole Tokenizer = iota
	// TokProduct: a User-Agent cut into RFC 9110 product tokens, each with
	// the parenthesised comments that follow it:
	// "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko)"
	// → "Mozilla/5.0 (Windows NT 10.0)", "AppleWebKit/537.36 (KHTML, like Gecko)".
	TokProduct
	// TokComma: a header list cut on ',' with surrounding blanks trimmed
	// ("gzip, deflate" → "gzip", "deflate"); parameters stay with their
	// item ("zh;q=0.9").
	TokComma
	// TokItems: the items the protocol parser delimited (Field.Items: TLS
	// cipher suites, groups, extension types).
	TokItems
)

var tokenizerNames = [...]string{"whole", "product", "comma", "items"}

func (t Tokenizer) String() string {
	if int(t) < len(tokenizerNames) {
		return tokenizerNames[t]
	}
	return fmt.Sprintf("tokenizer(%d)", t)
}

// MarshalText implements encoding.TextMarshaler.
func (t Tokenizer) MarshalText() ([]byte, error) {
	if int(t) >= len(tokenizerNames) {
		return nil, fmt.Errorf("feature: unknown tokenizer %d", t)
	}
	return []byte(tokenizerNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Tokenizer) UnmarshalText(b []byte) error {
	for i, n := range tokenizerNames {
		if n == string(b) {
			*t = Tokenizer(i)
			return nil
		}
	}
	return fmt.Errorf("feature: unknown tokenizer %q", b)
}

// FieldRule is how one field is encoded.
type FieldRule struct {
	Kind probe.Kind
	// Width is the number of pixels of a string (bytes) or int (bits) field;
	// option fields get one pixel per vocabulary item instead.
	Width int
	// Tokenizer cuts an option field into items.
	Tokenizer Tokenizer
}

// maxTokensPerField bounds how many items one field value may contribute,
// so a hostile 16 KiB header cannot flood the vocabulary counters.
const maxTokensPerField = 64

// httpOptionHeaders are matched without regard to case, as the HTTP parser's
// Kind does: "user-agent" carries the same kind of value as "User-Agent",
// although it stays a field of its own.
var httpOptionHeaders = map[string]Tokenizer{
	"user-agent":      TokProduct,
	"accept":          TokComma,
	"accept-encoding": TokComma,
	"accept-language": TokComma,
}

// tlsRules: protocol lists are options over their items; low-cardinality
// categorical values (versions, fingerprints) are one-item options, which
// gives one pixel per JA3 instead of 10 bytes of an MD5; per-connection
// values (random, time, session id) and the SNI name are strings, as in the
// paper.
var tlsRules = map[string]FieldRule{
	"tls_version":                   {Kind: probe.KindOption, Tokenizer: TokWhole},
	"handshake_version":             {Kind: probe.KindOption, Tokenizer: TokWhole},
	"handshake_random_bytes":        {Kind: probe.KindString, Width: StringWidth},
	"handshake_time":                {Kind: probe.KindString, Width: StringWidth},
	"handshake_sessionid":           {Kind: probe.KindString, Width: StringWidth},
	"handshake_ciphersuites":        {Kind: probe.KindOption, Tokenizer: TokItems},
	"handshake_comp_methods":        {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions":                    {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions_hash_algs":          {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions_supported_groups":   {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions_ec_point_formats":   {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions_sni":                {Kind: probe.KindString, Width: StringWidth},
	"extensions_alpn":               {Kind: probe.KindOption, Tokenizer: TokItems},
	"extensions_supported_versions": {Kind: probe.KindOption, Tokenizer: TokItems},
	"ja3":                           {Kind: probe.KindOption, Tokenizer: TokWhole},
	"ja3_md5":                       {Kind: probe.KindOption, Tokenizer: TokWhole},
	"ja4":                           {Kind: probe.KindOption, Tokenizer: TokWhole},
}

// DNSFields are the DNS fields in the order of the wire format, with their
// natural bit widths (docs/paper-faithful.md §2.7). Every one is encoded, in both
// selection modes.
var DNSFields = []struct {
	Name string
	Bits int
}{
	{"id", 16}, {"qr", 1}, {"opcode", 4}, {"aa", 1}, {"tc", 1}, {"rd", 1}, {"ra", 1},
	{"z", 1}, {"ad", 1}, {"cd", 1}, {"rcode", 4}, {"qdcount", 16}, {"ancount", 16},
	{"nscount", 16}, {"arcount", 16}, {"qname", 0}, {"qtype", 16}, {"qclass", 16}, {"edns", 1},
}

var dnsRules = func() map[string]FieldRule {
	m := make(map[string]FieldRule, len(DNSFields))
	for _, f := range DNSFields {
		if f.Name == "qname" {
			m[f.Name] = FieldRule{Kind: probe.KindString, Width: QnameWidth}
			continue
		}
		m[f.Name] = FieldRule{Kind: probe.KindInt, Width: f.Bits}
	}
	return m
}()

// RuleFor returns how a field of a service is encoded. Fields the tables do
// not name are strings of StringWidth bytes: that keeps any new header or
// extension usable without a code change.
func RuleFor(service, field string) FieldRule {
	switch service {
	case ServiceHTTP:
		if tok, ok := httpOptionHeaders[strings.ToLower(field)]; ok {
			return FieldRule{Kind: probe.KindOption, Tokenizer: tok}
		}
	case ServiceTLS:
		if r, ok := tlsRules[field]; ok {
			return r
		}
	case ServiceDNS:
		if r, ok := dnsRules[field]; ok {
			return r
		}
	}
	return FieldRule{Kind: probe.KindString, Width: StringWidth}
}

// Tokens returns the items of an option field value under a tokenizer, as
// the encoder sees them (for documentation, statistics and tests; the
// encoder itself uses the allocation-free walk). A missing field yields the
// single item probe.NotAvailable.
func Tokens(tok Tokenizer, f probe.Field) []string {
	var out []string
	walkTokens(tok, f, func(s string) { out = append(out, s) })
	return out
}

// walkTokens calls fn for each item of f (at most maxTokensPerField). A
// present but empty value yields one empty item, so "header sent empty" and
// "header absent" (probe.NotAvailable) stay different.
func walkTokens(tok Tokenizer, f probe.Field, fn func(string)) {
	if f.Value == probe.NotAvailable && len(f.Items) == 0 {
		fn(probe.NotAvailable)
		return
	}
	n := 0
	emit := func(s string) bool {
		fn(s)
		n++
		return n < maxTokensPerField
	}
	switch tok {
	case TokItems:
		if len(f.Items) > 0 {
			for _, it := range f.Items {
				if !emit(it) {
					return
				}
			}
			return
		}
		// A store or importer that kept only the joined Value: its items
		// were joined with ",".
		walkComma(f.Value, emit)
	case TokComma:
		walkComma(f.Value, emit)
	case TokProduct:
		walkProducts(f.Value, emit)
	default:
		emit(f.Value)
	}
	if n == 0 {
		fn("")
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func walkComma(s string, emit func(string) bool) {
	for len(s) > 0 {
		item := s
		rest := ""
		if i := strings.IndexByte(s, ','); i >= 0 {
			item, rest = s[:i], s[i+1:]
		}
		item = strings.Trim(item, " \t")
		if item != "" && !emit(item) {
			return
		}
		s = rest
	}
}

// walkProducts cuts a User-Agent into product tokens, each extended over the
// comments that follow it. A comment with no product before it is a token of
// its own. Comments nest and may escape characters with '\' (RFC 9110
// §5.6.5); an unterminated comment runs to the end of the value.
func walkProducts(s string, emit func(string) bool) {
	i := 0
	for i < len(s) {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return
		}
		start := i
		if s[i] != '(' {
			for i < len(s) && !isBlank(s[i]) && s[i] != '(' {
				i++
			}
		}
		end := i
		// Attach the comments that follow (after optional blanks).
		for {
			j := i
			for j < len(s) && isBlank(s[j]) {
				j++
			}
			if j >= len(s) || s[j] != '(' {
				break
			}
			i = skipComment(s, j)
			end = i
		}
		if !emit(s[start:end]) {
			return
		}
	}
}

// skipComment returns the index just past the comment that starts at s[i]=='('.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}
