package app

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// BenchmarkUpdateCycle is one step of serve's cycle at SD-25 size: the
// weekly update of models trained on the weeks before (SG_BENCH_UPDATE_MODELS,
// read only: each run saves into a new folder), then the identification of
// that week, stored as serve stores it. SG_BENCH_DB names the store and
// SG_BENCH_UPDATE_FROM the week (BENCHMARKS.md says how to make them).
func BenchmarkUpdateCycle(b *testing.B) {
	db, models, from := os.Getenv("SG_BENCH_DB"), os.Getenv("SG_BENCH_UPDATE_MODELS"), os.Getenv("SG_BENCH_UPDATE_FROM")
	if db == "" || models == "" || from == "" {
		b.Skip("SG_BENCH_DB, SG_BENCH_UPDATE_MODELS and SG_BENCH_UPDATE_FROM name the store, the models and the week to add")
	}
	ws, err := time.Parse("2006-01-02", from)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var update, identify time.Duration
	m := benchutil.Start()
	for range b.N {
		dst := b.TempDir()
		t0 := time.Now()
		_, inc, err := Update(ctx, st, UpdateConfig{From: ws, Src: models, Dst: dst})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := Identify(ctx, st, IdentifyConfig{From: ws, To: ws.Add(inc.Period()), Window: inc.Period(), Models: dst}); err != nil {
			b.Fatal(err)
		}
		update, identify = update+t1.Sub(t0), identify+time.Since(t1)
	}
	m.Report(b, float64(b.N), "cycles")
	b.ReportMetric(update.Seconds()/float64(b.N), "update_s")
	b.ReportMetric(identify.Seconds()/float64(b.N), "identify_s")
}
