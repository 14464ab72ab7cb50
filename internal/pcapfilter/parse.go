// Package pcapfilter compiles capture filters to classic BPF without libpcap
// (no cgo): a documented subset of the tcpdump expression language
// (pcap-filter(7)), and the decimal programs `tcpdump -ddd` prints, for
// anything beyond the subset.
//
// The subset:
//
//	expr      = and { ("or" | "||") and }
//	and       = unary { ("and" | "&&") unary }
//	unary     = ("not" | "!") unary | "(" expr ")" | primitive
//	primitive = [proto] [dir] [kind] value | proto
//	proto     = ip | ip6 | tcp | udp | icmp | icmp6
//	dir       = src | dst | src or dst | src and dst
//	kind      = host ADDR | net CIDR | port N | portrange N-M
//
// As in tcpdump, a bare value repeats the qualifiers before it ("port 80 or
// 443"), a dir without kind means host ("src 192.0.2.1"), and "port" means a
// TCP or UDP port over IPv4 (first fragment only) or IPv6 (no extension
// headers). Unlike tcpdump, "port" leaves out SCTP, "host" and "net" match
// IP packets only (tcpdump also matches ARP and RARP), host names are refused
// (no DNS lookups when a capture starts), and there is no "vlan", "ether",
// "mask", "less" or byte-offset syntax: compile such filters with
// `tcpdump -ddd` and pass its output. Programs are for Ethernet frames (also
// what Linux delivers on the loopback device) or raw IP.
package pcapfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/bpf"
)

// maxExprLen bounds the expression text; maxDepth bounds nesting.
const (
	maxExprLen = 4096
	maxDepth   = 64
)

// loadKind says where an atom's value is loaded from.
type loadKind uint8

const (
	// isIPv4, isIPv6: the link layer says the frame carries IPv4 / IPv6.
	isIPv4 loadKind = iota
	isIPv6
	// fromNet: a fixed offset from the start of the network header.
	fromNet
	// fromIPv4L4: an offset from the start of the IPv4 payload (IHL).
	fromIPv4L4
)

// atom is one comparison: load size bytes, and with mask when set, compare.
type atom struct {
	kind loadKind
	off  uint32
	size int
	mask uint32
	cond bpf.JumpTest
	val  uint32
}

type opKind uint8

const (
	opAtom opKind = iota
	opAnd
	opOr
	opNot
)

type node struct {
	op   opKind
	a    atom
	l, r *node
}

func and(l, r *node) *node {
	if l == nil {
		return r
	}
	return &node{op: opAnd, l: l, r: r}
}

func or(l, r *node) *node {
	if l == nil {
		return r
	}
	return &node{op: opOr, l: l, r: r}
}

func not(x *node) *node { return &node{op: opNot, l: x} }

func cmp(kind loadKind, off uint32, size int, val uint32) *node {
	return &node{op: opAtom, a: atom{kind: kind, off: off, size: size, cond: bpf.JumpEqual, val: val}}
}

// SyntaxError says what is wrong with an expression and where.
type SyntaxError struct {
	Expr string
	Pos  int // byte offset of the offending token
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bpf expression %q: at offset %d: %s", e.Expr, e.Pos, e.Msg)
}

type token struct {
	text string
	pos  int
}

func lex(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, token{expr[i : i+1], i})
			i++
		case strings.HasPrefix(expr[i:], "&&") || strings.HasPrefix(expr[i:], "||"):
			toks = append(toks, token{expr[i : i+2], i})
			i += 2
		default:
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			if j == i {
				return nil, &SyntaxError{expr, i, fmt.Sprintf("unexpected character %q", rune(c))}
			}
			toks = append(toks, token{expr[i:j], i})
			i = j
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c < unicode.MaxASCII && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_' || c == '%')
}

type proto uint8

const (
	protoNone proto = iota
	protoIP
	protoIP6
	protoTCP
	protoUDP
	protoICMP
	protoICMP6
)

var protoNames = map[string]proto{"ip": protoIP, "ip6": protoIP6, "tcp": protoTCP, "udp": protoUDP, "icmp": protoICMP, "icmp6": protoICMP6}

type dir uint8

const (
	dirEither dir = iota
	dirSrc
	dirDst
	dirBoth
)

type kind uint8

const (
	kindNone kind = iota
	kindHost
	kindNet
	kindPort
	kindPortRange
)

var kindNames = map[string]kind{"host": kindHost, "net": kindNet, "port": kindPort, "portrange": kindPortRange}

// quals are a primitive's qualifiers; a bare value reuses the last ones.
type quals struct {
	proto proto
	dir   dir
	kind  kind
}

