package tls

import "github.com/scannergrouper/scannergrouper/internal/probe"

// rules: protocol lists are options over their items; low-cardinality
// categorical values (versions, fingerprints) are one-item options, which
// gives one pixel per JA3 instead of 10 bytes of an MD5; per-connection
// values (random, time, session id) are strings, as in the paper. The SNI
// is a string that may name the sensor itself (scanners that connect to an
// address often send it as the server name).
var rules = map[string]probe.FieldRule{
	FieldVersion:             {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldHandshakeVersion:    {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldRandom:              {Kind: probe.KindString, Width: probe.DefaultStringWidth},
	FieldTime:                {Kind: probe.KindString, Width: probe.DefaultStringWidth},
	FieldSessionID:           {Kind: probe.KindString, Width: probe.DefaultStringWidth},
	FieldCipherSuites:        {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldCompression:         {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldExtensions:          {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldSignatureAlgorithms: {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldSupportedGroups:     {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldECPointFormats:      {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldSNI:                 {Kind: probe.KindString, Width: probe.DefaultStringWidth, Identity: probe.IdentityHost},
	FieldALPN:                {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldSupportedVersions:   {Kind: probe.KindOption, Tokenizer: probe.TokItems},
	FieldJA3String:           {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldJA3:                 {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
	FieldJA4:                 {Kind: probe.KindOption, Tokenizer: probe.TokWhole},
}

// renames is the history of TLS field names. The first renaming gave "ja3"
// the meaning every other tool gives it (the MD5 hex) and moved the full
// string to "ja3_string"; both apply at once, since one name moves to the
// other.
var renames = []map[string]string{
	{"ja3": FieldJA3String, "ja3_md5": FieldJA3},
}

// Encoding implements probe.Encoder.
func (service) Encoding() probe.Encoding {
	return probe.Encoding{
		Rule: func(field string) (probe.FieldRule, bool) {
			r, ok := rules[field]
			return r, ok
		},
		Renames:   renames,
		KeyFields: []string{FieldJA4, FieldJA3, FieldALPN, FieldSupportedVersions, FieldCipherSuites},
		PerProbe:  []string{FieldRandom, FieldTime, FieldSessionID},
	}
}
