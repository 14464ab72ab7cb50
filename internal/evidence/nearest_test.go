package evidence

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// exhaustiveNearest is Nearest by comparing img with every seen image of
// its size: the definition the pruned search must match exactly.
func exhaustiveNearest(seen map[Digest][]uint8, img []uint8) (Digest, float64, bool) {
	best, bestDist, found := Digest{}, math.Inf(1), false
	for k, s := range seen {
		if len(s) != len(img) || len(img) == 0 {
			continue
		}
		dist := 0
		for i, v := range img {
			dist += max(int(v)-int(s[i]), int(s[i])-int(v))
		}
		x := float64(dist) / (255 * float64(len(img)))
		if x < bestDist || (x == bestDist && bytesLess(k[:], best[:])) {
			best, bestDist, found = k, x, true
		}
	}
	return best, bestDist, found
}

// The search that stops at the pixel-sum bound finds the same image, at
// the same distance, as comparing with every seen image: on random images
// of two sizes whose few pixel values make many ties, with images added
// between queries.
func TestNearestMatchesExhaustiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	randomImage := func() []uint8 {
		img := make([]uint8, 12+4*rng.IntN(2)) // 12 or 16 pixels
		for i := range img {
			img[i] = []uint8{0, 1, 2, 128, 255}[rng.IntN(5)]
		}
		return img
	}
	pay := NewPayloads()
	seen := map[Digest][]uint8{}
	queries := 0
	for round := range 4 {
		for range 300 {
			img := randomImage()
			d := feature.KeyOf(img)
			pay.Remember("dns", d, img)
			seen[d] = img
		}
		for q := range 300 {
			img := randomImage()
			if q%10 == 0 {
				img = img[:0] // an empty image has no nearest one
			}
			d := feature.KeyOf(append(img, byte(round)))
			gotD, gotX, gotOK := pay.Nearest("dns", d, img)
			wantD, wantX, wantOK := exhaustiveNearest(seen, img)
			if gotOK != wantOK || gotD != wantD || (wantOK && gotX != wantX) {
				t.Fatalf("round %d query %d: got %x %v %v, want %x %v %v", round, q, gotD[:4], gotX, gotOK, wantD[:4], wantX, wantOK)
			}
			queries++
		}
	}
	if queries != 1200 {
		t.Fatalf("%d queries", queries)
	}
}

// templatedImages are n images of 83 pixels from a few templates, each
// with some pixels drawn at random (a DNS query name's random label): the
// shape of the images the pivots are for.
func templatedImages(rng *rand.Rand, templates [][]uint8, n int) [][]uint8 {
	out := make([][]uint8, n)
	for i := range out {
		img := append([]uint8(nil), templates[rng.IntN(len(templates))]...)
		for range 4 + rng.IntN(12) {
			img[rng.IntN(len(img))] = uint8(rng.IntN(256))
		}
		out[i] = img
	}
	return out
}

func randomTemplates(rng *rand.Rand, n, size int) [][]uint8 {
	ts := make([][]uint8, n)
	for i := range ts {
		ts[i] = make([]uint8, size)
		for j := range ts[i] {
			if rng.IntN(3) > 0 {
				ts[i][j] = uint8(rng.IntN(256))
			}
		}
	}
	return ts
}

// On templated images, where the pivots pass over most of the window, the
// search still finds exactly the nearest image.
func TestNearestOnTemplatedImages(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	templates := randomTemplates(rng, 40, 83)
	pay := NewPayloads()
	seen := map[Digest][]uint8{}
	for _, img := range templatedImages(rng, templates, 3000) {
		d := feature.KeyOf(img)
		pay.Remember("dns", d, img)
		seen[d] = img
	}
	for q, img := range templatedImages(rng, templates, 400) {
		d := feature.KeyOf(append(img, 0xff))
		gotD, gotX, gotOK := pay.Nearest("dns", d, img)
		wantD, wantX, wantOK := exhaustiveNearest(seen, img)
		if gotOK != wantOK || gotD != wantD || gotX != wantX {
			t.Fatalf("query %d: got %x %v %v, want %x %v %v", q, gotD[:4], gotX, gotOK, wantD[:4], wantX, wantOK)
		}
	}
}

// BenchmarkNearest: queries of never-seen templated images against 100 k
// seen ones (a month of random DNS names at a tenth of 360 Company-23 is
// 60 k).
func BenchmarkNearest(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 5))
	templates := randomTemplates(rng, 200, 83)
	pay := NewPayloads()
	for _, img := range templatedImages(rng, templates, 100_000) {
		pay.Remember("dns", feature.KeyOf(img), img)
	}
	queries := templatedImages(rng, templates, 1000)
	pay.Nearest("dns", Digest{}, queries[0]) // builds the index
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		img := queries[i%len(queries)]
		d := feature.KeyOf(append(img, byte(i), byte(i>>8), byte(i>>16)))
		if _, _, ok := pay.Nearest("dns", d, img); !ok {
			b.Fatal("no nearest image")
		}
	}
}
