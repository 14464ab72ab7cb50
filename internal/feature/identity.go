package feature

import (
	"net/netip"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// The class tokens an identity-bearing field is encoded as. A scanner that
// writes the address it connects to into its Host header sends a different
// byte string to every sensor; encoded as sent, the model would learn the
// sensors' addresses, and a new sensor would be a new world. What stays
// with the scanner is the class: its own target's address, some other
// address, a name, or nothing.
const (
	// TokenSensorIP: an IP literal equal to the sensor's address (the
	// probe's destination), with or without port or brackets.
	TokenSensorIP = "<sensor-ip>"
	// TokenIP: any other IP literal.
	TokenIP = "<ip>"
	// TokenName: a host name.
	TokenName = "<name>"
	// TokenSensorIPReversed, TokenSensorIPDashed and TokenSensorIPHex stand
	// for the sensor's address spelt inside a DNS name: reversed as in
	// in-addr.arpa (nibbles for ip6.arpa), with dashes (ip-192-0-2-1), or
	// as hex digits.
	TokenSensorIPReversed = "<sensor-ip-rev>"
	TokenSensorIPDashed   = "<sensor-ip-dash>"
	TokenSensorIPHex      = "<sensor-ip-hex>"
)

// identityView returns the value an identity-bearing field is encoded as,
// in up to three pieces whose concatenation is the view; each is a part of
// value or a constant, so the view costs no allocation. sensor is the
// probe's destination address (invalid when unknown: then no value is the
// sensor's). probe.NotAvailable and the empty value are kept.
func identityView(id probe.Identity, value string, sensor netip.Addr) (a, b, c string) {
	if value == probe.NotAvailable || value == "" {
		return value, "", ""
	}
	switch id {
	case probe.IdentityHost:
		return hostClass(value, sensor), "", ""
	case probe.IdentityURL:
		return urlView(value, sensor)
	case probe.IdentityQName:
		return qnameView(value, sensor)
	}
	return value, "", ""
}

// identityString is identityView joined, for statistics.
func identityString(id probe.Identity, value string, sensor netip.Addr) string {
	a, b, c := identityView(id, value, sensor)
	if b == "" && c == "" {
		return a
	}
	return a + b + c
}

// hostClass classes a host with an optional port: "192.0.2.1",
// "192.0.2.1:8080", "[2001:db8::1]:443" and a bare "2001:db8::1" are IP
// literals; anything else is a name.
func hostClass(host string, sensor netip.Addr) string {
	addr, ok := hostAddr(host)
	switch {
	case !ok:
		return TokenName
	case sensor.IsValid() && addr.WithZone("").Unmap() == sensor.WithZone("").Unmap():
		return TokenSensorIP
	}
	return TokenIP
}

// hostAddr parses the IP literal of a host[:port].
func hostAddr(host string) (netip.Addr, bool) {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := host[end+1:]; rest != "" && !isPort(rest) {
			return netip.Addr{}, false
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[:i], ':') < 0 {
		// One colon: host:port. More than one: a bare IPv6 literal.
		if !isPort(host[i:]) {
			return netip.Addr{}, false
		}
		host = host[:i]
	}
	addr, err := netip.ParseAddr(host)
	return addr, err == nil
}

// isPort reports whether s is ":" followed by decimal digits (or nothing:
// "host:" is what some tools send).
func isPort(s string) bool {
	if s == "" || s[0] != ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// urlView classes the host of an absolute URL ("http://192.0.2.1:8080/x"
// → "http://", "<sensor-ip>", "/x") or an authority-form target
// ("192.0.2.1:443", as CONNECT sends it). The path is kept: it is what the
// scanner asks for. Host names are kept too: in a URL they are as likely
// the scanner's own choice (a proxy check against its own domain) as the
// sensor's.
func urlView(v string, sensor netip.Addr) (a, b, c string) {
	if i := strings.Index(v, "://"); i > 0 && isScheme(v[:i]) {
		start := i + 3
		end := len(v)
		if j := strings.IndexAny(v[start:], "/?#"); j >= 0 {
			end = start + j
		}
		if at := strings.LastIndexByte(v[start:end], '@'); at >= 0 {
			start += at + 1
		}
		if cls := hostClass(v[start:end], sensor); cls != TokenName {
			return v[:start], cls, v[end:]
		}
		return v, "", ""
	}
	if !strings.HasPrefix(v, "/") {
		if cls := hostClass(v, sensor); cls != TokenName {
			return cls, "", ""
		}
	}
	return v, "", ""
}

// isScheme reports whether s is a URI scheme (RFC 3986 §3.1).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// qnameView replaces the first spelling of the sensor's address inside a
// DNS name by its token, keeping the rest of the name: "1.2.0.192.in-addr.arpa"
// → "<sensor-ip-rev>", ".in-addr.arpa". A name that spells no sensor address
// is kept whole, IP-looking or not: version.bind, a scanner's own domain and
// a resolver check against some other address all tell scanners apart.
func qnameView(v string, sensor netip.Addr) (a, b, c string) {
	if !sensor.IsValid() {
		return v, "", ""
	}
	sensor = sensor.WithZone("").Unmap()
	// The spellings are written into arrays on the stack: Encode must not
	// allocate.
	var buf [4][64]byte
	var lens [4]int
	var tokens [4]string
	n := 0
	if sensor.Is4() {
		ip := sensor.As4()
		lens[0], tokens[0] = putJoined(&buf[0], ip[:], '.', false), TokenSensorIP
		lens[1], tokens[1] = putJoined(&buf[1], ip[:], '.', true), TokenSensorIPReversed
		lens[2], tokens[2] = putJoined(&buf[2], ip[:], '-', false), TokenSensorIPDashed
		lens[3], tokens[3] = putHex(&buf[3], ip[:]), TokenSensorIPHex
		n = 4
	} else {
		ip := sensor.As16()
		lens[0], tokens[0] = putNibblesReversed(&buf[0], ip[:]), TokenSensorIPReversed
		lens[1], tokens[1] = putHex(&buf[1], ip[:]), TokenSensorIPHex
		n = 2
	}
	best, bestEnd, token := -1, 0, ""
	for k := range n {
		form := buf[k][:lens[k]]
		if i := indexLabelFold(v, form); i >= 0 && (best < 0 || i < best || i == best && i+len(form) > bestEnd) {
			best, bestEnd, token = i, i+len(form), tokens[k]
		}
	}
	if best < 0 {
		return v, "", ""
	}
	return v[:best], token, v[bestEnd:]
}

// putJoined writes the decimal bytes joined by sep, in reverse order when
// reversed ("192.0.2.1" or "1.2.0.192"), and returns the length.
func putJoined(dst *[64]byte, ip []byte, sep byte, reversed bool) int {
	n := 0
	for k := range ip {
		i := k
		if reversed {
			i = len(ip) - 1 - k
		}
		if k > 0 {
			dst[n] = sep
			n++
		}
		x := ip[i]
		if x >= 100 {
			dst[n] = '0' + x/100
			n++
		}
		if x >= 10 {
			dst[n] = '0' + x/10%10
			n++
		}
		dst[n] = '0' + x%10
		n++
	}
	return n
}

const lowerHex = "0123456789abcdef"

func putHex(dst *[64]byte, ip []byte) int {
	n := 0
	for _, x := range ip {
		dst[n], dst[n+1] = lowerHex[x>>4], lowerHex[x&0xf]
		n += 2
	}
	return n
}

// putNibblesReversed writes the ip6.arpa spelling without its suffix:
// every nibble, lowest first, separated by dots (63 bytes for 16).
func putNibblesReversed(dst *[64]byte, ip []byte) int {
	n := 0
	for i := len(ip) - 1; i >= 0; i-- {
		if n > 0 {
			dst[n] = '.'
			n++
		}
		dst[n], dst[n+1], dst[n+2] = lowerHex[ip[i]&0xf], '.', lowerHex[ip[i]>>4]
		n += 3
	}
	return n
}

// indexLabelFold finds form in s, ASCII case folded, where neither
// neighbour is a letter or digit (so 192.0.2.1 is not found in 192.0.2.10
// nor 0a0b0c0d in 0a0b0c0d1).
func indexLabelFold(s string, form []byte) int {
	for i := 0; i+len(form) <= len(s); i++ {
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		j := 0
		for j < len(form) && lower(s[i+j]) == form[j] {
			j++
		}
		if j == len(form) && (i+j == len(s) || !isAlnum(s[i+j])) {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlnum(c byte) bool {
	c = lower(c)
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// IdentityView is the view of an identity-bearing field (id) whose value
// a probe sent to sensor, as Encode and FieldStatistics read it: two probes
// with the same fields whose identity-bearing values have the same views
// encode alike whatever their destinations.
func IdentityView(id probe.Identity, value string, sensor netip.Addr) string {
	return identityString(id, value, sensor)
}
