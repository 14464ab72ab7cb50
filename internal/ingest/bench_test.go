package ingest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// sd24World generates the SelfDeploy-24-sized synthetic world (≈1.2 M
// packets, ≈150 k first probes in 91 daily pcaps) once per benchmark.
func sd24World(b *testing.B) string {
	b.Helper()
	cfg, err := simulate.PresetConfig("sd24", 1)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, "pcap")
}

// BenchmarkExtractSD24 is capture + session tracking + parsing alone.
func BenchmarkExtractSD24(b *testing.B) {
	pcaps := sd24World(b)
	b.ResetTimer()
	m := benchutil.Start()
	var st capture.Stats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = capture.Extract(context.Background(), []string{pcaps}, capture.Options{}, func(probe.Probe) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	m.Report(b, float64(st.Packets)*float64(b.N), "packets")
	b.ReportMetric(float64(st.Probes)*float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}

// BenchmarkIngestSD24 is the whole ingest into a fresh SQLite store.
func BenchmarkIngestSD24(b *testing.B) {
	pcaps := sd24World(b)
	b.ResetTimer()
	m := benchutil.Start()
	var res Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "sg.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err = Run(context.Background(), st, Capture, []string{pcaps}, capture.Options{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	m.Report(b, float64(res.Packets)*float64(b.N), "packets")
	m.Report(b, float64(res.Stored)*float64(b.N), "probes")
}
