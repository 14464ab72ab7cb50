package probe

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Probe fields are stored as JSON so that analysts can read them with any
// SQLite or PostgreSQL client. encoding/json spends most of a pipeline run's
// loading time on them (reflection, and a new string for every cipher-suite
// name of every probe), so Fields have a hand-written codec for their fixed
// shape, [{"name":..,"value":..,"items":[..]}], that falls back to
// encoding/json for anything else.

// AppendJSON appends fs as JSON to dst.
func (fs Fields) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, `,"value":`...)
		dst = appendJSONString(dst, f.Value)
		if len(f.Items) > 0 {
			dst = append(dst, `,"items":[`...)
			for j, it := range f.Items {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, it)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json would, except that <, > and &
// are left as they are (they are only escaped for HTML embedding).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// FieldsDecoder decodes stored field lists, sharing one string for every
// repetition of a name or value it has seen (field names, cipher suites,
// User-Agents repeat across millions of probes). Not safe for concurrent use.
type FieldsDecoder struct {
	intern map[string]string
	// items shares one slice for every repetition of an item list (cipher
	// suites, extensions, SSH name-lists): a probe's fields then cost their
	// Field headers only. Shared slices are capped, so an append copies.
	items map[string][]string
	// scratch holds the fields and items being read, copied out at their
	// exact length.
	fields []Field
	list   []string
}

// maxInterned bounds the decoder's memory on unusual data.
const maxInterned = 1 << 16

// Decode parses a JSON field list.
func (d *FieldsDecoder) Decode(b []byte) (Fields, error) {
	if d.intern == nil {
		d.intern = make(map[string]string)
		d.items = make(map[string][]string)
	}
	if fs, ok := d.fast(b); ok {
		return fs, nil
	}
	var fs Fields
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, err
	}
	return fs, nil
}

// fast decodes the shape AppendJSON writes; ok is false for anything else.
func (d *FieldsDecoder) fast(b []byte) (fs Fields, ok bool) {
	p := jsonScanner{b: b}
	if !p.byte('[') {
		return nil, false
	}
	if p.byte(']') {
		return Fields{}, p.i == len(b)
	}
	buf := d.fields[:0]
	defer func() { d.fields = buf[:0] }()
	for {
		var f Field
		if !p.byte('{') {
			return nil, false
		}
		for {
			key, ok := p.rawStr()
			if !ok || !p.byte(':') {
				return nil, false
			}
			switch string(key) {
			case "name":
				if f.Name, ok = d.str(&p); !ok {
					return nil, false
				}
			case "value":
				if f.Value, ok = d.str(&p); !ok {
					return nil, false
				}
			case "items":
				f.Items = nil // a repeated key replaces, as in encoding/json
				start := p.i
				if !p.byte('[') {
					return nil, false
				}
				if !p.byte(']') {
					list := d.list[:0]
					for {
						it, ok := d.str(&p)
						if !ok {
							return nil, false
						}
						list = append(list, it)
						if p.byte(']') {
							break
						}
						if !p.byte(',') {
							return nil, false
						}
					}
					d.list = list[:0]
					f.Items = d.internItems(p.b[start:p.i], list)
				}
			default:
				return nil, false
			}
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return nil, false
			}
		}
		buf = append(buf, f)
		if p.byte(']') {
			return slices.Clone(buf), p.i == len(b)
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// internItems returns the shared copy of the item list whose JSON text is
// raw, making one (at its exact length) from list the first time.
func (d *FieldsDecoder) internItems(raw []byte, list []string) []string {
	if shared, ok := d.items[string(raw)]; ok {
		return shared
	}
	out := slices.Clone(list)
	out = out[:len(out):len(out)]
	if len(d.items) < maxInterned {
		d.items[string(raw)] = out
	}
	return out
}

// str reads a string token and interns it.
func (d *FieldsDecoder) str(p *jsonScanner) (string, bool) {
	raw, ok := p.rawStr()
	if !ok {
		return "", false
	}
	if s, ok := d.intern[string(raw)]; ok {
		return s, true
	}
	s := string(raw)
	if len(d.intern) < maxInterned {
		d.intern[s] = s
	}
	return s, true
}

// jsonScanner walks compact JSON without whitespace, as AppendJSON and
// encoding/json write it.
type jsonScanner struct {
	b []byte
	i int
}

func (p *jsonScanner) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// rawStr returns the contents of a string without escapes; strings with
// escapes are left to encoding/json (ok false).
func (p *jsonScanner) rawStr() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			// encoding/json replaces invalid UTF-8; leave that to it.
			return s, ascii || utf8.Valid(s)
		case c >= utf8.RuneSelf:
			ascii = false
		case c == '\\' || c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}
