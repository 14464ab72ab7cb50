package lists

import (
	"encoding/csv"
	"net/netip"
	"os"
	"testing"

	"go4.org/netipx"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// TestAggregateUnifiedList aggregates every network of the shared unified
// scanner list per organisation and checks that the prefixes cover exactly
// the same addresses, fewer of them, none adjacent to or inside another.
func TestAggregateUnifiedList(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "realdata", "scanner_ip_lists", "unified_scanner_ips.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byOrg := map[string][]netip.Prefix{}
	v6 := 0
	for _, r := range rows[1:] {
		p, err := netip.ParsePrefix(r[0])
		if err != nil {
			t.Fatalf("%q: %v", r[0], err)
		}
		if !p.Addr().Is4() {
			v6++
		}
		byOrg[r[1]] = append(byOrg[r[1]], p)
	}
	if v6 == 0 {
		t.Fatal("no IPv6 network in the unified list")
	}
	in, out := 0, 0
	for org, ps := range byOrg {
		agg := Aggregate(ps)
		in, out = in+len(ps), out+len(agg)
		var want, got netipx.IPSetBuilder
		for _, p := range ps {
			want.AddPrefix(p.Masked())
		}
		for _, p := range agg {
			got.AddPrefix(p)
		}
		ws, _ := want.IPSet()
		gs, _ := got.IPSet()
		if !ws.Equal(gs) {
			t.Errorf("%s: the aggregated prefixes cover other addresses", org)
		}
		if len(agg) > len(ps) {
			t.Errorf("%s: %d prefixes from %d entries", org, len(agg), len(ps))
		}
		for i := 1; i < len(agg); i++ {
			a, b := agg[i-1], agg[i]
			parent := func(p netip.Prefix) netip.Prefix { return netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked() }
			if a.Bits() == b.Bits() && a.Bits() > 0 && parent(a) == parent(b) {
				t.Errorf("%s: %s and %s should have merged", org, agg[i-1], agg[i])
			}
			if agg[i-1].Overlaps(agg[i]) {
				t.Errorf("%s: %s overlaps %s", org, agg[i-1], agg[i])
			}
		}
	}
	t.Logf("%d orgs: %d entries aggregate into %d prefixes", len(byOrg), in, out)
	if out >= in {
		t.Errorf("nothing aggregated: %d entries, %d prefixes", in, out)
	}
}
