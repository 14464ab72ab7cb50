package evidence

import (
	"bytes"
	"cmp"
	"math"
	"net/netip"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// Digest identifies an encoded payload: its image's feature.ImageKey.
type Digest = feature.ImageKey

// Payloads counts, per service and encoded payload, the distinct scanner
// IPs of each class that sent it. It is the memory of who sends what:
// zgrab2's default request has a thousand senders of whom a few dozen are
// Shadowserver, an organisation's own User-Agent has mostly its own.
type Payloads struct {
	senders map[string]map[Digest]map[int]int
	seen    map[string]map[Digest]map[netip.Addr]bool
	// images keeps each seen payload's encoded image, and nearest caches
	// the closest seen payload of a never-seen one (see Nearest).
	images  map[string]map[Digest][]uint8
	nearest map[string]map[Digest]nearHit
	// bySum is each service's seen images ordered by pixel sum, built
	// when Nearest first needs it after a change (nil: stale).
	bySum map[string]*sumIndex
}

type nearHit struct {
	d    Digest
	dist float64
}

// NewPayloads returns an empty table.
func NewPayloads() *Payloads {
	return &Payloads{senders: map[string]map[Digest]map[int]int{}, seen: map[string]map[Digest]map[netip.Addr]bool{},
		images: map[string]map[Digest][]uint8{}, nearest: map[string]map[Digest]nearHit{}}
}

// Remember keeps the encoded image of a seen payload, for Nearest.
func (p *Payloads) Remember(service string, d Digest, img []uint8) {
	if p.images[service] == nil {
		p.images[service] = map[Digest][]uint8{}
	}
	if _, ok := p.images[service][d]; !ok {
		p.images[service][d] = append([]uint8(nil), img...)
		delete(p.nearest, service) // a new image may be closer
		delete(p.bySum, service)
	}
}

// Nearest returns the seen payload whose image is closest to img (L1
// distance over pixels, divided by 255 per pixel: 0 identical, 1 every
// pixel opposite) and that distance; ok false when none of the same size
// was seen. A template an organisation varies (another URL path, a newer
// User-Agent) lands next to its siblings, so their senders speak for it.
//
// The answer is the exact nearest image (ties to the smaller digest), found
// without comparing img with every seen image: the L1 distance of two
// images is at least the difference of their pixel sums, so the seen images
// are searched outward from img's sum and the search stops once that
// difference exceeds the best distance found. Random DNS query names make
// the never-seen payloads of a month number in the tens of thousands, and
// comparing each with every seen one grew with the square of the traffic.
//
// Within that window most images are another template's; the distance of
// an image to a few pivots (seen images far apart) bounds its distance to
// img from below as well (|d(img, p) - d(e, p)| by the triangle
// inequality), so those are passed over without being compared. On a
// tenth of 360 Company-23's month (63 k seen DNS images, each query's
// window a ninth of them) that cut the full comparisons from 83 M to 1.2 M;
// the window itself still grows with the seen images.
func (p *Payloads) Nearest(service string, d Digest, img []uint8) (Digest, float64, bool) {
	if h, ok := p.nearest[service][d]; ok {
		return h.d, h.dist, true
	}
	if len(img) == 0 {
		return Digest{}, 0, false
	}
	idx := p.sumIndex(service)
	sum := pixelSum(img)
	hi, _ := slices.BinarySearchFunc(idx.entries, sum, func(e sumEntry, s int) int { return cmp.Compare(e.sum, s) })
	lo := hi - 1
	best, bestDist, found := Digest{}, 0, false
	var toPivot [nearestPivots]int32 // img's distance to each pivot (-1: another size)
	for j := range toPivot {
		toPivot[j] = -1
		if j < len(idx.pivots) && len(idx.pivots[j]) == len(img) {
			d, _ := l1Within(img, idx.pivots[j], math.MaxInt)
			toPivot[j] = int32(d)
		}
	}
	consider := func(e *sumEntry) {
		if len(e.img) != len(img) {
			return
		}
		limit := math.MaxInt
		if found {
			limit = bestDist
			for j, q := range toPivot {
				if q >= 0 && e.toPivot[j] >= 0 && int(abs32(q-e.toPivot[j])) > limit {
					return // farther than the best one
				}
			}
		}
		dist, ok := l1Within(img, e.img, limit)
		if ok && (!found || dist < bestDist || bytesLess(e.d[:], best[:])) {
			best, bestDist, found = e.d, dist, true
		}
	}
	for lo >= 0 || hi < len(idx.entries) {
		// Visit the side whose next sum is closer to img's.
		useHi := lo < 0 || (hi < len(idx.entries) && idx.entries[hi].sum-sum <= sum-idx.entries[lo].sum)
		var gap int
		if useHi {
			gap = idx.entries[hi].sum - sum
		} else {
			gap = sum - idx.entries[lo].sum
		}
		if found && gap > bestDist {
			break // every image left is farther than the best one
		}
		if useHi {
			consider(&idx.entries[hi])
			hi++
		} else {
			consider(&idx.entries[lo])
			lo--
		}
	}
	if !found {
		return Digest{}, 0, false
	}
	x := float64(bestDist) / (255 * float64(len(img)))
	if p.nearest[service] == nil {
		p.nearest[service] = map[Digest]nearHit{}
	}
	p.nearest[service][d] = nearHit{best, x}
	return best, x, true
}

// sumIndex is a service's seen images ordered by pixel sum, with the
// pivots (each entry holds its distance to them).
type sumIndex struct {
	entries []sumEntry
	pivots  [][]uint8
}

type sumEntry struct {
	sum     int
	d       Digest
	img     []uint8
	toPivot [nearestPivots]int32 // -1: the pivot is of another size
}

// nearestPivots is how many pivots a sumIndex has.
const nearestPivots = 8

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// sumIndex returns service's index, building it when stale.
func (p *Payloads) sumIndex(service string) *sumIndex {
	if idx := p.bySum[service]; idx != nil {
		return idx
	}
	idx := &sumIndex{entries: make([]sumEntry, 0, len(p.images[service]))}
	for d, img := range p.images[service] {
		idx.entries = append(idx.entries, sumEntry{sum: pixelSum(img), d: d, img: img})
	}
	// (ties on the digest: the pivots depend on the order)
	slices.SortFunc(idx.entries, func(a, b sumEntry) int { return cmp.Or(cmp.Compare(a.sum, b.sum), bytes.Compare(a.d[:], b.d[:])) })
	idx.choosePivots()
	if p.bySum == nil {
		p.bySum = map[string]*sumIndex{}
	}
	p.bySum[service] = idx
	return idx
}

// choosePivots picks pivots far apart (each the image farthest from the
// ones before, the first the median by sum) and gives every entry its
// distances to them. Images of another size than a pivot have none to it.
func (idx *sumIndex) choosePivots() {
	n := len(idx.entries)
	if n == 0 {
		return
	}
	nearest := make([]int, n) // distance to the closest pivot so far
	for i := range nearest {
		nearest[i] = math.MaxInt
	}
	next := n / 2
	for j := range nearestPivots {
		pivot := idx.entries[next].img
		idx.pivots = append(idx.pivots, pivot)
		far, farDist := -1, 0
		for i := range idx.entries {
			e := &idx.entries[i]
			e.toPivot[j] = -1
			if len(e.img) != len(pivot) {
				continue
			}
			d, _ := l1Within(e.img, pivot, math.MaxInt)
			e.toPivot[j] = int32(d)
			nearest[i] = min(nearest[i], d)
			if nearest[i] > farDist {
				far, farDist = i, nearest[i]
			}
		}
		if far < 0 {
			// every image of the pivot's size is at distance 0 from a
			// pivot: the rest would add nothing
			for i := range idx.entries {
				for k := j + 1; k < nearestPivots; k++ {
					idx.entries[i].toPivot[k] = -1
				}
			}
			return
		}
		next = far
	}
}

func pixelSum(img []uint8) int {
	s := 0
	for _, v := range img {
		s += int(v)
	}
	return s
}

// l1Within returns the L1 distance of two images of one size, and false as
// soon as it exceeds limit (a tie with limit still counts).
func l1Within(a, b []uint8, limit int) (int, bool) {
	dist := 0
	for i, v := range a {
		if v > b[i] {
			dist += int(v - b[i])
		} else {
			dist += int(b[i] - v)
		}
		if dist > limit {
			return dist, false
		}
	}
	return dist, true
}

func bytesLess(a, b []byte) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Add counts one probe: service, encoded payload, sender and its class.
// A sender is counted once per payload.
func (p *Payloads) Add(service string, d Digest, ip netip.Addr, class int) {
	ip = ip.Unmap()
	if p.seen[service] == nil {
		p.seen[service] = map[Digest]map[netip.Addr]bool{}
		p.senders[service] = map[Digest]map[int]int{}
	}
	if p.seen[service][d] == nil {
		p.seen[service][d] = map[netip.Addr]bool{}
		p.senders[service][d] = map[int]int{}
	}
	if p.seen[service][d][ip] {
		return
	}
	p.seen[service][d][ip] = true
	p.senders[service][d][class]++
}

// Senders returns the distinct senders of a payload per class (nil when
// the payload was never seen).
func (p *Payloads) Senders(service string, d Digest) map[int]int {
	return p.senders[service][d]
}

// Len is the number of distinct payloads over all services.
func (p *Payloads) Len() int {
	n := 0
	for _, m := range p.senders {
		n += len(m)
	}
	return n
}

// Probe is one probe of the IP being judged, as the evidence sees it.
type Probe struct {
	Service string
	Digest  Digest
	// Probs are the service classifier's open-set probabilities (K known
	// classes then unknown); nil when the service has no classifier.
	Probs []float32
	// Image is the encoded payload (for a never-seen payload, its nearest
	// seen one is looked up); nil: no lookup.
	Image []uint8
}

// Class-evidence features (one vector per candidate organisation). Every
// value lies in [0, 1] so that one L2 penalty suits all weights.
const (
	fBias      = iota // 1: the candidate's baseline against "unknown"
	fListed           // the IP is labelled with this org
	fCIDR             // a listed network of this org covers the IP
	fPayMean          // mean over probes of senders(org)/(senders+1)
	fPayMax           // max of the same
	fPayOwn           // share of probes whose payload the org owns (> ½ of senders)
	fNNMean           // mean classifier probability of the org
	fNNTop            // share of probes the classifier gives the org
	fNNUnseen         // share of probes with a never-seen payload given the org
	fSvcShare         // share of the IP's services whose best payload evidence is the org
	fNb24Lab          // labelled neighbours in the /24 that are the org, among labelled (+1)
	fNb24All          // the same among all remembered neighbours (+1)
	fNb16Lab          // /16, among labelled
	fNb16All          // /16, among all
	fNb24Count        // log(1+org neighbours in the /24)/log(256)
	fPayAnyOwn        // 1 when any probe carries a payload the org owns: one payload only an org sends outweighs many that everybody sends
	fNearMean         // over never-seen payloads: the org's share of the senders of the nearest seen payload, times its closeness
	NumClassFeatures
)

// Unknown-outcome features.
const (
	gBias          = iota
	gPayUnattr     // mean over probes of unattributed senders/(senders+1)
	gPayUnknown    // mean over probes of labelled no-org senders (censys...)/(senders+1)
	gUnseen        // share of probes whose payload was never seen
	gNNUnknown     // mean classifier probability of "unknown"
	gProbes        // log(1+probes)/log(1000)
	gNb24Unknown   // labelled no-org neighbours in the /24 among labelled (+1)
	gNb24Unattr    // unattributed neighbours in the /24 among all (+1)
	gListedUnknown // the IP is labelled with a no-org label
	gCIDRUnknown   // a listed no-org network covers it
	gNearUnattr    // over never-seen payloads: unattributed share of the nearest seen payload's senders, times closeness
	gNearNoOrg     // the same for no-org senders
	NumUnknownFeatures
)

// ClassFeatureNames and UnknownFeatureNames name the features (reports,
// saved weights).
var (
	ClassFeatureNames = [NumClassFeatures]string{"bias", "listed", "cidr", "payload_mean", "payload_max", "payload_owned",
		"classifier_mean", "classifier_top", "classifier_unseen", "service_share", "nb24_labelled", "nb24_all",
		"nb16_labelled", "nb16_all", "nb24_count", "payload_any_owned", "nearest_payload"}
	UnknownFeatureNames = [NumUnknownFeatures]string{"bias", "payload_unattributed", "payload_no_org", "payload_unseen",
		"classifier_unknown", "probes", "nb24_no_org", "nb24_unattributed", "listed_no_org", "cidr_no_org",
		"nearest_unattributed", "nearest_no_org"}
)

// Candidate is one organisation the evidence points to.
type Candidate struct {
	Class int
	F     [NumClassFeatures]float64
}

// Row is the evidence about one IP: the candidates (every known class with
// any evidence at all, by class index) and the unknown outcome's features.
type Row struct {
	IP         netip.Addr
	Candidates []Candidate
	Unknown    [NumUnknownFeatures]float64
	// Seen is whether the IP was in memory (labelled or not): "new IPs"
	// are those never seen before.
	Seen bool
}

// Build gathers the evidence about one IP from its probes.
func Build(ip netip.Addr, probes []Probe, mem *Memory, pay *Payloads) Row {
	return build(ip, probes, mem, pay, false)
}

// BuildAsNew gathers the evidence about an IP as if it had never been seen:
// no label memory, and its own earlier probes taken out of the payload
// senders (neighbours never count the IP itself). A listed IP is decided by
// its label, so its evidence teaches the combiner nothing; as new, it is
// one more example of what an organisation's unlisted scanner looks like.
func BuildAsNew(ip netip.Addr, probes []Probe, mem *Memory, pay *Payloads) Row {
	return build(ip, probes, mem, pay, true)
}

func build(ip netip.Addr, probes []Probe, mem *Memory, pay *Payloads, asNew bool) Row {
	k := mem.K()
	row := Row{IP: ip, Seen: mem.Seen(ip) && !asNew}
	selfClass, selfKnown := mem.class(ip.Unmap())
	cand := map[int]*Candidate{}
	get := func(c int) *Candidate {
		if cand[c] == nil {
			cand[c] = &Candidate{Class: c}
			cand[c].F[fBias] = 1
		}
		return cand[c]
	}
	if c, ok := mem.Listed(ip); ok && !asNew {
		if c < k {
			get(c).F[fListed] = 1
		} else {
			row.Unknown[gListedUnknown] = 1
		}
	}
	if c, ok := mem.CIDR(ip); ok {
		if c >= 0 && c < k {
			get(c).F[fCIDR] = 1
		} else if c == k {
			row.Unknown[gCIDRUnknown] = 1
		}
	}
	n24, n16 := mem.Neighbourhood(ip)
	for c, n := range n24.ByClass {
		if c >= 0 && c < k {
			f := &get(c).F
			f[fNb24Lab] = float64(n) / float64(n24.Labelled+1)
			f[fNb24All] = float64(n) / float64(n24.All+1)
			f[fNb24Count] = math.Log1p(float64(n)) / math.Log(256)
		}
	}
	row.Unknown[gNb24Unknown] = float64(n24.ByClass[k]) / float64(n24.Labelled+1)
	row.Unknown[gNb24Unattr] = float64(n24.ByClass[Unattributed]) / float64(n24.All+1)
	for c, n := range n16.ByClass {
		if c >= 0 && c < k {
			f := &get(c).F
			f[fNb16Lab] = float64(n) / float64(n16.Labelled+1)
			f[fNb16All] = float64(n) / float64(n16.All+1)
		}
	}

	if len(probes) > 0 {
		inv := 1 / float64(len(probes))
		// best payload evidence per service, for fSvcShare
		type svcBest struct {
			class int
			score float64
		}
		best := map[string]svcBest{}
		// the classifier's mean probability is kept for every class and
		// given to those that end up candidates
		nnSum := make([]float64, k)
		for _, p := range probes {
			s := pay.Senders(p.Service, p.Digest)
			if asNew && selfKnown && s != nil && pay.seen[p.Service][p.Digest][ip.Unmap()] {
				s = withoutSender(s, selfClass)
			}
			total := 0
			for _, n := range s {
				total += n
			}
			if s == nil {
				row.Unknown[gUnseen] += inv
				if p.Image != nil {
					if nd, dist, ok := pay.Nearest(p.Service, p.Digest, p.Image); ok {
						ns := pay.Senders(p.Service, nd)
						nt := 0
						for _, n := range ns {
							nt += n
						}
						w := inv * (1 - dist) / float64(nt+1)
						for c, n := range ns {
							switch {
							case c >= 0 && c < k:
								get(c).F[fNearMean] += w * float64(n)
							case c == k:
								row.Unknown[gNearNoOrg] += w * float64(n)
							default:
								row.Unknown[gNearUnattr] += w * float64(n)
							}
						}
					}
				}
			}
			row.Unknown[gPayUnattr] += inv * float64(s[Unattributed]) / float64(total+1)
			row.Unknown[gPayUnknown] += inv * float64(s[k]) / float64(total+1)
			b := best[p.Service]
			if _, ok := best[p.Service]; !ok {
				b = svcBest{class: -1}
			}
			for c, n := range s {
				if c < 0 || c >= k {
					continue
				}
				f := &get(c).F
				share := float64(n) / float64(total+1)
				f[fPayMean] += inv * share
				f[fPayMax] = max(f[fPayMax], share)
				if 2*n > total {
					f[fPayOwn] += inv
					f[fPayAnyOwn] = 1
				}
				if share > b.score || (share == b.score && c < b.class) {
					b = svcBest{c, share}
				}
			}
			if len(p.Probs) == k+1 {
				top := argmax(p.Probs)
				row.Unknown[gNNUnknown] += inv * float64(p.Probs[k])
				if top < k {
					f := &get(top).F
					f[fNNTop] += inv
					if s == nil {
						f[fNNUnseen] += inv
					}
					if b.class < 0 {
						b = svcBest{top, 0}
					}
				}
				for c := range k {
					nnSum[c] += inv * float64(p.Probs[c])
				}
			}
			best[p.Service] = b
		}
		for _, b := range best {
			if b.class >= 0 {
				get(b.class).F[fSvcShare] += 1 / float64(len(best))
			}
		}
		for c, x := range cand {
			x.F[fNNMean] = nnSum[c]
		}
	}
	row.Unknown[gBias] = 1
	row.Unknown[gProbes] = min(1, math.Log1p(float64(len(probes)))/math.Log(1000))
	for _, c := range cand {
		row.Candidates = append(row.Candidates, *c)
	}
	slices.SortFunc(row.Candidates, func(a, b Candidate) int { return cmp.Compare(a.Class, b.Class) })
	return row
}

// withoutSender returns a copy of senders with one sender of class c less
// (nil when none is left: a payload only the IP itself sent is unseen).
func withoutSender(senders map[int]int, c int) map[int]int {
	out := make(map[int]int, len(senders))
	total := 0
	for k, n := range senders {
		if k == c {
			n--
		}
		if n > 0 {
			out[k] = n
			total += n
		}
	}
	if total == 0 {
		return nil
	}
	return out
}

func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}
