package tls

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

const (
	recordTypeHandshake      = 0x16
	handshakeTypeClientHello = 1
	recordHeaderLen          = 5
	handshakeHeaderLen       = 4
	randomLen                = 32
)

// Extension type numbers this package looks inside.
const (
	ExtServerName          uint16 = 0
	ExtSupportedGroups     uint16 = 10
	ExtECPointFormats      uint16 = 11
	ExtSignatureAlgorithms uint16 = 13
	ExtALPN                uint16 = 16
	ExtSupportedVersions   uint16 = 43
)

// ErrTruncated is wrapped by every error caused by the payload ending early,
// so a caller can tell "wait for more bytes" from "this is malformed".
var ErrTruncated = errors.New("truncated")

// ErrNotClientHello is wrapped when the bytes are TLS-framed but do not carry
// a ClientHello (another record or handshake type, an unknown version).
var ErrNotClientHello = errors.New("not a ClientHello")

// ParseError says what was wrong and where: Offset counts bytes from the
// start of the payload, across record headers, so an analyst can find the
// byte in a hex dump of the capture.
type ParseError struct {
	Offset int
	Msg    string
	// Cause is ErrTruncated, ErrNotClientHello, or nil for malformed data.
	Cause error
}

func (e *ParseError) Error() string { return fmt.Sprintf("tls: %s at offset %d", e.Msg, e.Offset) }

func (e *ParseError) Unwrap() error { return e.Cause }

// Extension is one ClientHello extension as sent.
type Extension struct {
	Type uint16
	Data []byte
}

// ClientHello is a parsed TLS ClientHello. Slices alias the parsed payload
// when the hello sits in one record; callers that keep a ClientHello beyond
// the payload's lifetime must not modify the payload.
type ClientHello struct {
	// SSLv2 marks an SSLv2-compatible hello: CipherSpecs holds its 3-byte
	// cipher specs, Random its challenge (16 to 32 bytes), and there are no
	// compression methods or extensions.
	SSLv2       bool
	CipherSpecs []uint32
	// RecordVersion is the version of the first record header (VersionSSLv2
	// for SSLv2 framing).
	RecordVersion uint16
	// Version is the legacy_version of the hello (0x0303 for TLS 1.3 too).
	Version            uint16
	Random             []byte
	SessionID          []byte
	CipherSuites       []uint16
	CompressionMethods []uint8
	// HasExtensionBlock is false for hellos that end after the compression
	// methods (SSLv3 and some old TLS 1.0 clients); true even for an empty
	// block, because sending zero-length extensions is itself a trait.
	HasExtensionBlock bool
	Extensions        []Extension
	// Values of the first occurrence of the extensions below; check
	// HasExtension to tell an absent extension from an empty one.
	ServerName          string
	ALPN                []string
	SupportedGroups     []uint16
	ECPointFormats      []uint8
	SignatureAlgorithms []uint16
	SupportedVersions   []uint16
	// Length is how many payload bytes the records holding the hello took
	// (record headers included, a truncated final record counted as sent).
	Length int
}