type parser struct {
	expr  string
	toks  []token
	i     int
	depth int
	last  *quals
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *parser) errf(format string, args ...any) error {
	pos := len(p.expr)
	if p.i < len(p.toks) {
		pos = p.toks[p.i].pos
	}
	return &SyntaxError{p.expr, pos, fmt.Sprintf(format, args...)}
}

// parse turns an expression into a tree of comparisons.
func parse(expr string) (*node, error) {
	if len(expr) > maxExprLen {
		return nil, &SyntaxError{expr[:64] + "...", 0, fmt.Sprintf("longer than %d bytes", maxExprLen)}
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, &SyntaxError{expr, 0, "empty expression"}
	}
	p := &parser{expr: expr, toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errf("unexpected %q", p.peek())
	}
	return n, nil
}

func (p *parser) or() (*node, error) { return p.chain("or", "||", p.and, or) }

func (p *parser) and() (*node, error) { return p.chain("and", "&&", p.unary, and) }

// chain parses operands joined by an operator (word or symbol), left to right.
func (p *parser) chain(word, sym string, operand func() (*node, error), join func(l, r *node) *node) (*node, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == word || t == sym; t = p.peek() {
		p.i++
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = join(l, r)
	}
	return l, nil
}

func (p *parser) unary() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("nested deeper than %d", maxDepth)
	}
	switch p.peek() {
	case "":
		return nil, p.errf("expression ends where a primitive was expected")
	case "not", "!":
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return not(x), nil
	case "(":
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errf("missing )")
		}
		p.i++
		return x, nil
	}
	return p.primitive()
}

func (p *parser) primitive() (*node, error) {
	var q quals
	explicit := false
	if pr, ok := protoNames[p.peek()]; ok {
		q.proto, explicit = pr, true
		p.i++
	}
	switch p.peek() {
	case "src", "dst":
		q.dir, explicit = dirSrc, true
		if p.peek() == "dst" {
			q.dir = dirDst
		}
		p.i++
		// "src or dst" / "src and dst" are one qualifier when a kind or
		// value follows, not a boolean operator.
		if conj := p.peek(); (conj == "or" || conj == "and") && p.i+1 < len(p.toks) {
			if other := p.toks[p.i+1].text; (other == "src" || other == "dst") && other != p.toks[p.i-1].text {
				q.dir = dirEither
				if conj == "and" {
					q.dir = dirBoth
				}
				p.i += 2
			}
		}
	}
	if k, ok := kindNames[p.peek()]; ok {
		q.kind, explicit = k, true
		p.i++
	}
	if !explicit {
		if p.last == nil {
			return nil, p.errf("unknown primitive %q", p.peek())
		}
		q = *p.last // "port 80 or 443"
	}
	if q.kind == kindNone && q.dir == dirEither && q.proto != protoNone {
		if v := p.peek(); v == "" || v == ")" || v == "and" || v == "or" || v == "&&" || v == "||" {
			p.last = nil
			return protoTest(q.proto), nil
		}
		return nil, p.errf("%q after a protocol: want host, net, port, portrange, src or dst", p.peek())
	}
	if q.kind == kindNone {
		q.kind = kindHost
	}
	v := p.peek()
	if v == "" || v == ")" || v == "(" || v == "!" || v == "&&" || v == "||" {
		return nil, p.errf("missing value")
	}
	n, err := build(q, v)
	if err != nil {
		return nil, p.errf("%v", err)
	}
	p.i++
	p.last = &q
	return n, nil
}

// IPv4 and IPv6 header offsets used below.
const (
	ip4Proto  = 9
	ip4Frag   = 6
	ip4Src    = 12
	ip4Dst    = 16
	ip6Next   = 6
	ip6Src    = 8
	ip6Dst    = 24
	ip6HdrLen = 40
)

func ipProto(v4 bool, proto uint32) *node {
	if v4 {
		return and(cmp(isIPv4, 0, 0, 0), cmp(fromNet, ip4Proto, 1, proto))
	}
	return and(cmp(isIPv6, 0, 0, 0), cmp(fromNet, ip6Next, 1, proto))
}

func protoTest(pr proto) *node {
	switch pr {
	case protoIP:
		return cmp(isIPv4, 0, 0, 0)
	case protoIP6:
		return cmp(isIPv6, 0, 0, 0)
	case protoTCP:
		return or(ipProto(true, 6), ipProto(false, 6))
	case protoUDP:
		return or(ipProto(true, 17), ipProto(false, 17))
	case protoICMP:
		return ipProto(true, 1)
	default: // protoICMP6
		return ipProto(false, 58)
	}
}

// withDir combines the source and destination tests as dir says.
func withDir(d dir, src, dst func() *node) *node {
	switch d {
	case dirSrc:
		return src()
	case dirDst:
		return dst()
	case dirBoth:
		return and(src(), dst())
	}
	return or(src(), dst())
}

