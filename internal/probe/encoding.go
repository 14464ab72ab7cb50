package probe

import "fmt"

// The types below say how the fields of a service become pixels. They live
// here, beside Service, so that a protocol folder can declare its own rules
// and the feature layer can read them through the registry without
// importing any protocol package.

// DefaultStringWidth is how many leading bytes of a string field become
// pixels when its service says nothing else (paper §3.4).
const DefaultStringWidth = 10

// Tokenizer says how an option field's value is cut into the items that get
// one pixel each. A layout saves it by name, so a saved layout keeps meaning
// what it meant even if a service's default rule changes.
type Tokenizer uint8

const (
	// TokWhole: the whole value is one item (ja3, tls_version).
	TokWhole Tokenizer = iota
	// TokProduct: a User-Agent cut into RFC 9110 product tokens, each with
	// the parenthesised comments that follow it.
	TokProduct
	// TokComma: a header list cut on ',' with surrounding blanks trimmed;
	// parameters stay with their item ("zh;q=0.9").
	TokComma
	// TokItems: the items the protocol parser delimited (Field.Items).
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
		return nil, fmt.Errorf("probe: unknown tokenizer %d", t)
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
	return fmt.Errorf("probe: unknown tokenizer %q", b)
}

// Identity says whether, and how, a field can carry the honeypot's own
// address or name. Such a field is encoded as a class of value (the
// sensor's address, another address, a name) instead of its bytes: a
// model must learn who the scanner is, not which sensor it happened to hit.
type Identity uint8

const (
	// IdentityNone: the value is encoded as sent.
	IdentityNone Identity = iota
	// IdentityHost: the value is a host, optionally with a port (HTTP Host,
	// TLS SNI, a CONNECT target).
	IdentityHost
	// IdentityURL: a request target; only the host of an absolute URL (or
	// an authority-form target) is classed, the path is kept.
	IdentityURL
	// IdentityQName: a DNS name; only the labels that spell the sensor's
	// address are replaced, because the rest of the name (version.bind, a
	// scanner's own domain) is what tells scanners apart.
	IdentityQName
)

var identityNames = [...]string{"", "host", "url", "qname"}

func (i Identity) String() string {
	if int(i) < len(identityNames) {
		if i == IdentityNone {
			return "none"
		}
		return identityNames[i]
	}
	return fmt.Sprintf("identity(%d)", i)
}

// MarshalText implements encoding.TextMarshaler.
func (i Identity) MarshalText() ([]byte, error) {
	if int(i) >= len(identityNames) {
		return nil, fmt.Errorf("probe: unknown identity %d", i)
	}
	return []byte(identityNames[i]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (i *Identity) UnmarshalText(b []byte) error {
	for j, n := range identityNames {
		if n == string(b) || (j == 0 && string(b) == "none") {
			*i = Identity(j)
			return nil
		}
	}
	return fmt.Errorf("probe: unknown identity %q", b)
}

// FieldRule is how one field is encoded.
type FieldRule struct {
	Kind Kind
	// Width is the number of pixels of a string (bytes) or int (bits) field;
	// option fields get one pixel per vocabulary item instead.
	Width int
	// Tokenizer cuts an option field into items.
	Tokenizer Tokenizer
	// Identity marks a string field that may carry the honeypot's own
	// address or name.
	Identity Identity
}

// DefaultRule is the rule of a field its service does not name: a string of
// DefaultStringWidth bytes, which keeps any new header or extension usable
// without a code change.
var DefaultRule = FieldRule{Kind: KindString, Width: DefaultStringWidth}

// Encoding is what a service tells the feature layer about its fields.
type Encoding struct {
	// Rule returns the rule of a field the service names; ok is false for
	// any other field, which then gets DefaultRule. Nil: every field gets
	// DefaultRule.
	Rule func(field string) (r FieldRule, ok bool)
	// Fixed are fields every message of the protocol carries (the DNS
	// header). When set, every layout holds them whether or not a probe
	// had them, statistics list them, and field selection chooses among
	// them only, without needing labels.
	Fixed []string
	// Side fixes the canvas side in every training mode (0: the mode
	// decides). A service whose fields are all fixed needs no room to grow.
	Side int
	// KeyFields are the fields analysts recognise tools by (a User-Agent, a
	// JA4), shown for every cluster of still-unknown scanners whatever the
	// models selected.
	KeyFields []string
	// Renames is the history of the service's field renamings, oldest
	// first; each entry maps old names to new ones and applies as a whole
	// (so two names can swap). Stored probes and saved layouts are brought
	// up to date through it. A released entry is never edited: a new
	// renaming is a new entry.
	Renames []map[string]string
	// PerProbe are the fields whose value changes from connection to
	// connection whoever sends it (random bytes, a transaction ID, a
	// client's clock). The store keeps them with each probe and every other
	// field once per distinct set, so that the many probes of one tool
	// share one stored copy; a field left out here is only stored more
	// often, never wrongly.
	PerProbe []string
}

// RuleFor returns the rule of field under e.
func (e Encoding) RuleFor(field string) FieldRule {
	if e.Rule != nil {
		if r, ok := e.Rule(field); ok {
			return r
		}
	}
	return DefaultRule
}

// Encoder is implemented by services that declare how their fields are
// encoded. A service without it is still learned, every field a string of
// DefaultStringWidth bytes.
type Encoder interface {
	Encoding() Encoding
}

// EncodingOf returns the encoding of a registered service, or the zero
// Encoding (every field DefaultRule) for a service that declares none or is
// not registered.
func EncodingOf(service string) Encoding {
	if s, ok := Lookup(service); ok {
		if e, ok := s.(Encoder); ok {
			return e.Encoding()
		}
	}
	return Encoding{}
}
