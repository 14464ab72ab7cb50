package feature

import (
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// StringWidth is how many leading bytes of a string field become pixels
// unless its service says otherwise (paper §3.4 / App. F).
const StringWidth = probe.DefaultStringWidth

// Tokenizer says how an option field's value is cut into items; the
// services declare it in their rules (probe.Tokenizer).
type Tokenizer = probe.Tokenizer

// The tokenizers, named here too so that the encoding's callers need not
// reach into probe.
const (
	TokWhole   = probe.TokWhole
	TokProduct = probe.TokProduct
	TokComma   = probe.TokComma
	TokItems   = probe.TokItems
)

// FieldRule is how one field is encoded (probe.FieldRule).
type FieldRule = probe.FieldRule

// maxTokensPerField bounds how many items one field value may contribute,
// so a hostile 16 KiB header cannot flood the vocabulary counters.
const maxTokensPerField = 64

// RuleFor returns how a field of a service is encoded: the rule its
// service declares (probe.Encoder), or a string of StringWidth bytes for a
// field it does not name, which keeps any new header or extension usable
// without a code change.
func RuleFor(service, field string) FieldRule {
	return probe.EncodingOf(service).RuleFor(field)
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
