package simulate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

const (
	day = int64(24 * time.Hour / time.Microsecond)
	sec = int64(time.Second / time.Microsecond)
	ms  = int64(time.Millisecond / time.Microsecond)
	// dayTail keeps visits away from midnight so that every session lies
	// inside one daily pcap file.
	dayTail = 15 * 60 * sec
	// maxVisit probes at most 60 s apart keep a visit shorter than dayTail.
	maxVisit = 10
	// ephemeralLow..+ephemeralSpan is the Linux ephemeral port range.
	ephemeralLow  = 32768
	ephemeralSpan = 28232
)

// scanner is one source IP of the world.
type scanner struct {
	idx    int
	ip     netip.Addr
	org    string // true org, unknownOrg for unattributed
	hidden bool   // member of org, but not in labels.csv
	// extraOnly scanners send nothing but one extra service (extra.go);
	// the structural knobs count the others.
	extraOnly bool
	counts    [2][maxServices]int
	profile   *orgProfile
	tools     [maxServices]*toolProfile // primary generic tool (unattributed only)
	// mimic is the org whose templates an unattributed scanner replays in
	// the services that org has (Config.GenericMimics), named mimicOrg.
	mimic    *orgProfile
	mimicOrg string
	// allowed restricts the org templates this scanner sends per service
	// to these indices (Config.TemplatesPerOrg); nil allows all.
	allowed  [maxServices][]int
	rtt      int64 // µs
	ttl      uint8
	portBase uint32
	portStep uint32
	nextPort uint32
}

func (s *scanner) labelled() bool { return s.org != unknownOrg && !s.hidden }

// newPort returns a source port this scanner has not used before: the range
// has 28232 = 2^3·3529 ports and every stride is odd and below 3529, so the
// sequence visits each port once before it wraps.
func (s *scanner) newPort() uint16 {
	p := (s.portBase + s.nextPort*s.portStep) % ephemeralSpan
	s.nextPort++
	return uint16(ephemeralLow + p)
}

// session is one generated connection with its first probe.
type session struct {
	scanner   *scanner
	seq       int // generation order, breaks time ties
	service   int
	dst       netip.Addr
	dport     uint16
	sport     uint16
	synTime   int64 // µs since the Unix epoch
	probeTime int64 // arrival of the first payload byte
	profile   string
	payload   []byte
	banner    []byte // the honeypot's first words (an SSH identification)
	split     int    // where the client wrote its payload in two parts (0: one write)
	reply     []byte
	ja3       string
	signature string
	// template extends signature where it leaves out list content the
	// payload carries (ClientHello lists beyond JA3), for templates.csv.
	template string
	shape    sessionShape
}

// sessionShape holds every random choice of the packet exchange, drawn at
// planning time so that writing packets consumes no randomness.
type sessionShape struct {
	clientISN, serverISN uint32
	rtt                  int64 // scanner <-> honeypot round trip, µs
	clientDelay          int64 // ACK of the handshake -> first payload
	split                int   // bytes in the first payload segment (0 = whole)
	splitGap             int64
	retransmit           bool
	rto                  int64
	serverDelay          int64 // payload -> honeypot reply
	closeWithRST         bool
	serverClosesFirst    bool
	ipID                 uint16
	ttl                  uint8
	window               uint16
}

// planner draws the whole world from one seeded source, in a fixed order.
type planner struct {
	cfg        Config
	cat        *catalog
	rng        *rand.Rand
	start, end int64
	split      int64
	scanners   []*scanner
	sessions   []*session
}

func newPlanner(cfg Config, cat *catalog) *planner {
	start, end := cfg.Span()
	return &planner{
		cfg: cfg, cat: cat,
		// One source for everything; the second PCG word is a fixed tag so
		// that seed 0 is as good as any other.
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5ca9_9e2b_0b5e_55ed)),
		start: start.UnixMicro(), end: end.UnixMicro(), split: cfg.SplitTime().UnixMicro(),
	}
}

