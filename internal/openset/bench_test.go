package openset

import (
	"context"
	"math/rand/v2"
	"testing"
)

// benchData is n distinct sparse binary 32×32 images (about 5% of pixels
// lit, like the encoded probes), half of them labeled.
func benchData(n, k int) Dataset {
	rng := rand.New(rand.NewPCG(1, 1))
	ds := Dataset{H: 32, W: 32}
	for i := 0; i < n; i++ {
		img := make([]uint8, 32*32)
		for p := range img {
			if rng.IntN(20) == 0 {
				img[p] = 255
			}
		}
		ds.Images = append(ds.Images, img)
		y := Unlabeled
		if i%2 == 0 {
			y = i % k
		}
		ds.Labels = append(ds.Labels, y)
	}
	return ds
}

// benchTrain measures training throughput in logical images per second
// (64 labeled + 2×448 unlabeled = 960 per iteration), with every image
// distinct so only the weak/strong merge applies.
func benchTrain(b *testing.B, backbone string, merge bool) {
	cfg := PaperConfig(25, false)
	cfg.Backbone = backbone
	cfg.MergeDuplicates = merge
	ds := benchData(20000, 25)
	m, err := NewModel(cfg, 32, 32)
	if err != nil {
		b.Fatal(err)
	}
	images := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Train(context.Background(), ds, 1, func(s Stats) { images += s.Images }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkTrainWRN(b *testing.B)         { benchTrain(b, BackboneWRN, true) }
func BenchmarkTrainWRNFaithful(b *testing.B) { benchTrain(b, BackboneWRN, false) }
func BenchmarkTrainMLP(b *testing.B)         { benchTrain(b, BackboneMLP, true) }
func BenchmarkTrainMLPFaithful(b *testing.B) { benchTrain(b, BackboneMLP, false) }

// benchPredict measures probes/s on a stream of 100,000 probes drawn from
// 500 distinct images (payloads repeat heavily in real traffic).
func benchPredict(b *testing.B, backbone string, cached bool) {
	cfg := PaperConfig(25, false)
	cfg.Backbone = backbone
	m, err := NewModel(cfg, 32, 32)
	if err != nil {
		b.Fatal(err)
	}
	distinct := benchData(500, 25).Images
	rng := rand.New(rand.NewPCG(2, 2))
	probes := make([][]uint8, 100000)
	for i := range probes {
		// Fresh slices: the cache must hash contents, not pointers.
		probes[i] = append([]uint8(nil), distinct[rng.IntN(len(distinct))]...)
	}
	if !cached {
		probes = probes[:512]
	}
	if cached {
		m.Predict(probes) // warm: the cache holds every distinct image
	}
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if cached {
			if _, err := m.Predict(probes); err != nil {
				b.Fatal(err)
			}
		} else {
			for lo := 0; lo < len(probes); lo += predictBatchSize {
				m.infer(probes[lo : lo+predictBatchSize])
			}
		}
		n += len(probes)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "probes/s")
}

func BenchmarkPredictCachedMLP(b *testing.B)   { benchPredict(b, BackboneMLP, true) }
func BenchmarkPredictUncachedMLP(b *testing.B) { benchPredict(b, BackboneMLP, false) }
func BenchmarkPredictCachedWRN(b *testing.B)   { benchPredict(b, BackboneWRN, true) }
func BenchmarkPredictUncachedWRN(b *testing.B) { benchPredict(b, BackboneWRN, false) }
