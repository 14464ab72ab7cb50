package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// JA3 returns the Salesforce JA3 string:
// SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats
// with decimal values joined by '-' and GREASE values left out. It is empty
// for an SSLv2 hello.
func (ch *ClientHello) JA3() string {
	if ch.SSLv2 {
		return ""
	}
	var b strings.Builder
	b.Grow(64 + 6*(len(ch.CipherSuites)+len(ch.Extensions)+len(ch.SupportedGroups)) + 4*len(ch.ECPointFormats))
	b.WriteString(strconv.Itoa(int(ch.Version)))
	b.WriteByte(',')
	writeDashed(&b, ch.CipherSuites)
	b.WriteByte(',')
	sep := false
	for _, e := range ch.Extensions {
		if IsGREASE(e.Type) {
			continue
		}
		if sep {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(e.Type)))
		sep = true
	}
	b.WriteByte(',')
	writeDashed(&b, ch.SupportedGroups)
	b.WriteByte(',')
	for i, f := range ch.ECPointFormats {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(f)))
	}
	return b.String()
}

func writeDashed(b *strings.Builder, vs []uint16) {
	sep := false
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if sep {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(v)))
		sep = true
	}
}

// JA3MD5 returns the lower-case hex MD5 of the JA3 string, the form JA3
// fingerprints are published in.
func JA3MD5(ja3 string) string {
	sum := md5.Sum([]byte(ja3))
	return hex.EncodeToString(sum[:])
}

// ja4Versions maps wire versions to the two characters of JA4's version part.
var ja4Versions = map[uint16]string{
	0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
	0x0002: "s2", 0xfeff: "d1", 0xfefd: "d2", 0xfefc: "d3",
}

// ja4Version is the highest non-GREASE supported_versions entry, or the
// hello's legacy version when that extension is absent (or holds only
// GREASE). "Highest" is numeric, so a draft code point such as 0x7f1c wins
// over 0x0304 and maps to "00", as the reference implementations do.
func (ch *ClientHello) ja4Version() uint16 {
	best, found := uint16(0), false
	for _, v := range ch.SupportedVersions {
		if !IsGREASE(v) && (!found || v > best) {
			best, found = v, true
		}
	}
	if !found {
		return ch.Version
	}
	return best
}

// JA4 returns the FoxIO JA4 fingerprint of a hello sent over TCP; empty for
// an SSLv2 hello.
func (ch *ClientHello) JA4() string {
	if ch.SSLv2 {
		return ""
	}
	var a strings.Builder
	a.Grow(36)
	a.WriteByte('t')
	if v, ok := ja4Versions[ch.ja4Version()]; ok {
		a.WriteString(v)
	} else {
		a.WriteString("00")
	}
	if ch.HasExtension(ExtServerName) {
		a.WriteByte('d')
	} else {
		a.WriteByte('i')
	}

	ciphers := make([]uint16, 0, len(ch.CipherSuites))
	for _, c := range ch.CipherSuites {
		if !IsGREASE(c) {
			ciphers = append(ciphers, c)
		}
	}
	exts := make([]uint16, 0, len(ch.Extensions))
	extCount := 0
	for _, e := range ch.Extensions {
		if IsGREASE(e.Type) {
			continue
		}
		extCount++
		// SNI and ALPN are already in part a; leaving them out of the hash
		// keeps part c stable across destinations.
		if e.Type != ExtServerName && e.Type != ExtALPN {
			exts = append(exts, e.Type)
		}
	}
	writeCount(&a, len(ciphers))
	writeCount(&a, extCount)
	if len(ch.ALPN) > 0 {
		a.WriteString(alpnChars(ch.ALPN[0]))
	} else {
		a.WriteString("00")
	}

	a.WriteByte('_')
	slices.Sort(ciphers)
	if len(ciphers) == 0 {
		a.WriteString("000000000000")
	} else {
		a.WriteString(hash12(hexList(ciphers)))
	}

	a.WriteByte('_')
	slices.Sort(exts)
	if len(exts) == 0 {
		a.WriteString("000000000000")
	} else {
		c := hexList(exts)
		sigs := make([]uint16, 0, len(ch.SignatureAlgorithms))
		for _, s := range ch.SignatureAlgorithms {
			if !IsGREASE(s) {
				sigs = append(sigs, s)
			}
		}
		if len(sigs) > 0 {
			c += "_" + hexList(sigs)
		}
		a.WriteString(hash12(c))
	}
	return a.String()
}

func writeCount(b *strings.Builder, n int) {
	n = min(n, 99)
	b.WriteByte(byte('0' + n/10))
	b.WriteByte(byte('0' + n%10))
}

// alpnChars is the first and last character of an ALPN protocol name, or of
// its hex form when either end is not an ASCII letter or digit.
func alpnChars(proto string) string {
	if proto == "" {
		return "00"
	}
	first, last := proto[0], proto[len(proto)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	const digits = "0123456789abcdef"
	return string([]byte{digits[first>>4], digits[last&0xf]})
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// hexList joins 4-digit lower-case hex code points with commas.
func hexList(vs []uint16) string {
	const digits = "0123456789abcdef"
	buf := make([]byte, 0, 5*len(vs))
	for i, v := range vs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
	}
	return string(buf)
}

func hash12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// Fingerprint parses the ClientHello at the start of payload and returns its
// JA3 string, JA3 MD5 and JA4 (ErrNoFingerprint for an SSLv2 hello).
func Fingerprint(payload []byte) (ja3, ja3md5, ja4 string, err error) {
	ch, err := ParseClientHello(payload)
	if err != nil {
		return "", "", "", err
	}
	if ch.SSLv2 {
		return "", "", "", ErrNoFingerprint
	}
	ja3 = ch.JA3()
	return ja3, JA3MD5(ja3), ch.JA4(), nil
}