// HasExtension reports whether the hello carries an extension of this type.
func (ch *ClientHello) HasExtension(typ uint16) bool {
	for _, e := range ch.Extensions {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// recordWalker hands out the fragments of consecutive handshake records.
type recordWalker struct {
	b   []byte
	off int
	// recordVersion of the first record.
	recordVersion uint16
}

// next returns the next fragment and the payload offset of its first byte.
// A final record cut short by the end of the payload yields what is there.
func (w *recordWalker) next() (frag []byte, fragOff int, err error) {
	if w.off >= len(w.b) {
		return nil, w.off, &ParseError{Offset: w.off, Msg: "truncated handshake message", Cause: ErrTruncated}
	}
	if len(w.b)-w.off < recordHeaderLen {
		return nil, w.off, &ParseError{Offset: w.off, Msg: "truncated record header", Cause: ErrTruncated}
	}
	h := w.b[w.off:]
	if h[0] != recordTypeHandshake {
		return nil, w.off, &ParseError{Offset: w.off, Msg: fmt.Sprintf("record type 0x%02x is not handshake", h[0]), Cause: ErrNotClientHello}
	}
	version := uint16(h[1])<<8 | uint16(h[2])
	if h[1] != 3 || h[2] > 4 {
		return nil, w.off + 1, &ParseError{Offset: w.off + 1, Msg: fmt.Sprintf("record version %s is not SSLv3/TLS", hex4(version)), Cause: ErrNotClientHello}
	}
	if w.off == 0 {
		w.recordVersion = version
	}
	n := int(h[3])<<8 | int(h[4])
	if n == 0 {
		// RFC 8446 §5.1 forbids empty handshake fragments; accepting them
		// would let a record stream stall without ever making progress.
		return nil, w.off + 3, &ParseError{Offset: w.off + 3, Msg: "empty handshake record"}
	}
	start := w.off + recordHeaderLen
	end := min(start+n, len(w.b))
	w.off = end
	return w.b[start:end], start, nil
}

// fragment maps a handshake-message offset back to a payload offset.
type fragment struct{ msgOff, payloadOff int }

// reassembly is the first handshake message, gathered across records.
type reassembly struct {
	msg   []byte
	frags []fragment
	// consumed is the payload length the records holding the message took.
	consumed      int
	recordVersion uint16
}

func (r *reassembly) payloadOffset(msgOff int) int {
	p := 0
	for _, f := range r.frags {
		if f.msgOff > msgOff {
			break
		}
		p = f.payloadOff + (msgOff - f.msgOff)
	}
	return p
}

// reassemble collects the first handshake message. In the usual case of one
// record it returns a sub-slice of b; otherwise it copies, never more than
// len(b) bytes because the declared length is checked against what is there.
// When the payload ends early it returns the error together with the part of
// the message that did arrive, so the caller can say which field was cut.
// With keep false it only measures (for Complete, called once per segment)
// and copies nothing.
func reassemble(b []byte, keep bool) (*reassembly, error) {
	w := recordWalker{b: b}
	r := &reassembly{}
	var hdr [handshakeHeaderLen]byte
	have, need := 0, -1
	for need < 0 || have < need {
		frag, fragOff, err := w.next()
		if err != nil {
			r.recordVersion = w.recordVersion
			return r, err
		}
		if have == 0 && len(frag) > 0 && frag[0] != handshakeTypeClientHello {
			return nil, &ParseError{Offset: fragOff, Msg: fmt.Sprintf("handshake type %d is not ClientHello", frag[0]), Cause: ErrNotClientHello}
		}
		r.frags = append(r.frags, fragment{msgOff: have, payloadOff: fragOff})
		for i := 0; have+i < handshakeHeaderLen && i < len(frag); i++ {
			hdr[have+i] = frag[i]
		}
		if need < 0 && have+len(frag) >= handshakeHeaderLen {
			need = handshakeHeaderLen + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
			if have == 0 && len(frag) >= need {
				r.msg = frag[:need]
				r.consumed = w.off
				r.recordVersion = w.recordVersion
				return r, nil
			}
			if keep {
				// Every message byte needs a payload byte, so the copy is
				// bounded by what is left of b, not by the declared length.
				r.msg = append(make([]byte, 0, have+min(need-have, len(b)-fragOff)), r.msg...)
			}
		}
		take := len(frag)
		if need >= 0 {
			take = min(take, need-have)
		}
		if keep {
			r.msg = append(r.msg, frag[:take]...)
		}
		have += take
	}
	r.consumed = w.off
	r.recordVersion = w.recordVersion
	return r, nil
}

// ParseClientHello parses a TLS ClientHello from a payload that starts with
// a TLS record (the hello may span several handshake records) or with an
// SSLv2-compatible CLIENT-HELLO. Bytes after the hello are ignored. It never
// panics and allocates in proportion to len(b).
// Errors are *ParseError values; errors.Is(err, ErrTruncated) means more
// bytes could still complete the hello.
func ParseClientHello(b []byte) (*ClientHello, error) {
	if msgLen, ok := sslv2Hello(b); ok {
		return parseSSLv2Hello(b, msgLen)
	}
	if len(b) < sslv2FixedLen && sslv2Prefix(b) {
		return nil, &ParseError{Offset: 0, Msg: "truncated SSLv2 hello header", Cause: ErrTruncated}
	}
	r, err := reassemble(b, true)
	if err != nil {
		if r != nil && errors.Is(err, ErrTruncated) && len(r.msg) >= handshakeHeaderLen {
			// Name the field the payload ended in rather than just "truncated".
			p := helloParser{r: r, whole: cryptobyte.String(r.msg), partial: true}
			if _, perr := p.parse(); perr != nil {
				return nil, perr
			}
		}
		return nil, err
	}
	p := helloParser{r: r, whole: cryptobyte.String(r.msg)}
	ch, err := p.parse()
	if err != nil {
		return nil, err
	}
	ch.RecordVersion = r.recordVersion
	ch.Length = r.consumed
	return ch, nil
}

type helloParser struct {
	r     *reassembly
	whole cryptobyte.String
	// partial is set when the payload ended inside the message: running out
	// of bytes is then a truncation, while in a whole message it means a
	// length field overruns the message, which more bytes cannot fix.
	partial bool
}

// at returns the payload offset of the first byte of s, which must be a
// sub-slice of the message: sub-slices share the backing array, so the cap
// difference is the distance from the message start.
func (p *helloParser) at(s cryptobyte.String) int {
	return p.r.payloadOffset(cap(p.whole) - cap(s))
}

func (p *helloParser) truncated(s cryptobyte.String, what string) error {
	e := &ParseError{Offset: p.at(s), Msg: "truncated " + what}
	if p.partial {
		e.Cause = ErrTruncated
	}
	return e
}

func (p *helloParser) malformed(s cryptobyte.String, format string, args ...any) error {
	return &ParseError{Offset: p.at(s), Msg: fmt.Sprintf(format, args...)}
}

func (p *helloParser) parse() (*ClientHello, error) {
	s := p.whole[handshakeHeaderLen:]
	ch := &ClientHello{}
	// at marks where the field being read starts: a failed cryptobyte read
	// may already have consumed its length prefix.
	var at cryptobyte.String
	at = s
	if !s.ReadUint16(&ch.Version) {
		return nil, p.truncated(at, "client version")
	}
	at = s
	if !s.ReadBytes(&ch.Random, randomLen) {
		return nil, p.truncated(at, "random")
	}
	var sid cryptobyte.String
	at = s
	if !s.ReadUint8LengthPrefixed(&sid) {
		return nil, p.truncated(at, "session id")
	}
	ch.SessionID = sid
	var suites cryptobyte.String
	at = s
	if !s.ReadUint16LengthPrefixed(&suites) {
		return nil, p.truncated(at, "cipher suites")
	}
	if len(suites)%2 != 0 {
		return nil, p.malformed(suites, "odd cipher suites length %d", len(suites))
	}
	ch.CipherSuites = readUint16s(suites)
	var comp cryptobyte.String
	at = s
	if !s.ReadUint8LengthPrefixed(&comp) {
		return nil, p.truncated(at, "compression methods")
	}
	ch.CompressionMethods = comp
	if s.Empty() {
		return ch, nil
	}
	ch.HasExtensionBlock = true
	var exts cryptobyte.String
	at = s
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, p.truncated(at, "extensions")
	}
	if !s.Empty() {
		return nil, p.malformed(s, "%d trailing bytes after extensions", len(s))
	}
	ch.Extensions = make([]Extension, 0, countExtensions(exts))
	var seen uint8
	for !exts.Empty() {
		start := exts
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, p.truncated(start, "extension")
		}
		ch.Extensions = append(ch.Extensions, Extension{Type: typ, Data: data})
		// Only the first copy of a repeated extension feeds the fields, as
		// in a server that stops at the first match.
		if bit := decodedBit(typ); bit != 0 && seen&bit == 0 {
			seen |= bit
			if err := p.parseExtension(ch, typ, data); err != nil {
				return nil, err
			}
		}
	}
	return ch, nil
}