// chooseScanners keeps a share of the real scanners of every org (at least
// one per labelled org), scales their probe counts to the world's length
// and turns a share of the unattributed ones into hidden org members.
func (p *planner) chooseScanners() {
	byOrg := map[string][]realScanner{}
	for _, rs := range p.cat.scanners {
		byOrg[rs.Org] = append(byOrg[rs.Org], rs)
	}
	orgs := append(slices.Clone(p.cat.orgNames), unknownOrg)
	var unknownPicked []*scanner
	for _, org := range orgs {
		rows := byOrg[org]
		if len(rows) == 0 {
			continue
		}
		frac := p.cfg.KnownFraction
		if org == unknownOrg {
			frac = p.cfg.UnknownFraction
			if p.cfg.HiddenPerOrg > 0 {
				// Before the unattributed ones are drawn, so that
				// UnattributedRatio counts the labelled scanners left.
				p.hidePerOrg()
			}
		}
		n := max(1, int(math.Round(float64(len(rows))*frac)))
		if org == unknownOrg && p.cfg.UnattributedRatio > 0 {
			n = max(1, int(math.Round(float64(p.countLabelled())*p.cfg.UnattributedRatio)))
		}
		perm := p.rng.Perm(len(rows))[:min(n, len(rows))]
		slices.Sort(perm) // keep the file's (org, ip) order
		for _, i := range perm {
			s := p.newScanner(rows[i], org)
			if org == unknownOrg {
				unknownPicked = append(unknownPicked, s)
			}
		}
		if org == unknownOrg && n > len(rows) {
			unknownPicked = append(unknownPicked, p.reuseUnattributed(rows, n-len(rows))...)
		}
	}
	if p.cfg.HiddenPerOrg == 0 {
		p.hideMembers(unknownPicked, byOrg)
	}
	if p.cfg.GenericMimics > 0 {
		p.pickMimics(unknownPicked)
	}
	for _, s := range p.scanners {
		p.scaleCounts(s)
	}
	if p.cfg.TemplatesPerOrg > 0 {
		p.restrictTemplates(p.cat.counted)
	}
}

func (p *planner) countLabelled() int {
	n := 0
	for _, s := range p.scanners {
		if s.labelled() {
			n++
		}
	}
	return n
}

// hidePerOrg hides HiddenPerOrg of each known org's chosen scanners (never
// a fully disclosed org's, which publishes every IP, and never the last
// labelled one, so that the org stays known to training).
func (p *planner) hidePerOrg() {
	byOrg := map[string][]*scanner{}
	for _, s := range p.scanners {
		byOrg[s.org] = append(byOrg[s.org], s)
	}
	for _, org := range p.cat.orgNames {
		members := byOrg[org]
		if len(members) == 0 || slices.Contains(FullyDisclosed, org) {
			continue
		}
		n := min(int(math.Round(float64(len(members))*p.cfg.HiddenPerOrg)), len(members)-1)
		for _, i := range p.rng.Perm(len(members))[:n] {
			members[i].hidden = true
		}
	}
}

// reuseUnattributed adds n unattributed scanners beyond the real ones: each
// copies a random real row (its probe counts, hence its volume and timing)
// and gets a fresh address in the /16 of another random real unattributed
// scanner, so that the added traffic comes from where unattributed traffic
// really comes from. No address is used twice, real ones included.
func (p *planner) reuseUnattributed(rows []realScanner, n int) []*scanner {
	used := make(map[netip.Addr]bool, len(p.cat.scanners)+n)
	for _, rs := range p.cat.scanners {
		used[rs.IP] = true
	}
	out := make([]*scanner, 0, n)
	for range n {
		rs := rows[p.rng.IntN(len(rows))]
		prefix := rows[p.rng.IntN(len(rows))].IP.As4()
		for {
			a := [4]byte{prefix[0], prefix[1], byte(p.rng.IntN(256)), byte(1 + p.rng.IntN(254))}
			ip := netip.AddrFrom4(a)
			if !used[ip] {
				used[ip] = true
				rs.IP = ip
				break
			}
		}
		out = append(out, p.newScanner(rs, unknownOrg))
	}
	return out
}

