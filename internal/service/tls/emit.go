package tls

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/cryptobyte"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// This file is what the simulator needs to send TLS first probes: a
// ClientHello builder for a list-content "stack", its JA3, and the
// honeypot's answer.

// TLS extension types the builder fills with a real body; any other type is
// sent empty, which is what the JA3 fingerprint and most parsers care about.
const (
	extServerName        = 0
	extMaxFragment       = 1
	extTrustedCAKeys     = 4
	extStatusRequest     = 5
	extSupportedGroups   = 10
	extPointFormats      = 11
	extSignatureAlgs     = 13
	extHeartbeat         = 15
	extALPN              = 16
	extStatusRequestV2   = 17
	extPadding           = 21
	extTokenBinding      = 24
	extCompressCert      = 27
	extRecordSizeLimit   = 28
	extDelegatedCreds    = 34
	extKeyShareDraft     = 40
	extPreSharedKey      = 41
	extSupportedVersions = 43
	extPSKModes          = 45
	extSigAlgsCert       = 50
	extKeyShare          = 51
	extALPS              = 0x4469
	extRenegotiationInfo = 0xff01
)

// Stack is the list content of one ClientHello family (a tool or an
// org's scanner). Every hello built from it differs only in the random,
// the session id and the key share, as real hellos of one client do.
type Stack struct {
	Name          string
	RecordVersion uint16
	ClientVersion uint16
	SessionIDLen  int
	Ciphers       []uint16
	Compression   []uint8
	Extensions    []uint16
	Groups        []uint16
	PointFormats  []uint8
	SigAlgs       []uint16
	Versions      []uint16
	ALPN          []string
	// FixedRandom is set for tools that replay a template (masscan).
	FixedRandom []byte
	// CorpusJA3MD5 is the JA3 the real tool produced, for tests.
	CorpusJA3MD5 string
}

// Clone returns a deep copy of s.
func (s *Stack) Clone() *Stack {
	c := *s
	c.Ciphers = slices.Clone(s.Ciphers)
	c.Compression = slices.Clone(s.Compression)
	c.Extensions = slices.Clone(s.Extensions)
	c.Groups = slices.Clone(s.Groups)
	c.PointFormats = slices.Clone(s.PointFormats)
	c.SigAlgs = slices.Clone(s.SigAlgs)
	c.Versions = slices.Clone(s.Versions)
	c.ALPN = slices.Clone(s.ALPN)
	c.FixedRandom = slices.Clone(s.FixedRandom)
	return &c
}

// isGREASE reports RFC 8701 reserved values (0x?a?a), which JA3 ignores.
func isGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// JA3 returns the JA3 string and its MD5 for hellos of this stack.
func (s *Stack) JA3() (string, string) {
	join := func(vals []uint16) string {
		parts := make([]string, 0, len(vals))
		for _, v := range vals {
			if !isGREASE(v) {
				parts = append(parts, strconv.Itoa(int(v)))
			}
		}
		return strings.Join(parts, "-")
	}
	pf := make([]uint16, 0, len(s.PointFormats))
	for _, p := range s.PointFormats {
		pf = append(pf, uint16(p))
	}
	groups := s.Groups
	if !slices.Contains(s.Extensions, extSupportedGroups) {
		groups = nil
	}
	if !slices.Contains(s.Extensions, extPointFormats) {
		pf = nil
	}
	str := strconv.Itoa(int(s.ClientVersion)) + "," + join(s.Ciphers) + "," + join(s.Extensions) + "," + join(groups) + "," + join(pf)
	sum := md5.Sum([]byte(str))
	return str, hex.EncodeToString(sum[:])
}

// ClientHello builds one complete TLS record holding a ClientHello of this
// stack, with a fresh random, session id and key share from rng.
func (s *Stack) ClientHello(rng *rand.Rand, sni string) []byte {
	random := make([]byte, 32)
	if s.FixedRandom != nil {
		copy(random, s.FixedRandom)
	} else {
		fillRandom(rng, random)
	}
	sessionID := make([]byte, s.SessionIDLen)
	fillRandom(rng, sessionID)
	keyShare := s.keyShare(rng)
	hello := s.handshake(random, sessionID, keyShare, sni, 0)
	if slices.Contains(s.Extensions, extPadding) {
		// Pad the way OpenSSL and BoringSSL do: hellos of 256..511 bytes are
		// grown to 512 so that broken middleboxes do not see them.
		if n := len(hello); n >= 256 && n < 512 {
			hello = s.handshake(random, sessionID, keyShare, sni, 512-n)
		}
	}
	var rec cryptobyte.Builder
	rec.AddUint8(22)
	rec.AddUint16(s.RecordVersion)
	rec.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(hello) })
	return rec.BytesOrPanic()
}

