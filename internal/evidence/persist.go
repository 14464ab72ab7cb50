package evidence

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// Saved is the serialisable form of what evidence is measured against:
// payload senders per service and encoded payload, and the remembered
// addresses with their class. Published networks are not saved: they are
// read from the label store when identifying, valid at that time.
type Saved struct {
	K int `json:"k"`
	// Payloads: service → hex SHA-256 of the encoded payload → class →
	// distinct senders.
	Payloads map[string]map[string]map[int]int `json:"payloads"`
	// Addresses: IP → class (Unattributed for seen but unlabelled).
	Addresses map[string]int `json:"addresses"`
	// Images: service → key → the encoded image (base64), for the
	// nearest-payload evidence of never-seen payloads.
	Images map[string]map[string][]byte `json:"images,omitempty"`
}

// Save exports a memory and a payload table.
func Save(mem *Memory, pay *Payloads) *Saved {
	if mem.base != nil {
		mem = mem.Clone()
	}
	s := &Saved{K: mem.k, Payloads: map[string]map[string]map[int]int{}, Addresses: make(map[string]int, len(mem.ip))}
	for svc, m := range pay.senders {
		out := make(map[string]map[int]int, len(m))
		for d, c := range m {
			out[d.String()] = c
		}
		s.Payloads[svc] = out
	}
	for ip, c := range mem.ip {
		s.Addresses[ip.String()] = c
	}
	for svc, m := range pay.images {
		if s.Images == nil {
			s.Images = map[string]map[string][]byte{}
		}
		out := make(map[string][]byte, len(m))
		for d, img := range m {
			out[d.String()] = img
		}
		s.Images[svc] = out
	}
	return s
}

// Load rebuilds a memory and a payload table. Senders are counted once per
// payload until the save; a sender counted before the save and seen again
// after it counts twice (IP-windows rather than IPs), which only matters
// for weekly updates and errs towards the sender's own class.
func (s *Saved) Load() (*Memory, *Payloads, error) {
	mem := NewMemory(s.K)
	ips := make([]string, 0, len(s.Addresses))
	for ip := range s.Addresses {
		ips = append(ips, ip)
	}
	sort.Strings(ips) // Add is order-sensitive only for relabelling; keep it deterministic
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, nil, fmt.Errorf("saved evidence: address %q: %w", ip, err)
		}
		c := s.Addresses[ip]
		if c < Unattributed || c > s.K {
			return nil, nil, fmt.Errorf("saved evidence: address %s has class %d outside -1..%d", ip, c, s.K)
		}
		mem.Add(a, c)
	}
	pay := NewPayloads()
	for svc, m := range s.Payloads {
		pay.senders[svc] = make(map[Digest]map[int]int, len(m))
		pay.seen[svc] = map[Digest]map[netip.Addr]bool{}
		for h, c := range m {
			d, ok := feature.ParseImageKey(h)
			if !ok {
				return nil, nil, fmt.Errorf("saved evidence: %s payload digest %q is not a SHA-256", svc, h)
			}
			pay.senders[svc][d] = c
			pay.seen[svc][d] = map[netip.Addr]bool{}
		}
	}
	for svc, m := range s.Images {
		for h, img := range m {
			d, ok := feature.ParseImageKey(h)
			if !ok {
				return nil, nil, fmt.Errorf("saved evidence: %s image key %q is not a SHA-256", svc, h)
			}
			pay.Remember(svc, d, img)
		}
	}
	return mem, pay, nil
}

// Clone returns a copy of the memory that can learn without changing m,
// with no layers (an overlay's layers are merged). It costs as much as m
// is large; identification reads through an Overlay instead.
func (m *Memory) Clone() *Memory {
	if m.base != nil {
		c := m.base.Clone()
		for ip, cl := range m.ip {
			c.ip[ip] = cl
		}
		for _, x := range []struct{ src, dst map[netip.Prefix]map[int]int }{{m.net24, c.net24}, {m.net16, c.net16}} {
			for p, byClass := range x.src {
				if x.dst[p] == nil {
					x.dst[p] = map[int]int{}
				}
				for k, v := range byClass {
					if x.dst[p][k] += v; x.dst[p][k] == 0 {
						delete(x.dst[p], k)
					}
				}
			}
		}
		for p, cl := range m.cidrs.All() {
			c.cidrs.Insert(p, cl)
		}
		return c
	}
	c := NewMemory(m.k)
	for ip, cl := range m.ip {
		c.ip[ip] = cl
	}
	for _, x := range []struct{ src, dst map[netip.Prefix]map[int]int }{{m.net24, c.net24}, {m.net16, c.net16}} {
		for p, byClass := range x.src {
			cp := make(map[int]int, len(byClass))
			for k, v := range byClass {
				cp[k] = v
			}
			x.dst[p] = cp
		}
	}
	c.cidrs = m.cidrs.Clone()
	return c
}
