package app

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// BenchmarkLookupExplain is one IP's verdict with the models in memory
// (SG_BENCH_DB, SG_BENCH_MODELS: an SD-25-sized store and its models).
func BenchmarkLookupExplain(b *testing.B) {
	db, models := os.Getenv("SG_BENCH_DB"), os.Getenv("SG_BENCH_MODELS")
	if db == "" {
		b.Skip("SG_BENCH_DB and SG_BENCH_MODELS name the store and models to measure")
	}
	ctx := context.Background()
	// The writer's handle brings the schema up to date, as serve opens it
	// before its reader.
	if w, err := store.Open(ctx, db); err != nil {
		b.Fatal(err)
	} else {
		w.Close()
	}
	st, err := store.OpenReader(ctx, db, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lk, err := NewLookup(ctx, st, models)
	if err != nil {
		b.Fatal(err)
	}
	atts, err := st.Attributions(ctx, "")
	if err != nil || len(atts) == 0 {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		ip := netip.MustParseAddr(atts[(i*7919)%len(atts)].IP)
		if _, err := lk.Explain(ctx, []netip.Addr{ip}, time.Time{}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
