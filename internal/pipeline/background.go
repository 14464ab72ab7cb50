package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Background is the set of encoded probes that the training traffic showed
// many times and never from a labelled scanner of a known organisation:
// the payloads of generic tools (masscan, zgrab2's defaults, curl, bots).
// IOMatch has no way to learn that an image seen ten thousand times in the
// unlabelled pool and never labelled is nobody's: its open-set head maps
// such images to the nearest known organisation, and every IP that runs the
// tool then votes for it. Calling these images unknown keeps the votes of
// the known organisations clean. Images also seen from labelled scanners
// are never in the set, so hidden members of known organisations, who send
// their colleagues' payloads, are unaffected.
type Background struct {
	// MinCount is how many unlabelled occurrences make an image background.
	MinCount int
	// counts per image digest: unlabelled and labelled occurrences.
	unlabelled map[[32]byte]int
	labelled   map[[32]byte]int
}

// NewBackground returns an empty set; minCount ≤ 0 disables it.
func NewBackground(minCount int) *Background {
	return &Background{MinCount: minCount, unlabelled: map[[32]byte]int{}, labelled: map[[32]byte]int{}}
}

// Add counts the training probes of one service (incremental mode calls it
// every week; counts accumulate).
func (b *Background) Add(sm *ServiceModel, probes []probe.Probe, orgs []string, classes *Classes) {
	if b == nil || b.MinCount <= 0 {
		return
	}
	buf := make([]uint8, sm.Layout.Pixels())
	for i, p := range probes {
		sm.Layout.Encode(p, buf)
		d := sha256.Sum256(buf)
		if classes.TrainLabel(orgs[i]) >= 0 {
			b.labelled[d]++
		} else {
			b.unlabelled[d]++
		}
	}
}

// Contains reports whether an encoded image is background.
func (b *Background) Contains(img []uint8) bool {
	if b == nil || b.MinCount <= 0 {
		return false
	}
	d := sha256.Sum256(img)
	return b.unlabelled[d] >= b.MinCount && b.labelled[d] == 0
}

// Len is the number of background images.
func (b *Background) Len() int {
	n := 0
	for d, c := range b.unlabelled {
		if c >= b.MinCount && b.labelled[d] == 0 {
			n++
		}
	}
	return n
}

// digests lists the background images' SHA-256, sorted, for saving.
func (b *Background) digests() []string {
	var out []string
	for d, c := range b.unlabelled {
		if c >= b.MinCount && b.labelled[d] == 0 {
			out = append(out, hex.EncodeToString(d[:]))
		}
	}
	sort.Strings(out)
	return out
}

// backgroundFrom rebuilds a saved set (the counts are not kept: a loaded
// set answers Contains but does not learn).
func backgroundFrom(minCount int, digests []string) *Background {
	b := NewBackground(minCount)
	for _, s := range digests {
		var d [32]byte
		if raw, err := hex.DecodeString(s); err == nil && len(raw) == 32 {
			copy(d[:], raw)
			b.unlabelled[d] = minCount
		}
	}
	return b
}

// counts exports the occurrence counts (hex digest → [unlabelled, labelled])
// so that a saved incremental state keeps learning.
func (b *Background) counts() map[string][2]int {
	out := make(map[string][2]int, len(b.unlabelled))
	for d, u := range b.unlabelled {
		out[hex.EncodeToString(d[:])] = [2]int{u, b.labelled[d]}
	}
	for d, l := range b.labelled {
		if _, ok := b.unlabelled[d]; !ok {
			out[hex.EncodeToString(d[:])] = [2]int{0, l}
		}
	}
	return out
}

func backgroundFromCounts(minCount int, counts map[string][2]int) *Background {
	b := NewBackground(minCount)
	for s, c := range counts {
		var d [32]byte
		if raw, err := hex.DecodeString(s); err == nil && len(raw) == 32 {
			copy(d[:], raw)
			if c[0] > 0 {
				b.unlabelled[d] = c[0]
			}
			if c[1] > 0 {
				b.labelled[d] = c[1]
			}
		}
	}
	return b
}
