package http

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

const (
	// maxLineLen bounds the request line and each header line. It is as
	// large as a captured payload: overflow probes with 10 KiB URLs are real
	// HTTP and keep their headers; only larger inputs from other sources
	// (payload CSVs) are refused.
	maxLineLen = probe.MaxPayload
	// maxHeaders bounds the field slice: a probe with more header lines is
	// garbage, and an attacker must not make us allocate one field per byte.
	maxHeaders = 256
)

// ParseRequest parses an HTTP-like request into fields (see the package
// comment for names and order). It tolerates every irregularity a scanner
// may send and fails only on payloads that cannot be a request: empty, a
// method that is not a token, a line longer than probe.MaxPayload, or more
// than 256 header lines. A payload cut short (the capture ended first)
// parses as far as it goes.
func ParseRequest(payload []byte) (probe.Fields, error) {
	if len(payload) == 0 {
		return nil, fmt.Errorf("http: empty payload")
	}
	// RFC 9112 §2.2: a server should ignore empty lines before the request
	// line. A payload of nothing but line ends (nmap's GenericLines) is kept
	// as a request with every part missing.
	start := skipLineEnds(payload, 0)
	if start == len(payload) {
		return probe.Fields{
			{Name: FieldMethod, Value: probe.NotAvailable},
			{Name: FieldURL, Value: probe.NotAvailable},
			{Name: FieldVersion, Value: probe.NotAvailable},
			{Name: FieldBody, Value: ""},
		}, nil
	}

	headerLines := bytes.Count(payload[start:], []byte{'\n'})
	if headerLines > maxHeaders {
		headerLines = maxHeaders
	}
	fields := make(probe.Fields, 0, 4+headerLines)
	txt := newTexter(payload)

	lineEnd, next := nextLine(payload, start)
	if lineEnd-start > maxLineLen {
		return nil, fmt.Errorf("http: request line too long at offset %d (%d bytes, limit %d)", start, lineEnd-start, maxLineLen)
	}
	method, url, version, err := splitRequestLine(payload, start, lineEnd)
	if err != nil {
		return nil, err
	}
	fields = append(fields,
		probe.Field{Name: FieldMethod, Value: txt.orNA(method)},
		probe.Field{Name: FieldURL, Value: txt.orNA(url)},
		probe.Field{Name: FieldVersion, Value: txt.orNA(version)},
	)

	bodyStart := len(payload)
	pos := next
	headers := 0
	for pos < len(payload) {
		lineEnd, next = nextLine(payload, pos)
		if lineEnd == pos {
			bodyStart = next
			break
		}
		if lineEnd-pos > maxLineLen {
			return nil, fmt.Errorf("http: header line too long at offset %d (%d bytes, limit %d)", pos, lineEnd-pos, maxLineLen)
		}
		line := payload[pos:lineEnd]
		if (line[0] == ' ' || line[0] == '\t') && headers > 0 {
			// Obsolete line folding (RFC 9112 §5.2): the line continues the
			// previous header's value.
			vs, ve := trimSpace(payload, pos, lineEnd)
			if vs < ve {
				last := &fields[len(fields)-1]
				last.Value += " " + txt.text(vs, ve)
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		ns, ne := -1, -1
		if colon > 0 {
			ns, ne = trimSpace(payload, pos, pos+colon)
		}
		if ns >= ne {
			// Not a header line (no colon, or no name before it). Like
			// Python's email parser, treat it as the start of the body so
			// the bytes are kept rather than dropped.
			bodyStart = pos
			break
		}
		if headers == maxHeaders {
			return nil, fmt.Errorf("http: more than %d header lines, at offset %d", maxHeaders, pos)
		}
		vs, ve := trimSpace(payload, pos+colon+1, lineEnd)
		name := txt.text(ns, ne)
		switch name {
		case FieldMethod, FieldURL, FieldVersion, FieldBody:
			name = ReservedHeaderPrefix + name
		}
		fields = append(fields, probe.Field{Name: name, Value: txt.text(vs, ve)})
		headers++
		pos = next
	}

	bodyEnd := len(payload)
	if bodyEnd-bodyStart > BodyCap {
		bodyEnd = bodyStart + BodyCap
		// Cut on a character boundary so a capped body stays valid text
		// (at most UTFMax-1 bytes back: binary bodies have no boundaries).
		for back := 0; back < utf8.UTFMax-1 && !utf8.RuneStart(payload[bodyEnd]); back++ {
			bodyEnd--
		}
	}
	body := ""
	if bodyStart < bodyEnd {
		body = txt.text(bodyStart, bodyEnd)
	}
	fields = append(fields, probe.Field{Name: FieldBody, Value: body})
	return fields, nil
}

// requestSpan is a byte range of the payload; start < 0 means absent.
type requestSpan struct{ start, end int }

var absent = requestSpan{-1, -1}

// splitRequestLine cuts "METHOD target VERSION" into its parts. The target
// may itself contain spaces (scanners do not always escape them), so the
// version is the last token, and only when it looks like one.
func splitRequestLine(b []byte, start, end int) (method, url, version requestSpan, err error) {
	method, url, version = absent, absent, absent
	i := start
	for i < end && !isSpace(b[i]) {
		if !isTokenChar(b[i]) {
			return method, url, version, fmt.Errorf("http: request method has non-token byte 0x%02x at offset %d", b[i], i)
		}
		i++
	}
	method = requestSpan{start, i}
	rs, re := trimSpace(b, i, end)
	if rs >= re {
		return method, url, version, nil
	}
	last := re - 1
	for last >= rs && !isSpace(b[last]) {
		last--
	}
	lastTok := requestSpan{last + 1, re}
	if !looksLikeVersion(b[lastTok.start:lastTok.end]) {
		return method, requestSpan{rs, re}, version, nil
	}
	version = lastTok
	if last < rs {
		// "GET HTTP/1.0": a version but no target.
		return method, url, version, nil
	}
	us, ue := trimSpace(b, rs, last)
	if us < ue {
		url = requestSpan{us, ue}
	}
	return method, url, version, nil
}

// looksLikeVersion accepts PROTO/digits[.digits...]: HTTP/1.1, RTSP/1.0,
// SIP/2.0, HTTP/2, HTTP/1.1.1 (a scanner typo is still a version).
func looksLikeVersion(tok []byte) bool {
	slash := bytes.IndexByte(tok, '/')
	if slash <= 0 || slash == len(tok)-1 {
		return false
	}
	for _, c := range tok[:slash] {
		if !isAlpha(c) {
			return false
		}
	}
	if !isDigit(tok[slash+1]) {
		return false
	}
	for _, c := range tok[slash+1:] {
		if !isDigit(c) && c != '.' {
			return false
		}
	}
	return true
}

// strictVersion reports whether tok is PROTO/d.d, the form Detect trusts.
func strictVersion(tok []byte) bool {
	n := len(tok)
	if n < 5 || tok[n-4] != '/' || !isDigit(tok[n-3]) || tok[n-2] != '.' || !isDigit(tok[n-1]) {
		return false
	}
	for _, c := range tok[:n-4] {
		if !isAlpha(c) {
			return false
		}
	}
	return true
}

// knownMethods are request methods of HTTP, WebDAV and RTSP that scanners
// send; a known method followed by a space is enough to claim the payload
// even without a version. SIP-only methods are left to a SIP service.
var knownMethods = []string{
	"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "CONNECT", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
	"DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "ANNOUNCE", "RECORD",
	"GET_PARAMETER", "SET_PARAMETER", "PRI", "M-SEARCH",
}

// detectRequestLine scores the first line of payload.
func detectRequestLine(payload []byte) probe.Confidence {
	start := skipLineEnds(payload, 0)
	end := len(payload)
	if nl := bytes.IndexByte(payload[start:], '\n'); nl >= 0 {
		end = start + nl
		if end > start && payload[end-1] == '\r' {
			end--
		}
	}
	line := payload[start:end]
	m := 0
	for m < len(line) && isTokenChar(line[m]) {
		m++
	}
	if m == 0 || m >= len(line) || line[m] != ' ' {
		return probe.NotMine
	}
	// <TOKEN> <target> <PROTO>/<d>.<d>
	if sp := bytes.LastIndexByte(line, ' '); sp > m+1 {
		version := line[sp+1:]
		if strictVersion(version) && printableNoSpace(line[m+1:sp]) {
			if hasPrefixFold(version, "HTTP/") || hasPrefixFold(version, "RTSP/") {
				return probe.Certain
			}
			return probe.ByContent
		}
	}
	for _, km := range knownMethods {
		if len(km) == m && hasPrefixFold(line, km) {
			return probe.ByContent
		}
	}
	return probe.NotMine
}

// requestComplete reports whether payload holds a whole request: the header
// block closed by an empty line and, when Content-Length is sane, the body.
func requestComplete(payload []byte) bool {
	if len(payload) >= probe.MaxPayload {
		return true
	}
	start := skipLineEnds(payload, 0)
	if start == len(payload) {
		// Bare line ends: nmap's GenericLines sends exactly "\r\n\r\n".
		return bytes.Count(payload, []byte{'\n'}) >= 2
	}
	headerEnd := -1
	contentLength := -1
	pos := start
	first := true
	for pos < len(payload) {
		nl := bytes.IndexByte(payload[pos:], '\n')
		if nl < 0 {
			return false
		}
		lineEnd, next := pos+nl, pos+nl+1
		if lineEnd > pos && payload[lineEnd-1] == '\r' {
			lineEnd--
		}
		if lineEnd == pos {
			headerEnd = next
			break
		}
		if !first {
			if n, ok := contentLengthOf(payload[pos:lineEnd]); ok {
				contentLength = n
			}
		}
		first = false
		pos = next
	}
	if headerEnd < 0 {
		return false
	}
	if contentLength <= 0 {
		return true
	}
	want := headerEnd + contentLength
	if want > probe.MaxPayload {
		want = probe.MaxPayload
	}
	return len(payload) >= want
}

// contentLengthOf returns the value of a Content-Length header line when it
// is a plain non-negative decimal; anything else is not "sane" and ignored.
func contentLengthOf(line []byte) (int, bool) {
	const name = "content-length"
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return 0, false
	}
	ns, ne := trimSpace(line, 0, colon)
	if ne-ns != len(name) || !hasPrefixFold(line[ns:ne], name) {
		return 0, false
	}
	vs, ve := trimSpace(line, colon+1, len(line))
	if vs >= ve || ve-vs > 10 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[vs:ve]))
	if err != nil || n < 0 || line[vs] == '+' || line[vs] == '-' {
		return 0, false
	}
	return n, true
}

