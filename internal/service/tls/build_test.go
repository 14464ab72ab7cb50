package tls

import "golang.org/x/crypto/cryptobyte"

// helloSpec describes a ClientHello for tests to build byte by byte, so edge
// cases (GREASE, odd splits, empty blocks) need no captured sample.
type helloSpec struct {
	version    uint16
	random     []byte // 32 bytes; zeros when nil
	sessionID  []byte
	ciphers    []uint16
	comp       []byte
	noExtBlock bool
	exts       []Extension
}

// handshake returns the ClientHello handshake message, header included.
func (s helloSpec) handshake() []byte {
	var b cryptobyte.Builder
	b.AddUint8(handshakeTypeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(s.version)
		r := s.random
		if r == nil {
			r = make([]byte, randomLen)
		}
		b.AddBytes(r)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range s.ciphers {
				b.AddUint16(c)
			}
		})
		comp := s.comp
		if comp == nil {
			comp = []byte{0}
		}
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(comp) })
		if s.noExtBlock {
			return
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range s.exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.BytesOrPanic()
}

// inRecords wraps a handshake message in TLS records, starting a new record
// at each of the given message offsets.
func inRecords(msg []byte, recordVersion uint16, splits ...int) []byte {
	var out []byte
	prev := 0
	for _, cut := range append(splits, len(msg)) {
		frag := msg[prev:cut]
		out = append(out, recordTypeHandshake, byte(recordVersion>>8), byte(recordVersion), byte(len(frag)>>8), byte(len(frag)))
		out = append(out, frag...)
		prev = cut
	}
	return out
}

func extData(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func sniExt(host string) Extension {
	return Extension{ExtServerName, extData(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(0)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(host)) })
		})
	})}
}

func alpnExt(protos ...string) Extension {
	return Extension{ExtALPN, extData(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range protos {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
			}
		})
	})}
}

// u16ListExt builds supported_groups or signature_algorithms.
func u16ListExt(typ uint16, vs ...uint16) Extension {
	return Extension{typ, extData(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vs {
				b.AddUint16(v)
			}
		})
	})}
}

func versionsExt(vs ...uint16) Extension {
	return Extension{ExtSupportedVersions, extData(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vs {
				b.AddUint16(v)
			}
		})
	})}
}

func pointFormatsExt(fs ...byte) Extension {
	return Extension{ExtECPointFormats, append([]byte{byte(len(fs))}, fs...)}
}
