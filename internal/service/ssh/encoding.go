package ssh

import "github.com/scannergrouper/scannergrouper/internal/probe"

// IdentWidth is the width in bytes of the identification's software
// version and comments: versions differ late ("OpenSSH_9.2p1" against
// "OpenSSH_8.9p1"), so they get more than the default.
const IdentWidth = 16

// rules: name-lists are options over their names, as TLS cipher suites
// are; the protocol version and the fingerprints are one-item options (one
// pixel per HASSH seen); the software version and comments are strings,
// which keeps an unseen version close to its siblings; the cookie is
// random per connection, a string as the TLS random is; the two trailing
// integers are bits.
var rules = map[string]probe.FieldRule{
	FieldProtoVersion:    {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldSoftwareVersion: {Kind: probe.KindString, Width: IdentWidth},
	FieldComments:        {Kind: probe.KindString, Width: IdentWidth},
	FieldCookie:          {Kind: probe.KindString, Width: probe.DefaultStringWidth},
	FieldFirstKexFollows: {Kind: probe.KindInt, Width: 8},
	FieldReserved:        {Kind: probe.KindInt, Width: 32},
	FieldHASSHAlgorithms: {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldHASSH:           {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
}

func init() {
	for _, f := range NameListFields {
		rules[f] = probe.FieldRule{Kind: probe.KindOption, Tokenizer: probe.TokItems}
	}
}

// Encoding implements probe.Encoder.
func (Service) Encoding() probe.Encoding {
	return probe.Encoding{
		Rule: func(field string) (probe.FieldRule, bool) {
			r, ok := rules[field]
			return r, ok
		},
		KeyFields: []string{FieldHASSH, FieldSoftwareVersion, FieldComments, FieldKex},
		PerProbe:  []string{FieldCookie},
	}
}
