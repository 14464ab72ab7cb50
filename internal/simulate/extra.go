package simulate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// The services SelfDeploy-24's per-scanner counts leave out (SSH and RDP:
// the artifact's scanner tables count HTTP, TLS and DNS only) are
// "extra" services. Nothing real says how much each scanner sends them, so
// the world draws it from the rates of profiles.json's "extra_services",
// after everything else and from a random stream of its own: adding a
// service never changes a world's HTTP, TLS and DNS traffic, scanners or
// labels of the same seed; it adds sessions, and the scanners that send
// only the new service.

// extraTag is the second PCG word of the extra services' random stream.
const extraTag = 0x55e1_7a0c_d3b9_4f21

// extraRate is how one extra service is sent (profiles.json,
// "extra_services": {"<service>": {...}}).
type extraRate struct {
	// PerProbe: a scanner that sends the service sends, per part of the
	// span, a Poisson number of its probes with this mean per probe of the
	// counted services it sends in that part.
	PerProbe float64 `json:"per_probe"`
	// UnknownShare of the unattributed scanners send the service (those
	// that replay an org's templates send it when the org does; org
	// members send it when their org has templates for it).
	UnknownShare float64 `json:"unknown_share"`
	// OnlyShare: per scanner an org (or the unattributed population) has,
	// this many more scanners send this service and nothing else, from
	// fresh addresses in the /16s of their peers.
	OnlyShare float64 `json:"only_share"`
	// OnlyTrain and OnlyTest are the mean probe counts of such a scanner in
	// the train and test parts (each at least one).
	OnlyTrain float64 `json:"only_train"`
	OnlyTest  float64 `json:"only_test"`
}

func (c *catalog) loadExtraRates(raw map[string]json.RawMessage) error {
	for name, v := range raw {
		if name == "source" {
			continue
		}
		i := slices.Index(serviceNames, name)
		if i < 0 || !slices.Contains(c.extra, i) {
			return fmt.Errorf("extra_services: %q is no service without counts", name)
		}
		var r extraRate
		if err := probe.DecodeStrict(v, &r); err != nil {
			return fmt.Errorf("extra_services %s: %w", name, err)
		}
		for _, x := range []float64{r.PerProbe, r.UnknownShare, r.OnlyShare, r.OnlyTrain, r.OnlyTest} {
			if x < 0 || math.IsNaN(x) || x > 100 {
				return fmt.Errorf("extra_services %s: rates must be in [0, 100]", name)
			}
		}
		if r.UnknownShare > 1 {
			return fmt.Errorf("extra_services %s: unknown_share must be in [0, 1]", name)
		}
		c.extraRates[i] = r
	}
	for _, i := range c.extra {
		if _, ok := raw[serviceNames[i]]; !ok {
			return fmt.Errorf("extra_services: no rates for %s", serviceNames[i])
		}
	}
	return nil
}

// planExtra adds the extra services' probes: to the scanners that send
// them, and from the scanners that send nothing else.
func (p *planner) planExtra() {
	if len(p.cat.extra) == 0 {
		return
	}
	p.rng = rand.New(rand.NewPCG(p.cfg.Seed, extraTag))
	existing := len(p.scanners)
	for _, s := range p.scanners[:existing] {
		for _, svc := range p.cat.extra {
			p.addExtraCounts(s, svc)
		}
	}
	for _, svc := range p.cat.extra {
		p.addExtraOnly(svc, existing)
	}
	if p.cfg.TemplatesPerOrg > 0 {
		p.restrictTemplates(p.cat.extra)
	}
	p.planSessions(p.cat.extra)
}

// sendsExtra decides whether a scanner sends svc, choosing an unattributed
// scanner's tool for it.
func (p *planner) sendsExtra(s *scanner, svc int) bool {
	switch {
	case s.profile != nil:
		return s.profile.has(svc)
	case s.mimic != nil && s.mimic.has(svc):
		return true
	case !p.anyTool(svc) || p.rng.Float64() >= p.cat.extraRates[svc].UnknownShare:
		return false
	}
	s.tools[svc] = p.pickTool(svc)
	return true
}