type keyShareEntry struct {
	group uint16
	key   []byte
}

func (s *Stack) keyShare(rng *rand.Rand) keyShareEntry {
	group := uint16(29)
	for _, g := range s.Groups {
		if !isGREASE(g) {
			group = g
			break
		}
	}
	size := 32
	switch group {
	case 23:
		size = 65
	case 24:
		size = 97
	case 25:
		size = 133
	case 30:
		size = 56
	}
	key := make([]byte, size)
	fillRandom(rng, key)
	if group >= 23 && group <= 25 {
		key[0] = 4 // uncompressed point
	}
	return keyShareEntry{group, key}
}

func (s *Stack) handshake(random, sessionID []byte, ks keyShareEntry, sni string, padding int) []byte {
	var b cryptobyte.Builder
	b.AddUint8(1) // client_hello
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(s.ClientVersion)
		b.AddBytes(random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range s.Ciphers {
				b.AddUint16(c)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Compression) })
		if len(s.Extensions) == 0 {
			return // SSLv3-style hello: no extensions block at all
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, ext := range s.Extensions {
				b.AddUint16(ext)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					s.extensionBody(b, ext, ks, sni, padding)
				})
			}
		})
	})
	return b.BytesOrPanic()
}

func (s *Stack) extensionBody(b *cryptobyte.Builder, ext uint16, ks keyShareEntry, sni string, padding int) {
	u16s := func(vals []uint16) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vals {
				b.AddUint16(v)
			}
		})
	}
	switch ext {
	case extServerName:
		if sni == "" {
			sni = "localhost"
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(0) // host_name
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(sni)) })
		})
	case extMaxFragment:
		b.AddUint8(4)
	case extStatusRequest:
		b.AddUint8(1) // ocsp
		b.AddUint16(0)
		b.AddUint16(0)
	case extSupportedGroups:
		u16s(s.Groups)
	case extPointFormats:
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.PointFormats) })
	case extSignatureAlgs, extSigAlgsCert, extDelegatedCreds:
		u16s(s.SigAlgs)
	case extHeartbeat:
		b.AddUint8(1)
	case extALPN:
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range s.ALPN {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
			}
		})
	case extPadding:
		b.AddBytes(make([]byte, padding))
	case extCompressCert:
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(2) }) // brotli
	case extRecordSizeLimit:
		b.AddUint16(0x4001)
	case extSupportedVersions:
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range s.Versions {
				b.AddUint16(v)
			}
		})
	case extPSKModes:
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(1) }) // psk_dhe_ke
	case extTrustedCAKeys:
		b.AddUint16(0) // no trusted authorities listed
	case extStatusRequestV2:
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(2) // ocsp_multi
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(0) // responder ids
				b.AddUint16(0) // request extensions
			})
		})
	case extTokenBinding:
		b.AddUint16(0x0010)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(2) }) // ecdsap256
	case extALPS:
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("h2")) })
		})
	case extKeyShare, extKeyShareDraft:
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(ks.group)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.key) })
		})
	case extRenegotiationInfo:
		b.AddUint8(0)
	case extPreSharedKey:
		// One resumption identity and its binder (testssl sends these); the
		// bytes are derived from the key share so they vary per hello.
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.key[:min(len(ks.key), 32)]) })
			b.AddUint32(uint32(ks.key[0])<<24 | uint32(ks.key[1]))
		})
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
		})
	default:
		if isGREASE(ext) {
			b.AddUint8(0)
		}
	}
}

// DropEmptyExtensions removes the extensions whose lists are empty: no
// supported_versions, key_share or psk_key_exchange_modes without versions,
// no ALPN without protocols, no supported_groups without groups. A stack
// derived from another by replacing lists stays consistent through it.
func (s *Stack) DropEmptyExtensions() {
	drop := func(ext uint16) {
		s.Extensions = slices.DeleteFunc(s.Extensions, func(e uint16) bool { return e == ext })
	}
	if len(s.Versions) == 0 {
		drop(extSupportedVersions)
		drop(extKeyShare)
		drop(extPSKModes)
	}
	if len(s.ALPN) == 0 {
		drop(extALPN)
	}
	if len(s.Groups) == 0 {
		drop(extSupportedGroups)
	}
}

func fillRandom(rng *rand.Rand, p []byte) {
	for i := 0; i < len(p); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
}

// AlertHandshakeFailure is the honeypot's answer to every ClientHello: a
// fatal handshake_failure alert, which real TLS servers send when no cipher
// suite is acceptable.
var AlertHandshakeFailure = []byte{21, 3, 3, 0, 2, 2, 40}

// Transport is TCP.
func (service) Transport() probe.Transport { return probe.TCP }

// DefaultPort is 443.
func (service) DefaultPort() uint16 { return 443 }
