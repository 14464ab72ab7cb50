package http

import (
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FieldHost is the header that names the server the client thinks it talks
// to: on a honeypot, usually the sensor's own address.
const FieldHost = "Host"

// optionHeaders are encoded as sets of items (tokens, list members) rather
// than by their first bytes; matched without regard to case because
// "user-agent" carries the same kind of value as "User-Agent", although it
// stays a field of its own.
var optionHeaders = map[string]probe.Tokenizer{
	"user-agent":      probe.TokProduct,
	"accept":          probe.TokComma,
	"accept-encoding": probe.TokComma,
	"accept-language": probe.TokComma,
}

// keyFields are what analysts recognise HTTP tools by.
var keyFields = []string{"User-Agent", FieldMethod, FieldURL, FieldVersion, "Accept", "Accept-Encoding", "Connection"}

// Encoding implements probe.Encoder. Host (any case) and Url can carry the
// sensor's address; everything else not named here is a string of the
// default width.
func (Service) Encoding() probe.Encoding {
	return probe.Encoding{Rule: rule, KeyFields: keyFields}
}

func rule(field string) (probe.FieldRule, bool) {
	lower := strings.ToLower(field)
	if tok, ok := optionHeaders[lower]; ok {
		return probe.FieldRule{Kind: probe.KindOption, Tokenizer: tok}, true
	}
	switch {
	case lower == "host":
		return probe.FieldRule{Kind: probe.KindString, Width: probe.DefaultStringWidth, Identity: probe.IdentityHost}, true
	case field == FieldURL:
		return probe.FieldRule{Kind: probe.KindString, Width: probe.DefaultStringWidth, Identity: probe.IdentityURL}, true
	}
	return probe.FieldRule{}, false
}