// texter turns payload ranges into field values. When the payload is valid
// UTF-8 (nearly always) it converts it once and hands out substrings, so a
// parse costs two allocations whatever the number of headers.
type texter struct {
	b     []byte
	s     string
	valid bool
}

func newTexter(b []byte) texter {
	if utf8.Valid(b) {
		return texter{b: b, s: string(b), valid: true}
	}
	return texter{b: b}
}

func (t texter) text(start, end int) string {
	if t.valid {
		return t.s[start:end]
	}
	return escapeInvalid(t.b[start:end])
}

func (t texter) orNA(s requestSpan) string {
	if s.start < 0 || s.start >= s.end {
		return probe.NotAvailable
	}
	return t.text(s.start, s.end)
}

// escapeInvalid keeps valid UTF-8 as is and writes every byte of an invalid
// sequence as \xNN, so the value is valid text that JSON round-trips.
func escapeInvalid(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, '\\', 'x', hexDigits[b[i]>>4], hexDigits[b[i]&0xf])
			i++
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return string(out)
}

// nextLine returns the end of the line starting at pos (without its CR LF or
// LF) and the offset of the following line.
func nextLine(b []byte, pos int) (lineEnd, next int) {
	nl := bytes.IndexByte(b[pos:], '\n')
	if nl < 0 {
		lineEnd, next = len(b), len(b)
	} else {
		lineEnd, next = pos+nl, pos+nl+1
	}
	if lineEnd > pos && b[lineEnd-1] == '\r' {
		lineEnd--
	}
	return lineEnd, next
}

func skipLineEnds(b []byte, pos int) int {
	for pos < len(b) && (b[pos] == '\r' || b[pos] == '\n') {
		pos++
	}
	return pos
}

func onlyLineEnds(b []byte) bool { return skipLineEnds(b, 0) == len(b) }

// trimSpace narrows [start,end) past spaces and tabs on both sides.
func trimSpace(b []byte, start, end int) (int, int) {
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return start, end
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isTokenChar reports RFC 9110 tchar, the alphabet of a method name.
func isTokenChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func printableNoSpace(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with the ASCII string p, ignoring
// case.
func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c, d := b[i], p[i]
		if c == d {
			continue
		}
		if !isAlpha(c) || c|0x20 != d|0x20 {
			return false
		}
	}
	return true
}
