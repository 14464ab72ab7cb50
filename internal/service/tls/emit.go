package tls

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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

// Wire: ClientHellos are often split over two TCP segments, and a TLS
// server often closes the connection after its alert.
func (service) Wire() probe.Wire {
	return probe.Wire{SplitShare: 0.3, ServerClosesFirstShare: 0.5}
}

// template is one ClientHello family of a scanner profile, from the
// simulator's profiles.json: one stack, or every stack whose name starts
// with a prefix.
type template struct {
	probe.TemplateMeta
	Stack string `json:"stack"`
	// StackPrefix picks, per probe, one of all stacks whose name starts
	// with it: tools such as testssl, sslscan or JARM open one connection
	// per hello, so each of their hellos is a first probe.
	StackPrefix string `json:"stack_prefix"`
	// PortList replaces the TLS port list for tools that send a
	// ClientHello whatever the port (a ClientHello on port 80 is still TLS).
	PortList [][2]int `json:"ports"`

	stacks []*Stack
}

// CorpusStack is a TLS ClientHello of a real tool, as lists. 16-bit values are
// hex strings ("0x1301") as the capture names them.
// It is an entry of the simulator's corpus.json (internal/simulate/corpusfile).
type CorpusStack struct {
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	RecordVersion string   `json:"record_version"`
	ClientVersion string   `json:"client_version"`
	SessionIDLen  int      `json:"session_id_len"`
	Ciphers       []string `json:"ciphers"`
	Compression   []int    `json:"compression"`
	Extensions    []int    `json:"extensions"`
	Groups        []int    `json:"groups"`
	PointFormats  []int    `json:"point_formats"`
	SigAlgs       []string `json:"sigalgs"`
	Versions      []string `json:"versions"`
	ALPN          []string `json:"alpn"`
	// FixedRandom is the hex client random of tools that never change it
	// (masscan): for them it is part of the fingerprint.
	FixedRandom  string `json:"fixed_random,omitempty"`
	CorpusJA3MD5 string `json:"corpus_ja3_md5"`
}

// stackDef is a stack of the profile file ("stacks"): a base stack with
// some lists replaced.
type stackDef struct {
	Base          string   `json:"base"`
	Source        string   `json:"source"`
	Ciphers       []string `json:"ciphers"`
	DropCiphers   []string `json:"drop_ciphers"`
	AppendCiphers []string `json:"append_ciphers"`
	Extensions    []int    `json:"extensions"`
	Groups        []int    `json:"groups"`
	SigAlgs       []string `json:"sigalgs"`
	Versions      []string `json:"versions"`
	ALPN          []string `json:"alpn"`
}

// LoadStacks resolves every stack of the simulator's data: the corpus
// stacks, then the profile file's, which derive from them.
func LoadStacks(d *probe.EmitData) (map[string]*Stack, error) {
	var corpus []CorpusStack
	defs := map[string]stackDef{}
	if err := d.Corpus("tls_stacks", &corpus); err != nil {
		return nil, err
	}
	if err := d.Profile("stacks", &defs); err != nil {
		return nil, err
	}
	stacks := map[string]*Stack{}
	for _, cs := range corpus {
		st, err := cs.resolve()
		if err != nil {
			return nil, fmt.Errorf("corpus stack %s: %w", cs.Name, err)
		}
		stacks[cs.Name] = st
	}
	defNames := make([]string, 0, len(defs))
	for name := range defs {
		defNames = append(defNames, name)
	}
	sort.Strings(defNames)
	for _, name := range defNames {
		st, err := defs[name].derive(name, stacks)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", name, err)
		}
		stacks[name] = st
	}
	return stacks, nil
}

// SortedStackNames returns the names of stacks, sorted.
func SortedStackNames(m map[string]*Stack) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Templates resolves the stacks templates name.
func (service) Templates(d *probe.EmitData) (probe.TemplateDecoder, error) {
	stacks, err := LoadStacks(d)
	if err != nil {
		return nil, err
	}
	names := SortedStackNames(stacks)
	return func(raw json.RawMessage) ([]probe.Template, error) {
		return probe.DecodeTemplates(raw, func(v *template) error {
			if v.StackPrefix != "" {
				for _, name := range names {
					if strings.HasPrefix(name, v.StackPrefix) {
						v.stacks = append(v.stacks, stacks[name])
					}
				}
			} else if st, ok := stacks[v.Stack]; ok {
				v.stacks = []*Stack{st}
			}
			if len(v.stacks) == 0 {
				return fmt.Errorf("no stack %q%q", v.Stack, v.StackPrefix)
			}
			return nil
		})
	}, nil
}

func (v *template) Ports() [][2]int { return v.PortList }
func (v *template) Next() string    { return "" }

// Stacks are the stacks the template draws from.
func (v *template) Stacks() []*Stack { return v.stacks }

// Emit draws the stack (when there are several), then the hello's random,
// session id and key share.
func (v *template) Emit(rng *rand.Rand, _ netip.Addr, _ uint16, _ time.Time) probe.Emission {
	st := v.stacks[0]
	if len(v.stacks) > 1 {
		st = v.stacks[rng.IntN(len(v.stacks))]
	}
	e := probe.Emission{Payload: st.ClientHello(rng, ""), Reply: AlertHandshakeFailure}
	var str string
	str, e.JA3 = st.JA3()
	e.Signature = str + "|" + strings.Join(st.ALPN, ",")
	e.Template = fmt.Sprintf("%s|%x|%x|%d|%x|%v", e.Signature, st.SigAlgs, st.Versions, st.SessionIDLen, st.Compression, st.FixedRandom != nil)
	return e
}

