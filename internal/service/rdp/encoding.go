package rdp

import "github.com/scannergrouper/scannergrouper/internal/probe"

// CookieWidth is the width in bytes of the cookie and routing token: user
// names scanners send ("Administr", "hello", "nmap") fit.
const CookieWidth = 16

// rule: the TPKT and X.224 integers are bits; the named flag and protocol
// lists are options over their names and the presence of the negotiation
// request a one-item option; the cookie and routing token are strings;
// the correlation id is random per connection, a string of the default
// width, as is what trails.
func rule(field string) (probe.FieldRule, bool) {
	if w, ok := IntFieldWidths[field]; ok {
		return probe.FieldRule{Kind: probe.KindInt, Width: w}, true
	}
	switch field {
	case FieldCookie, FieldRoutingToken:
		return probe.FieldRule{Kind: probe.KindString, Width: CookieWidth}, true
	case FieldNegRequest:
		return probe.FieldRule{Kind: probe.KindOption, Tokenizer: probe.TokWhole}, true
	case FieldNegFlagsNames, FieldRequestedProtoNames:
		return probe.FieldRule{Kind: probe.KindOption, Tokenizer: probe.TokItems}, true
	case FieldCorrelationID, FieldTrailing:
		return probe.FieldRule{Kind: probe.KindString, Width: probe.DefaultStringWidth}, true
	}
	return probe.FieldRule{}, false
}

// Encoding implements probe.Encoder.
func (Service) Encoding() probe.Encoding {
	return probe.Encoding{Rule: rule,
		KeyFields: []string{FieldCookie, FieldRoutingToken, FieldNegRequest, FieldRequestedProtoNames}}
}
