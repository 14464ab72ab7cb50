package tls

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SSLv2-compatible CLIENT-HELLO (RFC 6101 appendix E, RFC 5246 appendix E.2):
// still sent by TLS scanners that probe for SSLv2 support. Layout after the
// two-byte record header (high bit set, 15-bit length):
//
//	msg_type(1)=1 version(2) cipher_spec_length(2) session_id_length(2)
//	challenge_length(2) cipher_specs(3 each) session_id challenge
const (
	sslv2HeaderLen = 2
	// sslv2FixedLen is the record header plus the fixed part of the hello.
	sslv2FixedLen = sslv2HeaderLen + 9
	// VersionSSLv2 is the record "version" reported for SSLv2 framing, the
	// code point JA4 and Wireshark use for SSL 2.0.
	VersionSSLv2 uint16 = 0x0002
)

// ErrNoFingerprint is returned by Fingerprint for SSLv2 hellos: JA3 and JA4
// are defined over TLS records, and inventing a variant would give analysts
// values no other tool reproduces.
var ErrNoFingerprint = errors.New("tls: JA3/JA4 are not defined for SSLv2 hellos")

// sslv2Names are the SSLv2-only cipher kinds; 3-byte specs whose first byte
// is zero are TLS cipher suites and use the TLS names.
var sslv2Names = map[uint32]string{
	0x010080: "SSL_CK_RC4_128_WITH_MD5",
	0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
	0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
	0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
	0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
	0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
	0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
}

// CipherSpecName names a 3-byte SSLv2 cipher spec.
func CipherSpecName(spec uint32) string {
	if spec>>16 == 0 {
		return CipherSuiteName(uint16(spec))
	}
	if n, ok := sslv2Names[spec]; ok {
		return n
	}
	return fmt.Sprintf("0x%06x", spec)
}

// sslv2Hello checks the fixed part of an SSLv2-compatible hello and returns
// the record's message length. Every length must agree with the others, so
// eleven bytes of an unrelated protocol match only by rare accident.
func sslv2Hello(b []byte) (msgLen int, ok bool) {
	if len(b) < sslv2FixedLen || !sslv2Prefix(b) {
		return 0, false
	}
	msgLen = int(b[0]&0x7f)<<8 | int(b[1])
	specs := int(binary.BigEndian.Uint16(b[5:7]))
	sid := int(binary.BigEndian.Uint16(b[7:9]))
	challenge := int(binary.BigEndian.Uint16(b[9:11]))
	switch {
	case sid != 0 && sid != 16:
		return 0, false
	case challenge < 16 || challenge > 32:
		return 0, false
	case msgLen != 9+specs+sid+challenge:
		return 0, false
	}
	return msgLen, true
}

// sslv2PrefixLen is the shortest start of an SSLv2 hello worth a guess: it
// holds the length, type, version and cipher-spec length. Real scanners do
// send these seven bytes in a segment of their own (sslscan does).
const sslv2PrefixLen = 7

// sslv2Prefix reports whether b starts like an SSLv2-compatible hello, as
// far as its first seven bytes can tell.
func sslv2Prefix(b []byte) bool {
	if len(b) < sslv2PrefixLen || b[0]&0x80 == 0 || b[2] != handshakeTypeClientHello {
		return false
	}
	msgLen := int(b[0]&0x7f)<<8 | int(b[1])
	version := binary.BigEndian.Uint16(b[3:5])
	specs := int(binary.BigEndian.Uint16(b[5:7]))
	switch {
	case version != VersionSSLv2 && (version>>8 != 3 || version&0xff > 4):
		return false
	case specs == 0 || specs%3 != 0:
		return false
	case msgLen < 9+specs+16 || msgLen > 9+specs+16+32:
		return false
	}
	return true
}

func parseSSLv2Hello(b []byte, msgLen int) (*ClientHello, error) {
	end := sslv2HeaderLen + msgLen
	if len(b) < end {
		// Name the part the payload ended in, as the TLS path does.
		specs := int(binary.BigEndian.Uint16(b[5:7]))
		sid := int(binary.BigEndian.Uint16(b[7:9]))
		what, at := "challenge", sslv2FixedLen+specs+sid
		switch {
		case len(b) < sslv2FixedLen+specs:
			what, at = "cipher specs", sslv2FixedLen
		case len(b) < sslv2FixedLen+specs+sid:
			what, at = "session id", sslv2FixedLen+specs
		}
		return nil, &ParseError{Offset: at, Msg: "truncated SSLv2 " + what, Cause: ErrTruncated}
	}
	specLen := int(binary.BigEndian.Uint16(b[5:7]))
	sidLen := int(binary.BigEndian.Uint16(b[7:9]))
	ch := &ClientHello{
		SSLv2:         true,
		RecordVersion: VersionSSLv2,
		Version:       binary.BigEndian.Uint16(b[3:5]),
		CipherSpecs:   make([]uint32, 0, specLen/3),
		Length:        end,
	}
	specs := b[sslv2FixedLen : sslv2FixedLen+specLen]
	for i := 0; i+3 <= len(specs); i += 3 {
		ch.CipherSpecs = append(ch.CipherSpecs, uint32(specs[i])<<16|uint32(specs[i+1])<<8|uint32(specs[i+2]))
	}
	ch.SessionID = b[sslv2FixedLen+specLen : sslv2FixedLen+specLen+sidLen]
	ch.Random = b[sslv2FixedLen+specLen+sidLen : end]
	return ch, nil
}
