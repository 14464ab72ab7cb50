// Package evidence gathers, for each scanner IP, every piece of evidence an
// analyst would weigh before naming the organisation behind it, and
// combines them into calibrated probabilities (docs/attribution.md):
//
//   - label memory: the IP is on a list of that organisation (listed);
//   - network neighbourhood: labelled IPs of the organisation in the same
//     /24 and /16, or a listed CIDR of it covering the IP;
//   - payload: how many distinct scanners sent each of the IP's encoded
//     payloads, per organisation, and what the service classifiers say.
//
// The combiner is a conditional logit: one weight per kind of evidence,
// shared by every organisation, so that an organisation with a handful of
// scanners is judged by the same rule as one with a thousand, and the
// "unknown" outcome has its own utility learnt from scanners nobody
// labelled. Its weights and its decision threshold are fitted on a
// validation slice whose evidence was gathered without it (Fit).
package evidence

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// Unattributed is the class of a scanner nobody labelled.
const Unattributed = -1

// Memory is what the labels and the training traffic say about addresses:
// the class each remembered IP was labelled with, and per network how many
// distinct IPs of each class were seen there. Classes are 0..K-1 for the
// known organisations, K for labelled scanners of no known organisation
// (fully disclosed ones such as censys), Unattributed for the rest.
//
// A memory made by Overlay reads through to the one under it and keeps
// only what it learnt itself: its addresses, its changes to the network
// counts (which may be negative: an address relabelled), its networks.
type Memory struct {
	k     int
	base  *Memory // nil, or the read-only memory under an overlay
	ip    map[netip.Addr]int
	net24 map[netip.Prefix]map[int]int
	net16 map[netip.Prefix]map[int]int
	cidrs *bart.Table[int]
}

// NewMemory returns an empty memory for k known classes.
func NewMemory(k int) *Memory {
	return &Memory{k: k, ip: map[netip.Addr]int{}, net24: map[netip.Prefix]map[int]int{},
		net16: map[netip.Prefix]map[int]int{}, cidrs: &bart.Table[int]{}}
}

// Overlay returns a memory that reads through to m and learns on its own:
// identification adds the addresses listed during a window and the
// networks published at its start without copying m, whatever its size.
// m must not change while the overlay is in use; any number of overlays
// may read it at once.
func (m *Memory) Overlay() *Memory {
	o := NewMemory(m.k)
	o.base = m
	return o
}

// K is the number of known classes.
func (m *Memory) K() int { return m.k }

// Len is the number of remembered addresses.
func (m *Memory) Len() int {
	if m.base == nil {
		return len(m.ip)
	}
	n := m.base.Len()
	for a := range m.ip {
		if _, ok := m.base.class(a); !ok {
			n++
		}
	}
	return n
}

// class is the class remembered for an (unmapped) address, through the
// layers.
func (m *Memory) class(addr netip.Addr) (int, bool) {
	for l := m; l != nil; l = l.base {
		if c, ok := l.ip[addr]; ok {
			return c, true
		}
	}
	return 0, false
}

// neighbourhoods returns the /24 and /16 (IPv4) or /48 and /32 (IPv6) of
// an address: the networks a hosting provider or an organisation's own
// allocation usually spans.
func neighbourhoods(a netip.Addr) (narrow, wide netip.Prefix) {
	a = a.Unmap()
	if a.Is4() {
		narrow, _ = a.Prefix(24)
		wide, _ = a.Prefix(16)
		return narrow, wide
	}
	narrow, _ = a.Prefix(48)
	wide, _ = a.Prefix(32)
	return narrow, wide
}

// Add remembers that addr was seen with class c (Unattributed included).
// An address is counted once: the first labelled class wins over
// Unattributed, as a label learnt later outranks having been seen unlabelled.
func (m *Memory) Add(addr netip.Addr, c int) {
	addr = addr.Unmap()
	if old, ok := m.class(addr); ok {
		if old != Unattributed || c == Unattributed {
			return
		}
		m.count(addr, old, -1)
	}
	m.ip[addr] = c
	m.count(addr, c, 1)
}