// pickMimics makes GenericMimics unattributed scanners per known org (fully
// disclosed ones aside: their members are scored as unknown anyway) replay
// that org's templates. Scanners are drawn without replacement, so each
// mimics one org at most.
func (p *planner) pickMimics(unknown []*scanner) {
	var pool []*scanner
	for _, s := range unknown {
		if !s.hidden && s.org == unknownOrg {
			pool = append(pool, s)
		}
	}
	p.rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	present := map[string]bool{}
	for _, s := range p.scanners {
		if s.labelled() {
			present[s.org] = true
		}
	}
	for _, org := range p.cat.orgNames {
		if !present[org] || slices.Contains(FullyDisclosed, org) {
			continue
		}
		for range p.cfg.GenericMimics {
			if len(pool) == 0 {
				return
			}
			pool[0].mimic, pool[0].mimicOrg = p.cat.orgs[org], org
			pool = pool[1:]
		}
	}
}

// restrictTemplates lets every org scanner (and every mimic) send one to
// three of its org's templates per service of services: members of one org
// rarely run every configuration the org has.
func (p *planner) restrictTemplates(services []int) {
	for _, s := range p.scanners {
		op := s.orgSource()
		if op == nil {
			continue
		}
		for _, svc := range services {
			n := op.variantCount(svc)
			if n <= 1 {
				continue
			}
			k := 1 + p.rng.IntN(min(3, n))
			s.allowed[svc] = p.rng.Perm(n)[:k]
			slices.Sort(s.allowed[svc])
		}
	}
}

// orgSource is the org profile a scanner draws its templates from: its
// own org's, a mimicked org's, or none (a generic tool user).
func (s *scanner) orgSource() *orgProfile {
	if s.profile != nil {
		return s.profile
	}
	return s.mimic
}

func (st *serviceTemplates) variantCount(svc int) int { return len(st.templates[svc]) }

func (p *planner) newScanner(rs realScanner, org string) *scanner {
	s := p.drawScanner(rs, org)
	if org == unknownOrg {
		for _, svc := range p.cat.counted {
			s.tools[svc] = p.pickTool(svc)
		}
	}
	p.scanners = append(p.scanners, s)
	return s
}

// drawScanner draws what every scanner has: its round trip, TTL and source
// port sequence.
func (p *planner) drawScanner(rs realScanner, org string) *scanner {
	s := &scanner{
		idx: len(p.scanners), ip: rs.IP, org: org, counts: rs.Counts,
		profile:  p.cat.orgs[org],
		rtt:      (5 + int64(p.rng.ExpFloat64()*60)) * ms,
		ttl:      []uint8{64, 128, 255}[weightedIndex(p.rng, []float64{70, 15, 15})] - uint8(6+p.rng.IntN(20)),
		portBase: p.rng.Uint32N(ephemeralSpan),
		portStep: []uint32{1, 3, 5, 11, 13, 17, 19, 23, 29, 31}[p.rng.IntN(10)],
	}
	s.rtt = min(s.rtt, 400*ms)
	return s
}

// hideMembers assigns HiddenShare of the unattributed scanners to a known
// org (never a fully disclosed one). Candidates are unattributed scanners
// with org-like volumes (at most hiddenMaxProbes real probes: the busiest
// org scanners of SelfDeploy-24 send a few dozen, unattributed ones up to
// thousands), so the world's totals stay those of the real data. The org is
// drawn by size among orgs that have a profile for every service the
// scanner uses.
func (p *planner) hideMembers(unknown []*scanner, byOrg map[string][]realScanner) {
	n := int(math.Round(float64(len(unknown)) * p.cfg.HiddenShare))
	var candidates []*scanner
	for _, s := range unknown {
		total := 0
		for seg := range 2 {
			for svc := range numServices {
				total += s.counts[seg][svc]
			}
		}
		if total <= hiddenMaxProbes {
			candidates = append(candidates, s)
		}
	}
	n = min(n, len(candidates))
	for _, i := range p.rng.Perm(len(candidates))[:n] {
		s := candidates[i]
		var names []string
		var weights []float64
		for _, org := range p.cat.orgNames {
			op := p.cat.orgs[org]
			if slices.Contains(FullyDisclosed, org) || len(byOrg[org]) == 0 {
				continue
			}
			fits := true
			for svc := range numServices {
				if s.counts[0][svc]+s.counts[1][svc] > 0 && !op.has(svc) {
					fits = false
				}
			}
			if fits {
				names = append(names, org)
				weights = append(weights, float64(len(byOrg[org])))
			}
		}
		if len(names) == 0 {
			continue
		}
		org := names[weightedIndex(p.rng, weights)]
		s.org, s.hidden, s.profile = org, true, p.cat.orgs[org]
		s.tools = [maxServices]*toolProfile{}
	}
}

