package analysis

import (
	"math/rand/v2"
	"testing"
)

// benchWorld is n still-unknown HTTP probes in 128-d: eight groups of very different sizes (as
// generic tools are) at moderate separation, with real payload fields and source IPs.
func benchWorld(b *testing.B, n int) ReportInput {
	tools := []string{"curl", "wget", "python-urllib", "zgrab2-http", "go-nethttp", "masscan-1.3.2-http-hello", "node-fetch", "python-requests"}
	weights := []float64{0.30, 0.20, 0.15, 0.12, 0.10, 0.07, 0.04, 0.02}
	payloads := realToolProbes(b, tools)
	ips := realHTTPSourceIPs(b)
	centres, _ := blobs(len(tools), 1, 128, 25, 77)
	rng := rand.New(rand.NewPCG(77, 1))
	probes := make([]ProbeInput, n)
	for i := range probes {
		r, ti := rng.Float64(), 0
		for ti < len(weights)-1 && r > weights[ti] {
			r -= weights[ti]
			ti++
		}
		v := make([]float32, 128)
		for j := range v {
			v[j] = float32(centres.Row(ti)[j] + rng.NormFloat64())
		}
		probes[i] = ProbeInput{IP: ips[(ti*97+rng.IntN(60))%len(ips)], Fields: payloads[tools[ti]], Vector: v}
	}
	return ReportInput{Title: "benchmark", Services: []ServiceInput{{Service: "http", KeyFields: httpKeyFields, Probes: probes}}}
}

func vectorsOf(in ReportInput) *Points {
	rows := make([][]float32, len(in.Services[0].Probes))
	for i, p := range in.Services[0].Probes {
		rows[i] = p.Vector
	}
	p, _ := PointsFromFloat32(rows)
	return p
}

// BenchmarkWriteReport20k is the whole analysis of one SD-24-sized service: K search 3..10 with
// 10 restarts each, silhouettes on 2000 probes, Barnes–Hut t-SNE (1000 iterations), statistics,
// two figures in two formats.
func BenchmarkWriteReport20k(b *testing.B) {
	in := benchWorld(b, 20000)
	dir := b.TempDir()
	b.ResetTimer()
	for range b.N {
		rep, err := WriteReport(dir, in, Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Services[0].K), "K")
	}
}

func BenchmarkClusterSearch20k(b *testing.B) {
	p := vectorsOf(benchWorld(b, 20000))
	b.ResetTimer()
	for range b.N {
		if _, err := Cluster(p, ClusterConfig{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTSNEBarnesHut20k(b *testing.B) {
	p := vectorsOf(benchWorld(b, 20000))
	b.ResetTimer()
	for range b.N {
		if _, err := TSNE(p, TSNEConfig{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTSNEBarnesHut20kDuplicates: half the probes are copies of 20 payloads, as real scans
// repeat; coincident points must not turn the quadtree walk quadratic.
func BenchmarkTSNEBarnesHut20kDuplicates(b *testing.B) {
	p := vectorsOf(benchWorld(b, 20000))
	for i := 0; i < p.N; i += 2 {
		copy(p.Row(i), p.Row(i%40))
	}
	b.ResetTimer()
	for range b.N {
		if _, err := TSNE(p, TSNEConfig{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteReportSD24Shape is a whole window the size of the SD-24 test split's still-unknown
// set (the artifact's HTTP clusters hold 8,696 probes; TLS and DNS sized in proportion to their
// probe counts), each service with a known-class view of 5 orgs (2,060 labelled probes each, of which the
// default cap draws 1,000) and 300 attributed unknown-class probes.
func BenchmarkWriteReportSD24Shape(b *testing.B) {
	var in ReportInput
	for si, svc := range []struct {
		name string
		n    int
	}{{"http", 8700}, {"tls", 6700}, {"dns", 2700}} {
		w := benchWorld(b, svc.n)
		s := w.Services[0]
		s.Service = svc.name
		known, _ := blobs(5, 2060, 128, 25, uint64(si))
		kc := &KnownClassInput{}
		for i := range known.N {
			v := make([]float32, 128)
			for j, x := range known.Row(i) {
				v[j] = float32(x)
			}
			ov := OrgVector{Org: []string{"shodan", "binaryedge", "internet_census", "shadowserver", "onyphe"}[i%5], Vector: v}
			if i%(known.N/300) == 0 {
				kc.Attributed = append(kc.Attributed, ov)
			} else {
				kc.Labelled = append(kc.Labelled, ov)
			}
		}
		s.KnownClass = kc
		in.Services = append(in.Services, s)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for range b.N {
		if _, err := WriteReport(dir, in, Config{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