// countExtensions walks the extension headers so the slice is allocated
// once at its exact size; a malformed tail ends the count and is reported
// by the real pass.
func countExtensions(exts cryptobyte.String) int {
	n := 0
	var typ uint16
	var data cryptobyte.String
	for exts.ReadUint16(&typ) && exts.ReadUint16LengthPrefixed(&data) {
		n++
	}
	return n
}

// decodedBit gives each extension that parseExtension decodes its own bit.
func decodedBit(typ uint16) uint8 {
	switch typ {
	case ExtServerName:
		return 1
	case ExtSupportedGroups:
		return 2
	case ExtECPointFormats:
		return 4
	case ExtSignatureAlgorithms:
		return 8
	case ExtALPN:
		return 16
	case ExtSupportedVersions:
		return 32
	}
	return 0
}

func readUint16s(s cryptobyte.String) []uint16 {
	out := make([]uint16, 0, len(s)/2)
	var v uint16
	for s.ReadUint16(&v) {
		out = append(out, v)
	}
	return out
}

// parseExtension decodes the contents of the extensions that feed fields.
// Their inner lengths must agree with the extension length: a hello whose
// extension lies about its own size is malformed, not merely odd.
func (p *helloParser) parseExtension(ch *ClientHello, typ uint16, data cryptobyte.String) error {
	start := data
	switch typ {
	case ExtServerName:
		if data.Empty() {
			return nil // servers echo it empty; a client sending it so is still "present"
		}
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return p.malformed(start, "bad server_name extension")
		}
		for !list.Empty() {
			entry := list
			var nameType uint8
			var name cryptobyte.String
			if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) {
				return p.malformed(entry, "bad server_name entry")
			}
			if nameType == 0 && ch.ServerName == "" {
				ch.ServerName = string(name)
			}
		}
	case ExtALPN:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
			return p.malformed(start, "bad ALPN extension")
		}
		ch.ALPN = make([]string, 0, min(len(list), 8))
		for !list.Empty() {
			entry := list
			var proto cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&proto) {
				return p.malformed(entry, "bad ALPN protocol name")
			}
			ch.ALPN = append(ch.ALPN, string(proto))
		}
	case ExtSupportedGroups, ExtSignatureAlgorithms:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || len(list)%2 != 0 {
			return p.malformed(start, "bad %s extension", extName(typ))
		}
		if typ == ExtSupportedGroups {
			ch.SupportedGroups = readUint16s(list)
		} else {
			ch.SignatureAlgorithms = readUint16s(list)
		}
	case ExtECPointFormats:
		var list cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() {
			return p.malformed(start, "bad ec_point_formats extension")
		}
		ch.ECPointFormats = list
	case ExtSupportedVersions:
		var list cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() || len(list)%2 != 0 {
			return p.malformed(start, "bad supported_versions extension")
		}
		ch.SupportedVersions = readUint16s(list)
	}
	return nil
}

func extName(typ uint16) string {
	if typ == ExtSupportedGroups {
		return "supported_groups"
	}
	return "signature_algorithms"
}