// Derive moves one cipher suite of the base's first stack a place later
// (the j-th adjacent pair swapped), which changes JA3 and nothing else; a
// single-suite stack gets a second, common suite instead.
func (v *template) Derive(j int) probe.Template {
	d := *v
	d.TemplateName, d.Stack, d.StackPrefix = probe.DerivedName(v.TemplateName, j), probe.DerivedName(v.stacks[0].Name, j), ""
	st := v.stacks[0].Clone()
	st.Name, st.CorpusJA3MD5 = d.Stack, ""
	if n := len(st.Ciphers); n >= 2 {
		i := (j - 1) % (n - 1)
		st.Ciphers[i], st.Ciphers[i+1] = st.Ciphers[i+1], st.Ciphers[i]
	} else {
		st.Ciphers = append(st.Ciphers, 0x002f+uint16(j)) // TLS_RSA_WITH_AES_128_CBC_SHA and neighbours
	}
	d.stacks = []*Stack{st}
	return &d
}

// resolve turns a corpus stack into a Stack.
func (cs CorpusStack) resolve() (*Stack, error) {
	st := &Stack{Name: cs.Name, SessionIDLen: cs.SessionIDLen, ALPN: cs.ALPN, CorpusJA3MD5: cs.CorpusJA3MD5}
	var err error
	if st.RecordVersion, err = hexWord(cs.RecordVersion); err != nil {
		return nil, err
	}
	if st.ClientVersion, err = hexWord(cs.ClientVersion); err != nil {
		return nil, err
	}
	if st.Ciphers, err = hexWords(cs.Ciphers); err != nil {
		return nil, err
	}
	if st.SigAlgs, err = hexWords(cs.SigAlgs); err != nil {
		return nil, err
	}
	if st.Versions, err = hexWords(cs.Versions); err != nil {
		return nil, err
	}
	st.Extensions = toUint16s(cs.Extensions)
	st.Groups = toUint16s(cs.Groups)
	for _, c := range cs.Compression {
		st.Compression = append(st.Compression, uint8(c))
	}
	for _, p := range cs.PointFormats {
		st.PointFormats = append(st.PointFormats, uint8(p))
	}
	if len(st.Compression) == 0 {
		st.Compression = []uint8{0}
	}
	if cs.FixedRandom != "" {
		r, err := hex.DecodeString(cs.FixedRandom)
		if err != nil || len(r) != 32 {
			return nil, fmt.Errorf("fixed_random must be 32 hex bytes")
		}
		st.FixedRandom = r
	}
	if st.SessionIDLen < 0 || st.SessionIDLen > 32 {
		return nil, fmt.Errorf("session id length %d", st.SessionIDLen)
	}
	return st, nil
}

// derive builds a stack from a base with some lists replaced. Removing the
// versions, ALPN or groups also removes the extension that carried them, so a
// derived hello stays consistent.
func (d stackDef) derive(name string, known map[string]*Stack) (*Stack, error) {
	base, ok := known[d.Base]
	if !ok {
		return nil, fmt.Errorf("unknown base %q", d.Base)
	}
	st := base.Clone()
	st.Name, st.CorpusJA3MD5 = name, ""
	var err error
	if d.Ciphers != nil {
		if st.Ciphers, err = hexWords(d.Ciphers); err != nil {
			return nil, err
		}
	}
	if d.DropCiphers != nil {
		drop, err := hexWords(d.DropCiphers)
		if err != nil {
			return nil, err
		}
		st.Ciphers = slices.DeleteFunc(st.Ciphers, func(c uint16) bool { return slices.Contains(drop, c) })
	}
	if d.AppendCiphers != nil {
		add, err := hexWords(d.AppendCiphers)
		if err != nil {
			return nil, err
		}
		st.Ciphers = append(st.Ciphers, add...)
	}
	if d.Extensions != nil {
		st.Extensions = toUint16s(d.Extensions)
	}
	if d.Groups != nil {
		st.Groups = toUint16s(d.Groups)
	}
	if d.SigAlgs != nil {
		if st.SigAlgs, err = hexWords(d.SigAlgs); err != nil {
			return nil, err
		}
	}
	if d.Versions != nil {
		if st.Versions, err = hexWords(d.Versions); err != nil {
			return nil, err
		}
	}
	if d.ALPN != nil {
		st.ALPN = slices.Clone(d.ALPN)
	}
	st.DropEmptyExtensions()
	if len(st.Ciphers) == 0 {
		return nil, fmt.Errorf("no cipher suites left")
	}
	return st, nil
}

func hexWord(s string) (uint16, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("bad 16-bit hex %q", s)
	}
	return uint16(v), nil
}

func hexWords(in []string) ([]uint16, error) {
	out := make([]uint16, 0, len(in))
	for _, s := range in {
		v, err := hexWord(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func toUint16s(in []int) []uint16 {
	out := make([]uint16, 0, len(in))
	for _, v := range in {
		out = append(out, uint16(v))
	}
	return out
}