// hiddenMaxProbes bounds the real probe count of a scanner that may become
// a hidden org member.
const hiddenMaxProbes = 40

func (p *planner) scaleCounts(s *scanner) {
	factor := float64(p.cfg.Weeks) / realWeeks
	total := 0
	var weights []float64
	counted := p.cat.counted
	for seg := range 2 {
		for _, svc := range counted {
			c := s.counts[seg][svc]
			weights = append(weights, float64(c))
			x := float64(c) * factor
			n := int(x)
			if p.rng.Float64() < x-float64(n) {
				n++
			}
			if p.cfg.MaxProbesPerScanner > 0 {
				n = min(n, p.cfg.MaxProbesPerScanner)
			}
			s.counts[seg][svc] = n
			total += n
		}
	}
	if total == 0 {
		// A scanner that was chosen is seen at least once; where depends on
		// where its real probes were.
		i := weightedIndex(p.rng, weights)
		s.counts[i/len(counted)][counted[i%len(counted)]] = 1
	}
	if s.profile != nil {
		// An org without a profile for a service sends those probes in a
		// service it has (only happens for hidden members of small orgs).
		for seg := range 2 {
			for svc := range numServices {
				if s.counts[seg][svc] > 0 && !s.profile.has(svc) {
					for alt := range numServices {
						if s.profile.has(alt) {
							s.counts[seg][alt] += s.counts[seg][svc]
							s.counts[seg][svc] = 0
							break
						}
					}
				}
			}
		}
	}
}

func (st *serviceTemplates) has(svc int) bool { return len(st.templates[svc]) > 0 }

func (p *planner) pickTool(svc int) *toolProfile {
	var cands []*toolProfile
	var weights []float64
	for _, t := range p.cat.tools {
		if t.has(svc) {
			cands = append(cands, t)
			weights = append(weights, t.Weight)
		}
	}
	return cands[weightedIndex(p.rng, weights)]
}

// planSessions spreads each scanner's probes of services over visits in
// its train and test windows and draws every probe's payload and packet
// shape.
func (p *planner) planSessions(services []int) {
	for _, s := range p.scanners {
		for seg := range 2 {
			from, to := p.start, p.split
			if seg == 1 {
				from, to = p.split, p.end
			}
			var svcs []int
			for _, svc := range services {
				for range s.counts[seg][svc] {
					svcs = append(svcs, svc)
				}
			}
			p.rng.Shuffle(len(svcs), func(i, j int) { svcs[i], svcs[j] = svcs[j], svcs[i] })
			act := p.activityWindow(from, to)
			visitMean := 1.6
			if s.profile != nil {
				visitMean = s.profile.VisitMean
			}
			for len(svcs) > 0 {
				size := 1 + int(p.rng.ExpFloat64()*(visitMean-1)+0.5)
				size = min(size, len(svcs), maxVisit)
				p.planVisit(s, svcs[:size], p.visitStart(act))
				svcs = svcs[size:]
			}
		}
	}
	slices.SortStableFunc(p.sessions, func(a, b *session) int {
		return cmp.Or(cmp.Compare(a.probeTime, b.probeTime), cmp.Compare(a.seq, b.seq))
	})
}

// activity is the stretch of one part of the span in which a scanner is
// active: length µs starting offset µs into the part, wrapping around its
// end (a scanner seen in the last days is often back in the first ones).
type activity struct {
	from, usable, offset, length int64
}

// activityWindow draws the stretch of [from, to) a scanner is active in. In
// the SelfDeploy-24 test split, scanners with three or more probes are seen
// over a median 39 % of the period (quartiles 13 % / 62 %,
// probes_meta_SelfDeploy24_test.csv): scanners come and go, which is what
// the weekly incremental mode has to live with. The length is a uniform
// share of the part (at least 2 %); the start is uniform and the window
// wraps, so every week gets the same traffic on average.
func (p *planner) activityWindow(from, to int64) activity {
	usable := max(1, to-from-dayTail) // visits start early enough to end in time
	length := max(usable/50, int64(float64(usable)*p.rng.Float64()), 1)
	return activity{from: from, usable: usable, offset: p.rng.Int64N(usable), length: length}
}

