package pipeline

import (
	"net/netip"
	"sort"

	"github.com/scannergrouper/scannergrouper/internal/feature"
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
//
// The same counts, taken over distinct source IPs, also tell how much a
// probe says about the organisation the classifier gives it (MinPurity):
// zgrab2's default request is sent by Shadowserver and by a thousand
// others, so the classifier rightly calls it Shadowserver-like, yet an IP
// sending it is most likely not Shadowserver. Such probes are weak votes
// (see vote); the ensemble learns what weak votes are worth.
type Background struct {
	// MinCount is how many unlabelled occurrences make an image background.
	MinCount int
	// MinPurity > 0 makes a probe a strong vote for its predicted class c
	// only when more than MinPurity of the distinct training IPs that sent
	// its encoding are labelled c.
	MinPurity float64
	// counts per image digest: unlabelled and labelled occurrences.
	unlabelled map[feature.ImageKey]int
	labelled   map[feature.ImageKey]int
	// senders per image digest: distinct source IPs per training label
	// (-1: not labelled), summed over Add calls (IP-weeks in incremental
	// mode).
	senders map[feature.ImageKey]map[int]int
	// owners is the frozen form of senders in a loaded full-mode model:
	// the images a class owns, with that class.
	owners map[feature.ImageKey]int
}

// NewBackground returns an empty set; minCount ≤ 0 disables it.
func NewBackground(minCount int) *Background {
	return &Background{MinCount: minCount, unlabelled: map[feature.ImageKey]int{}, labelled: map[feature.ImageKey]int{},
		senders: map[feature.ImageKey]map[int]int{}}
}

// withPurity sets MinPurity and returns b.
func (b *Background) withPurity(p float64) *Background {
	b.MinPurity = p
	return b
}

func (b *Background) enabled() bool { return b != nil && (b.MinCount > 0 || b.MinPurity > 0) }

// Add counts the training probes of one service, images[i] being the
// encoding of probes[i] (incremental mode calls it every week; counts
// accumulate).
func (b *Background) Add(images [][]uint8, probes []probe.Probe, orgs []string, classes *Classes) {
	b.add(len(probes), func(i int) (feature.ImageKey, netip.Addr, int) {
		return feature.KeyOf(images[i]), probes[i].SrcIP, classes.TrainLabel(orgs[i])
	})
}

// addEncoding is Add of the probes of an encoded series.
func (b *Background) addEncoding(enc *encoding, classes *Classes) {
	labels := classes.orgLabels(enc.s.tab)
	b.add(enc.s.Len(), func(i int) (feature.ImageKey, netip.Addr, int) {
		return enc.key(i), enc.s.SrcIP(i), labels[enc.s.recs.at(i).org]
	})
}

// add counts n probes, at(i) giving the digest of probe i's image, its
// source and its training label.
func (b *Background) add(n int, at func(i int) (feature.ImageKey, netip.Addr, int)) {
	if !b.enabled() {
		return
	}
	type sender struct {
		digest feature.ImageKey
		ip     netip.Addr
	}
	seen := map[sender]bool{}
	for i := range n {
		d, ip, y := at(i)
		if y >= 0 {
			b.labelled[d]++
		} else {
			b.unlabelled[d]++
		}
		if k := (sender{d, ip}); !seen[k] {
			seen[k] = true
			if b.senders[d] == nil {
				b.senders[d] = map[int]int{}
			}
			b.senders[d][y]++
		}
	}
}

// Contains reports whether an encoded image is background.
func (b *Background) Contains(img []uint8) bool {
	return b.containsDigest(feature.KeyOf(img))
}

func (b *Background) containsDigest(d feature.ImageKey) bool {
	if b == nil || b.MinCount <= 0 {
		return false
	}
	return b.unlabelled[d] >= b.MinCount && b.labelled[d] == 0
}

// owner returns the class that owns an image (more than MinPurity of its
// distinct training senders), -1 when none does or training never saw it.
func (b *Background) owner(d feature.ImageKey) int {
	if c, ok := b.owners[d]; ok {
		return c
	}
	s, ok := b.senders[d]
	if !ok {
		return -1
	}
	total, best := 0, -1
	for c, n := range s {
		total += n
		if c >= 0 && (best < 0 || n > s[best] || (n == s[best] && c < best)) {
			best = c
		}
	}
	if best >= 0 && float64(s[best]) > b.MinPurity*float64(total) {
		return best
	}
	return -1
}

// vote turns a probe's predicted class into its vote value (see
// Classes.weakVote): background images vote unknown, and with MinPurity
// every prediction is weak unless training saw the image mostly from
// scanners of the predicted class. An image training never saw is weak
// too: most are payloads with random fields (a resolver survey's random
// query names), which the classifier reads as whatever org is nearest; an
// org's changed payload waits for the next training to count fully.
func (b *Background) vote(img []uint8, class int, classes *Classes) int {
	if !b.enabled() {
		return class
	}
	d := feature.KeyOf(img)
	if b.containsDigest(d) {
		class = classes.Unknown
	}
	if b.MinPurity <= 0 {
		return class
	}
	if class == classes.Unknown {
		return classes.weakVote(class)
	}
	if b.owner(d) != class {
		return classes.weakVote(class)
	}
	return class
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
			out = append(out, d.String())
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
		if d, ok := feature.ParseImageKey(s); ok {
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
		out[d.String()] = [2]int{u, b.labelled[d]}
	}
	for d, l := range b.labelled {
		if _, ok := b.unlabelled[d]; !ok {
			out[d.String()] = [2]int{0, l}
		}
	}
	return out
}

func backgroundFromCounts(minCount int, counts map[string][2]int) *Background {
	b := NewBackground(minCount)
	for s, c := range counts {
		if d, ok := feature.ParseImageKey(s); ok {
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

// ownerTable exports the training images (hex SHA-256) that a class owns,
// with that class: what a saved full-mode model needs to tell strong votes
// (every other image votes weak, seen or not).
func (b *Background) ownerTable() map[string]int {
	if b == nil || b.MinPurity <= 0 {
		return nil
	}
	out := map[string]int{}
	for d := range b.senders {
		if c := b.owner(d); c >= 0 {
			out[d.String()] = c
		}
	}
	for d, c := range b.owners {
		if c >= 0 {
			out[d.String()] = c
		}
	}
	return out
}

// senderCounts exports the distinct-sender counts (hex digest → label →
// IPs) so that a saved incremental state keeps learning.
func (b *Background) senderCounts() map[string]map[int]int {
	if b == nil || len(b.senders) == 0 {
		return nil
	}
	out := make(map[string]map[int]int, len(b.senders))
	for d, s := range b.senders {
		out[d.String()] = s
	}
	return out
}

// withOwners restores a saved owner table (frozen: Add does not change it).
func (b *Background) withOwners(table map[string]int) *Background {
	b.owners = make(map[feature.ImageKey]int, len(table))
	for s, c := range table {
		if d, ok := feature.ParseImageKey(s); ok {
			b.owners[d] = c
		}
	}
	return b
}

// withSenders restores saved distinct-sender counts.
func (b *Background) withSenders(counts map[string]map[int]int) *Background {
	for s, c := range counts {
		if d, ok := feature.ParseImageKey(s); ok {
			b.senders[d] = c
		}
	}
	return b
}