func (p *planner) anyTool(svc int) bool {
	return slices.ContainsFunc(p.cat.tools, func(t *toolProfile) bool { return t.has(svc) })
}

func (p *planner) addExtraCounts(s *scanner, svc int) {
	if !p.sendsExtra(s, svc) {
		return
	}
	rate := p.cat.extraRates[svc].PerProbe
	for seg := range 2 {
		base := 0
		for _, c := range p.cat.counted {
			base += s.counts[seg][c]
		}
		s.counts[seg][svc] = p.capCount(poisson(p.rng, rate*float64(base)))
	}
}

func (p *planner) capCount(n int) int {
	if p.cfg.MaxProbesPerScanner > 0 {
		return min(n, p.cfg.MaxProbesPerScanner)
	}
	return n
}

// addExtraOnly adds the scanners that send svc and nothing else: for every
// org with templates of svc, OnlyShare per labelled member it has in the
// world (a fractional rest drawn), labelled themselves unless
// Config.HiddenPerOrg hides them as it hides the org's other members; and
// as many per unattributed scanner, using a generic tool (with
// Config.UnattributedRatio, that many per labelled scanner added).
func (p *planner) addExtraOnly(svc, existing int) {
	r := p.cat.extraRates[svc]
	peers := map[string][]*scanner{}
	for _, s := range p.scanners[:existing] {
		switch {
		case s.labelled():
			peers[s.org] = append(peers[s.org], s)
		case s.org == unknownOrg:
			peers[unknownOrg] = append(peers[unknownOrg], s)
		}
	}
	used := make(map[netip.Addr]bool, len(p.cat.scanners)+len(p.scanners))
	for _, rs := range p.cat.scanners {
		used[rs.IP] = true
	}
	for _, s := range p.scanners {
		used[s.ip] = true
	}
	listed := 0 // labelled scanners added, for Config.UnattributedRatio
	for _, org := range append(slices.Clone(p.cat.orgNames), unknownOrg) {
		members := peers[org]
		if len(members) == 0 || org != unknownOrg && !p.cat.orgs[org].has(svc) || org == unknownOrg && !p.anyTool(svc) {
			continue
		}
		x := r.OnlyShare * float64(len(members))
		if org == unknownOrg && p.cfg.UnattributedRatio > 0 {
			// The world keeps its ratio of unattributed to labelled
			// scanners.
			x = p.cfg.UnattributedRatio * float64(listed)
		}
		n := int(x)
		if p.rng.Float64() < x-float64(n) {
			n++
		}
		for range n {
			peer := members[p.rng.IntN(len(members))].ip.As4()
			var ip netip.Addr
			for {
				ip = netip.AddrFrom4([4]byte{peer[0], peer[1], byte(p.rng.IntN(256)), byte(1 + p.rng.IntN(254))})
				if !used[ip] {
					used[ip] = true
					break
				}
			}
			s := p.drawScanner(realScanner{Org: org, IP: ip}, org)
			s.extraOnly = true
			if org == unknownOrg {
				s.tools[svc] = p.pickTool(svc)
			} else if !slices.Contains(FullyDisclosed, org) && p.rng.Float64() < p.cfg.HiddenPerOrg {
				// As many unlisted members as the org's others have.
				s.hidden = true
			}
			if s.labelled() {
				listed++
			}
			s.counts[0][svc] = p.capCount(1 + poisson(p.rng, max(0, r.OnlyTrain-1)))
			s.counts[1][svc] = p.capCount(1 + poisson(p.rng, max(0, r.OnlyTest-1)))
			p.scanners = append(p.scanners, s)
		}
	}
}

// poisson draws a Poisson variate of mean lambda: by Knuth's product of
// uniforms for small means, by the normal approximation for large ones.
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	limit, prod, n := math.Exp(-lambda), rng.Float64(), 0
	for prod > limit {
		prod *= rng.Float64()
		n++
	}
	return n
}