// visitStart draws when a visit begins.
func (p *planner) visitStart(a activity) int64 {
	return a.from + (a.offset+p.rng.Int64N(a.length))%a.usable
}

func (p *planner) planVisit(s *scanner, svcs []int, t int64) {
	if tod := (t - p.start) % day; tod > day-dayTail {
		t -= dayTail // keep the visit inside its UTC day
	}
	honeypots := p.cfg.Honeypots
	if len(p.cfg.HoneypotsTest) > 0 && t >= p.split {
		honeypots = p.cfg.HoneypotsTest
	}
	hpOffset := p.rng.IntN(len(honeypots))
	var prev *session
	var prevT probe.Template
	for k, svc := range svcs {
		sess := &session{scanner: s, seq: len(p.sessions), service: svc}
		// A template may name a follow-up probe of the same service, sent
		// right after it on the same port (an org's templates only).
		var chained probe.Template
		if prev != nil && prev.service == svc && prevT.Next() != "" {
			chained = s.orgSource().templateByName(svc, prevT.Next())
		}
		if k > 0 {
			if chained != nil {
				t += p.rng.Int64N(4*sec) + 50*ms
			} else {
				t += min(int64(p.rng.ExpFloat64()*float64(3*sec))+20*ms, 60*sec)
			}
		}
		sess.synTime = t
		if chained != nil {
			sess.dst, sess.dport = prev.dst, prev.dport
		} else {
			sess.dst = honeypots[(hpOffset+k)%len(honeypots)]
		}
		sess.sport = s.newPort()
		frac := float64(t-p.start) / float64(p.end-p.start)
		v, owner := chained, ""
		if v == nil {
			v, owner = p.pickTemplate(s, svc, frac)
			sess.dport = p.pickPort(svc, v.Ports())
		} else {
			owner = s.templateOwner()
		}
		em := v.Emit(p.rng, sess.dst, sess.dport, time.UnixMicro(sess.synTime))
		sess.payload, sess.banner, sess.reply, sess.ja3 = em.Payload, em.Banner, em.Reply, em.JA3
		sess.split = em.Split
		sess.signature, sess.template = em.Signature, em.Template
		sess.profile = owner + "/" + v.Name()
		prevT = v
		p.drawShape(sess)
		p.sessions = append(p.sessions, sess)
		prev = sess
	}
}