func (m *Memory) count(addr netip.Addr, c, d int) {
	n24, n16 := neighbourhoods(addr)
	for _, x := range []struct {
		tab map[netip.Prefix]map[int]int
		p   netip.Prefix
	}{{m.net24, n24}, {m.net16, n16}} {
		if x.tab[x.p] == nil {
			x.tab[x.p] = map[int]int{}
		}
		x.tab[x.p][c] += d
		if x.tab[x.p][c] == 0 {
			delete(x.tab[x.p], c)
		}
	}
}

// AddCIDR records a published network of class c (a list entry wider than
// one address).
func (m *Memory) AddCIDR(p netip.Prefix, c int) {
	m.cidrs.Insert(p.Masked(), c)
}

// Listed returns the class an address was labelled with (ok false when it
// was never seen labelled).
func (m *Memory) Listed(addr netip.Addr) (int, bool) {
	c, ok := m.class(addr.Unmap())
	if !ok || c == Unattributed {
		return 0, false
	}
	return c, true
}

// Seen reports whether the address was seen at all (labelled or not).
func (m *Memory) Seen(addr netip.Addr) bool {
	_, ok := m.class(addr.Unmap())
	return ok
}

// CIDR returns the class of the narrowest listed network covering addr.
// Through an overlay, the narrowest of every layer's; the same network in
// two layers has the upper one's class, as if it had been inserted last.
func (m *Memory) CIDR(addr netip.Addr) (int, bool) {
	addr = addr.Unmap()
	if m.base == nil {
		return m.cidrs.Lookup(addr)
	}
	host := netip.PrefixFrom(addr, addr.BitLen())
	best, bestClass, found := netip.Prefix{}, 0, false
	for l := m; l != nil; l = l.base {
		if p, c, ok := l.cidrs.LookupPrefixLPM(host); ok && (!found || p.Bits() > best.Bits()) {
			best, bestClass, found = p, c, true
		}
	}
	return bestClass, found
}

// Neighbours are the classes of the other remembered IPs of one network.
type Neighbours struct {
	// ByClass counts distinct IPs per class (Unattributed included).
	ByClass map[int]int
	// Labelled counts those with a label, All every one.
	Labelled, All int
}

// Neighbourhood returns the other remembered IPs of addr's narrow and wide
// networks; addr itself is left out, so that an IP's own label never
// counts as its neighbours' word.
func (m *Memory) Neighbourhood(addr netip.Addr) (narrow, wide Neighbours) {
	addr = addr.Unmap()
	self, selfOK := m.class(addr)
	n24, n16 := neighbourhoods(addr)
	get := func(wide bool, p netip.Prefix) Neighbours {
		nb := Neighbours{ByClass: map[int]int{}}
		for c, n := range m.netCounts(wide, p) {
			if selfOK && c == self {
				n--
			}
			if n <= 0 {
				continue
			}
			nb.ByClass[c] = n
			nb.All += n
			if c != Unattributed {
				nb.Labelled += n
			}
		}
		return nb
	}
	return get(false, n24), get(true, n16)
}

// netCounts are the distinct remembered IPs of network p per class, summed
// over the layers (the narrow networks' table, or with wide the wide
// ones'). The map returned must not be changed.
func (m *Memory) netCounts(wide bool, p netip.Prefix) map[int]int {
	tab := func(l *Memory) map[int]int {
		if wide {
			return l.net16[p]
		}
		return l.net24[p]
	}
	if m.base == nil {
		return tab(m)
	}
	below := m.base.netCounts(wide, p)
	own := tab(m)
	if len(own) == 0 {
		return below
	}
	sum := make(map[int]int, len(below)+len(own))
	for c, n := range below {
		sum[c] = n
	}
	for c, n := range own {
		sum[c] += n
	}
	return sum
}

// Networks are the narrow and wide networks the neighbourhood evidence
// counts for an address: /24 and /16 (IPv6: /48 and /32).
func Networks(a netip.Addr) (narrow, wide netip.Prefix) { return neighbourhoods(a) }