func build(q quals, v string) (*node, error) {
	switch q.kind {
	case kindHost, kindNet:
		return buildAddr(q, v)
	default:
		return buildPort(q, v)
	}
}

func buildAddr(q quals, v string) (*node, error) {
	if q.proto != protoNone && q.proto != protoIP && q.proto != protoIP6 {
		return nil, fmt.Errorf("%s with a protocol other than ip or ip6", map[kind]string{kindHost: "host", kindNet: "net"}[q.kind])
	}
	var pfx netip.Prefix
	var err error
	if q.kind == kindNet && strings.Contains(v, "/") {
		pfx, err = netip.ParsePrefix(v)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(v)
		if err == nil && a.Zone() != "" {
			err = errors.New("zoned address")
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil {
		if q.kind == kindHost && strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz") && !strings.Contains(v, ":") {
			return nil, fmt.Errorf("host %q: host names are not resolved; give an IP address", v)
		}
		return nil, fmt.Errorf("%q is not an IP address%s", v, map[bool]string{true: " or CIDR prefix"}[q.kind == kindNet])
	}
	pfx = pfx.Masked()
	v4 := pfx.Addr().Is4()
	if (q.proto == protoIP && !v4) || (q.proto == protoIP6 && v4) {
		return nil, fmt.Errorf("%s does not match ip/ip6 qualifier", v)
	}
	srcOff, dstOff, fam := uint32(ip4Src), uint32(ip4Dst), isIPv4
	if !v4 {
		srcOff, dstOff, fam = ip6Src, ip6Dst, isIPv6
	}
	addr := pfx.Addr().AsSlice()
	match := func(base uint32) func() *node {
		return func() *node {
			var n *node
			for w := 0; w < len(addr)/4; w++ {
				bits := pfx.Bits() - 32*w
				if bits <= 0 {
					break
				}
				mask := ^uint32(0)
				if bits < 32 {
					mask <<= 32 - bits
				}
				val := uint32(addr[4*w])<<24 | uint32(addr[4*w+1])<<16 | uint32(addr[4*w+2])<<8 | uint32(addr[4*w+3])
				c := cmp(fromNet, base+uint32(4*w), 4, val&mask)
				if mask != ^uint32(0) {
					c.a.mask = mask
				}
				n = and(n, c)
			}
			if n == nil { // 0.0.0.0/0: any address of the family
				return cmp(fam, 0, 0, 0)
			}
			return n
		}
	}
	return and(cmp(fam, 0, 0, 0), withDir(q.dir, match(srcOff), match(dstOff))), nil
}

func parsePort(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number (0-65535; service names are not looked up)", s)
	}
	return uint32(n), nil
}

func buildPort(q quals, v string) (*node, error) {
	switch q.proto {
	case protoIP, protoIP6, protoICMP, protoICMP6:
		return nil, errors.New("port and portrange take tcp, udp or no protocol (as in tcpdump)")
	}
	lo, hi := uint32(0), uint32(0)
	var err error
	if q.kind == kindPortRange {
		a, b, ok := strings.Cut(v, "-")
		if !ok {
			return nil, fmt.Errorf("portrange %q: want N-M", v)
		}
		if lo, err = parsePort(a); err != nil {
			return nil, err
		}
		if hi, err = parsePort(b); err != nil {
			return nil, err
		}
		if lo > hi {
			lo, hi = hi, lo
		}
	} else {
		if lo, err = parsePort(v); err != nil {
			return nil, err
		}
		hi = lo
	}
	portAt := func(kind loadKind, off uint32) func() *node {
		return func() *node {
			if lo == hi {
				return cmp(kind, off, 2, lo)
			}
			ge := &node{op: opAtom, a: atom{kind: kind, off: off, size: 2, cond: bpf.JumpGreaterOrEqual, val: lo}}
			le := &node{op: opAtom, a: atom{kind: kind, off: off, size: 2, cond: bpf.JumpLessOrEqual, val: hi}}
			return and(ge, le)
		}
	}
	l4 := func(v4 bool) *node {
		switch q.proto {
		case protoTCP:
			return ipProto(v4, 6)
		case protoUDP:
			return ipProto(v4, 17)
		}
		return or(ipProto(v4, 6), ipProto(v4, 17))
	}
	notFragment := not(&node{op: opAtom, a: atom{kind: fromNet, off: ip4Frag, size: 2, cond: bpf.JumpBitsSet, val: 0x1fff}})
	v4 := and(and(l4(true), notFragment), withDir(q.dir, portAt(fromIPv4L4, 0), portAt(fromIPv4L4, 2)))
	v6 := and(l4(false), withDir(q.dir, portAt(fromNet, ip6HdrLen), portAt(fromNet, ip6HdrLen+2)))
	return or(v4, v6), nil
}
