package feature

import (
	"fmt"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// On is the value of a lit option pixel and of a set int bit.
const On = 255

// Encode writes the image of p into dst (row-major, len(dst) ≥ Pixels()):
// an option pixel is On when the probe carries that value (a missing field
// carries probe.NotAvailable); a string field puts its first Width bytes,
// zero padded (a missing field is all zero), an identity-bearing one its
// class view (TokenSensorIP, ...) instead of its bytes; an int field puts its Width low
// bits, most significant first, as 0/On. The first occurrence of a repeated
// string or int field counts; a repeated option field adds all its items.
// Fields the layout does not hold are ignored. Encode does not allocate.
func (l *Layout) Encode(p probe.Probe, dst []uint8) {
	n := l.Side * l.Side
	if len(dst) < n {
		panic(fmt.Sprintf("feature: Encode needs %d pixels, dst has %d", n, len(dst)))
	}
	dst = dst[:n]
	clear(dst)
	var seenBuf [128]bool
	var seen []bool
	if len(l.Fields) <= len(seenBuf) {
		seen = seenBuf[:len(l.Fields)]
	} else {
		seen = make([]bool, len(l.Fields))
	}
	for i := range p.Fields {
		pf := &p.Fields[i]
		fi, ok := l.fieldIndex[pf.Name]
		if !ok {
			continue
		}
		f := &l.Fields[fi]
		first := !seen[fi]
		seen[fi] = true
		switch f.Kind {
		case probe.KindOption:
			opts := l.options[fi]
			walkTokens(f.Tokenizer, *pf, func(tok string) {
				if px, ok := opts[tok]; ok {
					dst[px] = On
				}
			})
		case probe.KindString:
			if first && pf.Value != probe.NotAvailable {
				span := dst[f.Offset : f.Offset+f.Width]
				if f.Identity == probe.IdentityNone {
					copy(span, pf.Value)
					break
				}
				a, b, c := identityView(f.Identity, pf.Value, p.DstIP)
				n := copy(span, a)
				n += copy(span[n:], b)
				copy(span[n:], c)
			}
		case probe.KindInt:
			if first {
				if v, ok := parseDecimal(pf.Value); ok {
					putBits(dst[f.Offset:f.Offset+f.Width], v)
				}
			}
		}
	}
	for fi, px := range l.naPixel {
		if px >= 0 && !seen[fi] {
			dst[px] = On
		}
	}
}

// EncodeAll encodes probes into rows of one backing array.
func (l *Layout) EncodeAll(probes []probe.Probe) [][]uint8 {
	n := l.Pixels()
	backing := make([]uint8, len(probes)*n)
	rows := make([][]uint8, len(probes))
	for i := range probes {
		rows[i] = backing[i*n : (i+1)*n : (i+1)*n]
		l.Encode(probes[i], rows[i])
	}
	return rows
}

// parseDecimal reads an unsigned decimal without allocating (strconv's
// error path allocates); values past 64 bits keep their low bits.
func parseDecimal(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// putBits writes the len(dst) low bits of v, most significant first.
func putBits(dst []uint8, v uint64) {
	w := len(dst)
	for j := range w {
		if v>>(uint(w-1-j))&1 == 1 {
			dst[j] = On
		}
	}
}
