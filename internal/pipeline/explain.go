package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Verdict classes of an explanation.
const (
	// ClassListed: the IP is on a list of the organisation valid at the
	// time (label memory decides it).
	ClassListed = "listed"
	// ClassAttributed: no list names the IP; its evidence does.
	ClassAttributed = "attributed"
	// ClassUnknown: no organisation reaches the threshold.
	ClassUnknown = "unknown"
	// ClassFullyDisclosed: listed by an organisation that publishes all of
	// its scanners (censys, driftnet...), which is not a class: such IPs
	// are known, but teach nothing about unlisted ones.
	ClassFullyDisclosed = "fully-disclosed"
)

// Explanation is the verdict on one IP with the evidence behind it, in the
// terms an analyst checks: lists, payloads and who else sent them, the
// network around the IP, and how much each weighed.
type Explanation struct {
	IP             string    `json:"ip"`
	Org            string    `json:"org"`
	Classification string    `json:"classification"`
	Confidence     float64   `json:"confidence"`
	Threshold      float64   `json:"threshold"`
	Label          string    `json:"label,omitempty"`
	NewIP          bool      `json:"new_ip"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	Probes         int       `json:"probes"`
	Services       []string  `json:"services"`
	Ports          []int     `json:"ports"`
	// ByNetwork: the organisation was named by the network rule (most
	// labelled IPs of the /24 are its own) although the probability is
	// below the threshold.
	ByNetwork bool `json:"by_network,omitempty"`
	// NoOrgNetwork: unknown because most labelled IPs of the /24 are
	// scanners of no known organisation (the no-org network rule).
	NoOrgNetwork bool `json:"no_org_network,omitempty"`
	// Candidates are the organisations with any evidence, most probable
	// first, with what spoke for and against each.
	Candidates []CandidateReason `json:"candidates"`
	Unknown    UnknownReason     `json:"unknown"`
	// Payloads are the IP's distinct encoded payloads per service.
	Payloads      []PayloadReason     `json:"payloads"`
	Neighbourhood NeighbourhoodReason `json:"neighbourhood"`
	// Reasons say the above in sentences, the verdict's first.
	Reasons []string `json:"reasons"`
}

// CandidateReason is one organisation's probability and the evidence
// effects on it (evidence.Contribution).
type CandidateReason struct {
	Org         string                  `json:"org"`
	Probability float64                 `json:"probability"`
	Evidence    []evidence.Contribution `json:"evidence"`
	// OnlyWideNetwork: the organisation's only evidence is its labelled
	// IPs elsewhere in the IP's /16, which names nobody.
	OnlyWideNetwork bool `json:"only_wide_network,omitempty"`
}

// UnknownReason is the probability that no known organisation is behind
// the IP, and what spoke for that.
type UnknownReason struct {
	Probability float64                 `json:"probability"`
	Evidence    []evidence.Contribution `json:"evidence"`
}

// PayloadReason is one distinct encoded payload the IP sent: what it is
// (the service's one-line summary: request line and User-Agent, JA3/JA4,
// qname...), how many distinct training scanners of each organisation sent
// the same encoding ("unattributed": nobody labelled them; "no-org":
// fully disclosed organisations), and the classifier's verdict. A payload
// training never saw names its nearest seen payload instead.
type PayloadReason struct {
	Service               string          `json:"service"`
	Key                   string          `json:"key"`
	Probes                int             `json:"probes"`
	Ports                 []int           `json:"ports"`
	Summary               string          `json:"summary"`
	TrainingSenders       map[string]int  `json:"training_senders"`
	Nearest               *NearestPayload `json:"nearest,omitempty"`
	Classifier            string          `json:"classifier"`
	ClassifierProbability float64         `json:"classifier_probability"`
}

// NearestPayload is the closest training payload to a never-seen one.
type NearestPayload struct {
	Key             string         `json:"key"`
	Distance        float64        `json:"distance"`
	TrainingSenders map[string]int `json:"training_senders"`
}

// NeighbourhoodReason counts the other remembered IPs of the IP's /24 and
// /16 (IPv6: /48 and /32) per organisation, and names the organisation
// whose listed network covers it.
type NeighbourhoodReason struct {
	Narrow        string         `json:"narrow"`
	NarrowIPs     map[string]int `json:"narrow_ips"`
	Wide          string         `json:"wide"`
	WideIPs       map[string]int `json:"wide_ips"`
	ListedNetwork string         `json:"listed_network,omitempty"`
}

// Sender names used in explanations for the two classes that are no
// organisation.
const (
	SenderUnattributed = "unattributed"
	SenderNoOrg        = "no-org"
)

// Explain attributes every IP of data as Identify does and says why.
func (m *Models) Explain(data *Data) ([]Explanation, error) {
	if m.Combiner == nil {
		return nil, errors.New("these models combine per-service votes (--ensemble vote), which name no evidence; explanations need models trained with the evidence combiner (the default)")
	}
	state := m.windowState(data)
	images, err := encodeData(m.Services, data)
	if err != nil {
		return nil, err
	}
	g, err := groupByIP(m.Services, data, images)
	if err != nil {
		return nil, err
	}
	seen := seenSummary(data)
	out := make([]Explanation, 0, len(g.ips))
	for k, ip := range g.ips { // every IP of data, in address order
		out = append(out, m.explainOne(ip, g.at(k), seen[ip], data, state))
	}
	return out, nil
}

// ipSeen is when and where an IP probed.
type ipSeen struct {
	first, last time.Time
	probes      int
	services    []string
	ports       map[int]bool
	label       string
}

func seenSummary(data *Data) map[netip.Addr]*ipSeen {
	out := map[netip.Addr]*ipSeen{}
	for _, svc := range Services {
		ser := data.S(svc)
		for i := range ser.Len() {
			ip, t := ser.SrcIP(i), ser.Time(i)
			s := out[ip]
			if s == nil {
				s = &ipSeen{first: t, last: t, ports: map[int]bool{}}
				out[ip] = s
			}
			if t.Before(s.first) {
				s.first = t
			}
			if t.After(s.last) {
				s.last = t
			}
			s.probes++
			s.ports[int(ser.DstPort(i))] = true
			if !slices.Contains(s.services, svc) {
				s.services = append(s.services, svc)
			}
			if o := ser.Org(i); o != "" {
				s.label = o
			}
		}
	}
	return out
}

func (m *Models) senderNames(senders map[int]int) map[string]int {
	out := make(map[string]int, len(senders))
	for c, n := range senders {
		out[m.senderName(c)] += n
	}
	return out
}

func (m *Models) senderName(c int) string {
	switch {
	case c == evidence.Unattributed:
		return SenderUnattributed
	case c >= m.Classes.Unknown:
		return SenderNoOrg
	}
	return m.Classes.Name(c)
}

func (m *Models) explainOne(ip netip.Addr, a *ipProbes, s *ipSeen, data *Data, state *evidenceState) Explanation {
	cmb := m.Combiner
	row := evidence.Build(ip, a.probes, state.mem, state.pay)
	v := cmb.Decide(&row, cmb.Theta)
	ex := Explanation{IP: ip.String(), Org: m.Classes.Name(v.Class), Confidence: v.Prob, Threshold: cmb.Theta,
		Label: s.label, NewIP: !row.Seen, FirstSeen: s.first.UTC(), LastSeen: s.last.UTC(), Probes: s.probes,
		Services: s.services, Ports: slices.Sorted(maps.Keys(s.ports)), ByNetwork: v.ByNetwork,
		NoOrgNetwork: v.Class == m.Classes.Unknown && v.Network == m.Classes.Unknown}
	probs, pUnknown := cmb.Proba(&row)
	for i := range row.Candidates {
		c := &row.Candidates[i]
		ex.Candidates = append(ex.Candidates, CandidateReason{Org: m.Classes.Name(c.Class), Probability: probs[i],
			Evidence: cmb.CandidateContributions(c), OnlyWideNetwork: !cmb.Nameable(c)})
	}
	slices.SortStableFunc(ex.Candidates, func(x, y CandidateReason) int { return cmp.Compare(y.Probability, x.Probability) })
	ex.Unknown = UnknownReason{Probability: pUnknown, Evidence: cmb.UnknownContributions(&row)}
	ex.Payloads = m.payloadReasons(a, data, state)
	ex.Neighbourhood = m.neighbourhoodReason(ip, state)
	listedClass, listed := state.mem.Listed(ip)
	switch {
	case listed && listedClass >= m.Classes.Unknown:
		ex.Classification = ClassFullyDisclosed
	case listed:
		ex.Classification = ClassListed
	case v.Class < m.Classes.Unknown:
		ex.Classification = ClassAttributed
	default:
		ex.Classification = ClassUnknown
	}
	ex.Reasons = ex.sentences()
	return ex
}

func (m *Models) payloadReasons(a *ipProbes, data *Data, state *evidenceState) []PayloadReason {
	type key struct {
		svc string
		d   evidence.Digest
	}
	index := map[key]int{}
	var out []PayloadReason
	ports := map[key]map[int]bool{}
	for i, p := range a.probes {
		k := key{p.Service, p.Digest}
		pr := data.S(a.refs[i].service).Probe(a.refs[i].index)
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			ports[k] = map[int]bool{}
			r := PayloadReason{Service: p.Service, Key: p.Digest.String(), Summary: probe.Summary(pr)}
			if senders := state.pay.Senders(p.Service, p.Digest); senders != nil {
				r.TrainingSenders = m.senderNames(senders)
			} else if nd, dist, ok := state.pay.Nearest(p.Service, p.Digest, p.Image); ok {
				r.Nearest = &NearestPayload{Key: nd.String(), Distance: dist, TrainingSenders: m.senderNames(state.pay.Senders(p.Service, nd))}
			}
			if len(p.Probs) > 0 {
				best := argmax32(p.Probs)
				r.Classifier, r.ClassifierProbability = m.Classes.Name(best), float64(p.Probs[best])
			}
			out = append(out, r)
		}
		out[j].Probes++
		ports[k][int(pr.DstPort)] = true
	}
	for k, j := range index {
		out[j].Ports = slices.Sorted(maps.Keys(ports[k]))
	}
	return out
}

func argmax32(p []float32) int {
	best := 0
	for i, x := range p {
		if x > p[best] {
			best = i
		}
	}
	return best
}

func (m *Models) neighbourhoodReason(ip netip.Addr, state *evidenceState) NeighbourhoodReason {
	n24, n16 := state.mem.Neighbourhood(ip)
	narrow, wide := evidence.Networks(ip)
	r := NeighbourhoodReason{Narrow: narrow.String(), Wide: wide.String(),
		NarrowIPs: m.senderNames(n24.ByClass), WideIPs: m.senderNames(n16.ByClass)}
	if c, ok := state.mem.CIDR(ip); ok {
		r.ListedNetwork = m.senderName(c)
	}
	return r
}

// networkSentence says why the network rule named the organisation.
func (ex *Explanation) networkSentence() string {
	nb, labelled := ex.Neighbourhood.NarrowIPs, ex.Neighbourhood.labelled()
	return fmt.Sprintf("attributed to %s by its network: %d of the %d labelled IPs of %s are %s; the evidence together gives it probability %.2f, below the threshold %.2f",
		ex.Org, nb[ex.Org], labelled, ex.Neighbourhood.Narrow, ex.Org, ex.Confidence, ex.Threshold)
}

// noOrgNetworkSentence says why the no-org network rule made it unknown.
func (ex *Explanation) noOrgNetworkSentence() string {
	nb := ex.Neighbourhood
	s := fmt.Sprintf("unknown: %d of the %d labelled IPs of %s are scanners of no known organisation (organisations that publish all their scanners, as Censys does)",
		nb.NarrowIPs[SenderNoOrg], nb.labelled(), nb.Narrow)
	if len(ex.Candidates) > 0 {
		s += fmt.Sprintf("; the most probable organisation, %s, had probability %.2f", ex.Candidates[0].Org, ex.Candidates[0].Probability)
	}
	return s
}

// wideOnlySentence says why a probable organisation was not named.
func wideOnlySentence(c CandidateReason) string {
	return fmt.Sprintf("%s (probability %.2f) was not named: its only evidence is its labelled IPs elsewhere in this IP's /16, which names nobody", c.Org, c.Probability)
}

// candidate returns the reason of org (zero when it is no candidate).
func (ex *Explanation) candidate(org string) CandidateReason {
	for _, c := range ex.Candidates {
		if c.Org == org {
			return c
		}
	}
	return CandidateReason{}
}

// nameable returns the most probable candidate that evidence of the IP's
// own points to.
func (ex *Explanation) nameable() (CandidateReason, bool) {
	for _, c := range ex.Candidates {
		if !c.OnlyWideNetwork {
			return c, true
		}
	}
	return CandidateReason{}, false
}

// labelled counts the labelled IPs of the /24 (no-org labels included).
func (nb NeighbourhoodReason) labelled() int {
	n := 0
	for name, c := range nb.NarrowIPs {
		if name != SenderUnattributed {
			n += c
		}
	}
	return n
}

// sentences writes the explanation for a reader: the verdict, then each
// payload and the neighbourhood.
func (ex *Explanation) sentences() []string {
	var out []string
	switch ex.Classification {
	case ClassListed:
		out = append(out, fmt.Sprintf("listed: a label of %s is valid for this IP in the period", ex.Org))
	case ClassFullyDisclosed:
		out = append(out, fmt.Sprintf("listed by %s, an organisation that publishes all of its scanners (not a class of the models)", ex.Label))
	case ClassAttributed:
		if ex.ByNetwork {
			out = append(out, ex.networkSentence())
			break
		}
		out = append(out, fmt.Sprintf("attributed to %s with probability %.2f (threshold %.2f); strongest evidence: %s",
			ex.Org, ex.Confidence, ex.Threshold, effects(ex.candidate(ex.Org).Evidence)))
		if c := ex.Candidates[0]; c.OnlyWideNetwork {
			out = append(out, wideOnlySentence(c))
		}
	default:
		switch {
		case ex.NoOrgNetwork:
			out = append(out, ex.noOrgNetworkSentence())
		case len(ex.Candidates) == 0:
			out = append(out, "unknown: no organisation has any evidence (no payload its scanners sent, no labelled neighbour)")
		case ex.Candidates[0].OnlyWideNetwork:
			s := "unknown: " + wideOnlySentence(ex.Candidates[0])
			if c, ok := ex.nameable(); ok {
				s += fmt.Sprintf("; the most probable organisation with evidence of the IP's own, %s, has probability %.2f, below the threshold %.2f", c.Org, c.Probability, ex.Threshold)
			}
			out = append(out, s)
		default:
			c := ex.Candidates[0]
			out = append(out, fmt.Sprintf("unknown: the most probable organisation, %s, has probability %.2f, below the threshold %.2f; for unknown: %s",
				c.Org, c.Probability, ex.Threshold, effects(ex.Unknown.Evidence)))
		}
	}
	for _, p := range ex.Payloads {
		switch {
		case p.TrainingSenders != nil:
			out = append(out, fmt.Sprintf("%s payload %q (%d probes) was sent in training by %s", p.Service, p.Summary, p.Probes, senders(p.TrainingSenders)))
		case p.Nearest != nil:
			out = append(out, fmt.Sprintf("%s payload %q (%d probes) was never seen in training; the nearest seen one (distance %.3f) was sent by %s",
				p.Service, p.Summary, p.Probes, p.Nearest.Distance, senders(p.Nearest.TrainingSenders)))
		default:
			out = append(out, fmt.Sprintf("%s payload %q (%d probes) was never seen in training", p.Service, p.Summary, p.Probes))
		}
	}
	nb := ex.Neighbourhood
	if len(nb.NarrowIPs) > 0 {
		out = append(out, fmt.Sprintf("network %s: %s", nb.Narrow, senders(nb.NarrowIPs)))
	}
	if len(nb.WideIPs) > 0 {
		out = append(out, fmt.Sprintf("network %s: %s", nb.Wide, senders(nb.WideIPs)))
	}
	if nb.ListedNetwork != "" {
		out = append(out, fmt.Sprintf("inside a network listed for %s", nb.ListedNetwork))
	}
	return out
}

// effects writes the three strongest contributions ("payload_owned +4.5").
func effects(cs []evidence.Contribution) string {
	var parts []string
	for _, c := range cs[:min(3, len(cs))] {
		parts = append(parts, fmt.Sprintf("%s %+.1f", c.Feature, c.Effect))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// senders writes sender counts, largest first ("12 stretchoid, 3 unattributed").
func senders(m map[string]int) string {
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%d %s", m[n], n))
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", ") + " scanners"
}