// templateByName returns the org's template of svc with that name, nil
// for none or for a generic tool user (no follow-up probes).
func (op *orgProfile) templateByName(svc int, name string) probe.Template {
	if op == nil {
		return nil
	}
	for _, t := range op.templates[svc] {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

// pickPort draws a destination port from the variant's own list if it has
// one (tools that send a ClientHello to web ports), else from the service's.
func (p *planner) pickPort(svc int, own []weightedPort) uint16 {
	ports := own
	if len(ports) == 0 {
		ports = p.cat.ports[svc]
	}
	w := make([]float64, len(ports))
	for i, wp := range ports {
		w[i] = float64(wp[1])
	}
	return uint16(ports[weightedIndex(p.rng, w)][0])
}

// variantSource returns the variants a scanner draws from for svc: its org's
// profile, or a generic tool (its own in 85 % of probes, another otherwise).
func (p *planner) variantSource(s *scanner, svc int) (*serviceTemplates, string) {
	if s.profile != nil {
		return &s.profile.serviceTemplates, s.org
	}
	if s.mimic != nil && s.mimic.has(svc) {
		return &s.mimic.serviceTemplates, s.mimicOrg
	}
	tool := s.tools[svc]
	if p.rng.Float64() < 0.15 {
		tool = p.pickTool(svc)
	}
	return &tool.serviceTemplates, unknownOrg + "/" + tool.Name
}

func active(a []float64, frac float64) bool {
	return a == nil || (frac >= a[0] && frac < a[1])
}

// pickActive chooses among the variants active at frac by weight, falling
// back to all variants if a profile leaves a gap in time.
func pickActive(rng *rand.Rand, n int, weight func(int) float64, act func(int) []float64, frac float64) int {
	w := make([]float64, n)
	any := false
	for i := range n {
		if active(act(i), frac) {
			w[i] = weight(i)
			any = true
		}
	}
	if !any {
		for i := range n {
			w[i] = weight(i)
		}
	}
	return weightedIndex(rng, w)
}

// templateOwner is the org a scanner's org templates belong to.
func (s *scanner) templateOwner() string {
	if s.profile == nil && s.mimic != nil {
		return s.mimicOrg
	}
	return s.org
}

// allowedFor returns the scanner's template subset for svc when sv is its
// org's variants (a generic tool's are never restricted).
func (s *scanner) allowedFor(sv *serviceTemplates, svc int) []int {
	if op := s.orgSource(); op != nil && sv == &op.serviceTemplates {
		return s.allowed[svc]
	}
	return nil
}

// pickVariant is pickActive among the allowed variants (all when allowed is
// nil, which draws exactly as pickActive does): active allowed variants by
// weight, else any allowed one by weight.
func (p *planner) pickVariant(allowed []int, n int, weight func(int) float64, act func(int) []float64, frac float64) int {
	if allowed == nil {
		return pickActive(p.rng, n, weight, act, frac)
	}
	i := pickActive(p.rng, len(allowed), func(j int) float64 { return weight(allowed[j]) },
		func(j int) []float64 { return act(allowed[j]) }, frac)
	return allowed[i]
}

// pickTemplate draws the template of a scanner's next probe of svc and
// names its owner (an org, or unknown/<tool>).
func (p *planner) pickTemplate(s *scanner, svc int, frac float64) (probe.Template, string) {
	sv, owner := p.variantSource(s, svc)
	ts := sv.templates[svc]
	i := p.pickVariant(s.allowedFor(sv, svc), len(ts), func(i int) float64 { return ts[i].Weight() },
		func(i int) []float64 { return ts[i].Active() }, frac)
	return ts[i], owner
}

// drawShape decides how the session looks on the wire: handshake timing,
// ClientHellos split over two segments, a retransmitted first segment, and
// how the connection ends.
func (p *planner) drawShape(sess *session) {
	r := p.rng
	s := sess.scanner
	sh := &sess.shape
	sh.clientISN, sh.serverISN = r.Uint32(), r.Uint32()
	sh.rtt = max(ms, s.rtt+int64(r.NormFloat64()*float64(s.rtt)/20))
	sh.clientDelay = int64(r.ExpFloat64() * float64(2*ms))
	wire := wires[sess.service]
	if sess.split > 0 && sess.split < len(sess.payload) {
		// Two writes of the client: the second waits for the server's
		// banner, about a round trip.
		sh.split = sess.split
		sh.splitGap = sh.rtt + int64(r.ExpFloat64()*float64(ms))
	} else if wire.SplitShare > 0 && len(sess.payload) > 64 && r.Float64() < wire.SplitShare {
		sh.split = 5 + r.IntN(len(sess.payload)-10)
		sh.splitGap = int64(r.ExpFloat64()*float64(ms)) + 20
	}
	sh.retransmit = transports[sess.service] != probe.UDP && r.Float64() < 0.03
	sh.rto = 200*ms + r.Int64N(100*ms)
	sh.serverDelay = 100 + r.Int64N(3*ms)
	sh.closeWithRST = r.Float64() < 0.3
	sh.serverClosesFirst = wire.ServerClosesFirstShare > 0 && r.Float64() < wire.ServerClosesFirstShare
	sh.ipID = uint16(r.Uint32())
	sh.ttl = s.ttl
	sh.window = []uint16{64240, 65535, 29200, 1024}[weightedIndex(r, []float64{60, 20, 15, 5})]
	if transports[sess.service] == probe.UDP {
		sess.probeTime = sess.synTime
	} else {
		sess.probeTime = sess.synTime + sh.rtt + sh.clientDelay
	}
}

// weightedIndex draws i with probability w[i]/sum(w).
func weightedIndex(rng *rand.Rand, w []float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if total <= 0 {
		return rng.IntN(len(w))
	}
	x := rng.Float64() * total
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}
