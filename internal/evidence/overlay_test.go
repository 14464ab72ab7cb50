package evidence

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

// TestOverlayReadsAsAClone learns the same random additions into a clone
// of a memory and into an overlay over it, and checks that both answer
// every question the same, that the base is left as it was, and that the
// overlay saves and clones as the clone does.
func TestOverlayReadsAsAClone(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const k = 3
	randAddr := func() netip.Addr {
		// few networks, so that counts collide and relabels happen
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(4)), byte(rng.IntN(40))})
	}
	randClass := func() int { return rng.IntN(k+2) - 1 } // Unattributed..k
	base := NewMemory(k)
	for range 400 {
		base.Add(randAddr(), randClass())
	}
	base.AddCIDR(netip.MustParsePrefix("10.1.0.0/16"), 0)
	base.AddCIDR(netip.MustParsePrefix("10.2.3.0/24"), 1)
	before := Save(base, NewPayloads())

	clone, over := base.Clone(), base.Overlay()
	for range 300 {
		a, c := randAddr(), randClass()
		clone.Add(a, c)
		over.Add(a, c)
	}
	for _, x := range []struct {
		p string
		c int
	}{{"10.1.2.0/24", 2}, {"10.2.3.0/24", 0}, {"10.0.0.0/8", 1}} {
		p := netip.MustParsePrefix(x.p)
		clone.AddCIDR(p, x.c)
		over.AddCIDR(p, x.c)
	}
	if clone.Len() != over.Len() {
		t.Fatalf("Len: clone %d, overlay %d", clone.Len(), over.Len())
	}
	for a := range 3 {
		for b := range 5 {
			for c := range 42 {
				ip := netip.AddrFrom4([4]byte{10, byte(a), byte(b), byte(c)})
				lc, lok := clone.Listed(ip)
				lo, ook := over.Listed(ip)
				if lc != lo || lok != ook || clone.Seen(ip) != over.Seen(ip) {
					t.Fatalf("%s: clone listed %d %v seen %v, overlay %d %v seen %v", ip, lc, lok, clone.Seen(ip), lo, ook, over.Seen(ip))
				}
				c24, c16 := clone.Neighbourhood(ip)
				o24, o16 := over.Neighbourhood(ip)
				if !reflect.DeepEqual(c24, o24) || !reflect.DeepEqual(c16, o16) {
					t.Fatalf("%s: clone neighbours %+v %+v, overlay %+v %+v", ip, c24, c16, o24, o16)
				}
				cc, cok := clone.CIDR(ip)
				oc, ook2 := over.CIDR(ip)
				if cc != oc || cok != ook2 {
					t.Fatalf("%s: clone network %d %v, overlay %d %v", ip, cc, cok, oc, ook2)
				}
			}
		}
	}
	if !reflect.DeepEqual(Save(clone, NewPayloads()), Save(over, NewPayloads())) {
		t.Fatal("the overlay saves differently from the clone")
	}
	flat := over.Clone()
	if !reflect.DeepEqual(flat.net24, clone.net24) || !reflect.DeepEqual(flat.net16, clone.net16) || !reflect.DeepEqual(flat.ip, clone.ip) {
		t.Fatal("the overlay's clone differs from the clone")
	}
	if !reflect.DeepEqual(Save(base, NewPayloads()), before) {
		t.Fatal("the overlay wrote into its base")
	}
}
