package feature

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// sd24Size is the SelfDeploy-24 full-mode HTTP probe count (train+test),
// the "SD-24-sized" dataset of the benchmarks.
const sd24Size = 150_000

var benchData = struct {
	once                sync.Once
	http, tls           []probe.Probe
	httpLabel, tlsLabel []string
}{}

func loadBenchData() {
	benchData.once.Do(func() {
		benchData.http, benchData.httpLabel = synthHTTP(rand.New(rand.NewPCG(24, 1)), sd24Size)
		benchData.tls, benchData.tlsLabel = synthTLS(rand.New(rand.NewPCG(24, 2)), sd24Size)
	})
}

// BenchmarkEncodeHTTP reports probes encoded per second on one core with
// the paper's six HTTP fields on an incremental 32×32 canvas.
func BenchmarkEncodeHTTP(b *testing.B) {
	loadBenchData()
	benchEncode(b, ServiceHTTP, benchData.http, httpFixtureFields)
}

func BenchmarkEncodeTLS(b *testing.B) {
	loadBenchData()
	benchEncode(b, ServiceTLS, benchData.tls,
		[]string{"extensions", "extensions_hash_algs", "extensions_supported_groups", "handshake_ciphersuites", "handshake_version", "ja3"})
}

// benchEncode times Layout.Encode over ps, one probe per iteration, on an
// incremental 32×32 canvas of the given fields, and reports probes/s.
func benchEncode(b *testing.B, service string, ps []probe.Probe, fields []string) {
	b.Helper()
	l, err := BuildLayout(service, ps, LayoutConfig{Fields: fields, Mode: ModeIncremental})
	if err != nil {
		b.Fatal(err)
	}
	img := make([]uint8, l.Pixels())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Encode(ps[i%len(ps)], img)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}

// BenchmarkFieldStatistics ranks every field of 150k probes (MI + AMI).
func BenchmarkFieldStatistics(b *testing.B) {
	loadBenchData()
	for _, c := range []struct {
		name   string
		ps     []probe.Probe
		labels []string
	}{{"http", benchData.http, benchData.httpLabel}, {"tls", benchData.tls, benchData.tlsLabel}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				t, err := FieldStatistics(c.name, c.ps, c.labels)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := t.Select(SelectDefault); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuildLayoutHTTP(b *testing.B) {
	loadBenchData()
	for i := 0; i < b.N; i++ {
		if _, err := BuildLayout(ServiceHTTP, benchData.http, LayoutConfig{Fields: httpFixtureFields}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDedupHTTP(b *testing.B) {
	loadBenchData()
	l, err := BuildLayout(ServiceHTTP, benchData.http, LayoutConfig{Fields: httpFixtureFields, Mode: ModeIncremental})
	if err != nil {
		b.Fatal(err)
	}
	images := l.EncodeAll(benchData.http)
	b.ResetTimer()
	var unique int
	for i := 0; i < b.N; i++ {
		u, _, _ := Dedup(images)
		unique = len(u)
	}
	b.ReportMetric(float64(unique), "unique")
}

// BenchmarkExportNPY writes 20k HTTP probes as 32×32 images plus metadata;
// the npy writer inspects every element, which dominates.
func BenchmarkExportNPY(b *testing.B) {
	loadBenchData()
	ps := benchData.http[:20_000]
	l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: httpFixtureFields, Mode: ModeIncremental})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ExportNPY(dir, l, ps, benchData.httpLabel[:20_000]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ps)*b.N)/b.Elapsed().Seconds(), "probes/s")
}
