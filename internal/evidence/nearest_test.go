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
