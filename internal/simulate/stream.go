package simulate

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The c23 world has the shape of the paper's largest dataset, 360
// Company-23: 78 M first probes from 497 k scanners in one month, about
// 2.5 k of them from known organisations, delivered as payload CSV logs
// (one row per probe, docs/formats.md; `ingest --format payload-csv`).
// Nothing of it is held in memory per probe: every scanner draws its own
// probes, in time order, from a random stream of its own, and the files are
// written by merging the scanners' streams by time (a heap of scanners).
// Memory grows with scanners (≈ 300 bytes each), never with probes.
//
// What comes from real data: the known scanners are real SelfDeploy-24
// scanners of their org (their addresses, hence their networks, and their
// per-service mix), the unattributed ones copy the service mix of a random
// real unattributed scanner and get fresh addresses in the /16s real
// unattributed scanners come from; every payload is an org's or a generic
// tool's template (data/profiles.json, data/corpus.json), as in the pcap
// worlds. What is synthetic: the probe count per scanner, heavy-tailed
// (log-normal, σ = 2: median ≈ 21 probes, the busiest scanners send tens
// of thousands), scaled so that the totals are exact; visits and their
// timing; SSH and RDP at the rates of profiles.json's extra_services.

// C23 sizes (paper-notes: 360 Company-23).
const (
	C23Probes       = 78_000_000
	C23Scanners     = 497_000
	C23KnownTargets = 2_500
	// c23Sigma is the log-normal σ of the per-scanner probe count.
	c23Sigma = 2.0
	// c23Tag is the second PCG word of the c23 world's setup stream; every
	// scanner's own stream is (seed, c23ScannerTag ^ index·φ).
	c23Tag        = 0x360c_0023_5eed_0001
	c23ScannerTag = 0x360c_0023_5ca9_0002
	// c23HiddenShare of the known orgs' scanners (fully disclosed ones
	// aside) are left out of labels.csv: members no list names.
	c23HiddenShare = 0.05
)

// C23Start is the first instant of a c23 world; it spans 30 days.
var C23Start = time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)

// StreamConfig says what c23 world to generate.
type StreamConfig struct {
	Seed uint64
	// Scale is the share of 360 Company-23's size: probes, scanners and
	// known scanners alike (1 = 78 M probes). Known orgs keep at least one
	// scanner each.
	Scale float64
	// Days is the span (default 30).
	Days int
	// Honeypots are the sensors probed (default: the slash16s layout of
	// the seed, eight honeypots in four /16s).
	Honeypots []netip.Addr
}

// StreamWorld summarises a c23 world; it is also written as world.json.
type StreamWorld struct {
	Seed      uint64    `json:"seed"`
	Preset    string    `json:"preset"`
	Scale     float64   `json:"scale"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Honeypots []string  `json:"honeypots"`
	// Probes is the number of payload CSV rows (= first probes), per
	// service.
	Probes   ServiceCounts `json:"probes"`
	Scanners int           `json:"scanners"`
	// KnownScanners are the scanners of known orgs; Labelled of them are
	// in labels.csv, Hidden are not.
	KnownScanners int `json:"known_scanners"`
	Labelled      int `json:"labelled"`
	Hidden        int `json:"hidden"`
	// MaxScannerProbes and MedianScannerProbes describe the heavy tail.
	MaxScannerProbes    int `json:"max_scanner_probes"`
	MedianScannerProbes int `json:"median_scanner_probes"`
	// DistinctPayloads counts payload signatures per service (the payload
	// without what varies per connection, as world.json of the pcap
	// worlds counts them): bounded by the templates, not the probes.
	DistinctPayloads ServiceCounts `json:"distinct_payloads"`
	Files            []string      `json:"files"`
}

// streamScanner is one scanner of a c23 world and where its probe stream
// stands.
type streamScanner struct {
	ip      netip.Addr
	org     string
	hidden  bool
	profile *orgProfile
	tools   [maxServices]*toolProfile
	// svcW are the weights of the services it sends.
	svcW [maxServices]float32
	rng  *rand.Rand
	// left probes in all, visitsLeft visits, inVisit probes left in the
	// current one; t is the time of the next probe, until the end of its
	// active window.
	left, visitsLeft, inVisit int32
	t, until                  int64
	portBase, portStep, port  uint32
}

// newPort returns the next source port in the Linux ephemeral range, as
// scanner.newPort does: a scanner reuses a port after 28232 probes, so no
// payload log of one day holds two sessions of one address and port pair
// (a payload log has no handshake to tell them apart). Lower ports are not
// used: from a port below the honeypot's, an SSH identification reads like
// the server's banner.
func (s *streamScanner) newPort() uint16 {
	p := (s.portBase + s.port*s.portStep) % ephemeralSpan
	s.port++
	return uint16(ephemeralLow + p)
}

// streamGen holds a c23 world being generated.
type streamGen struct {
	cfg        StreamConfig
	cat        *catalog
	start, end int64
	scanners   []*streamScanner
	counts     []int32 // probes per scanner, for the summary
}

// C23Config returns the c23 world of a seed at a scale.
func C23Config(seed uint64, scale float64) StreamConfig {
	return StreamConfig{Seed: seed, Scale: scale}
}

func (c StreamConfig) withDefaults() (StreamConfig, error) {
	if c.Scale <= 0 || c.Scale > 1 || math.IsNaN(c.Scale) {
		return c, fmt.Errorf("c23 scale must be in (0, 1], got %g", c.Scale)
	}
	if c.Days == 0 {
		c.Days = 30
	}
	if c.Days < 1 || c.Days > 366 {
		return c, fmt.Errorf("c23 days must be 1..366, got %d", c.Days)
	}
	if len(c.Honeypots) == 0 {
		hp, _, err := HoneypotLayout("slash16s", c.Seed)
		if err != nil {
			return c, err
		}
		c.Honeypots = hp
	}
	return c, nil
}

// GenerateStream writes a c23 world into outDir: payload/YYYY-MM-DD.csv
// (payload CSV, one row per first probe in time order, one file per UTC
// day), labels.csv (ip,org of the labelled scanners), scanners.csv (every
// scanner with its true org, whether it is hidden and its probe count) and
// world.json. The same config gives byte-identical files.
func GenerateStream(ctx context.Context, cfg StreamConfig, outDir string) (*StreamWorld, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cat, err := loadCatalog()
	if err != nil {
		return nil, fmt.Errorf("simulate: embedded profiles: %w", err)
	}
	start := C23Start
	g := &streamGen{cfg: cfg, cat: cat, start: start.UnixMicro(), end: start.AddDate(0, 0, cfg.Days).UnixMicro()}
	g.chooseScanners()
	payloadDir := filepath.Join(outDir, "payload")
	var names []string
	for d := range cfg.Days {
		names = append(names, start.AddDate(0, 0, d).Format("2006-01-02")+".csv")
	}
	if err := checkNoOtherWorld(payloadDir, names, ".csv"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(payloadDir, 0o755); err != nil {
		return nil, err
	}
	w := &StreamWorld{Seed: cfg.Seed, Preset: "c23", Scale: cfg.Scale, Start: start, End: time.UnixMicro(g.end).UTC()}
	for _, h := range cfg.Honeypots {
		w.Honeypots = append(w.Honeypots, h.String())
	}
	if err := g.writeProbes(ctx, payloadDir, w); err != nil {
		return nil, err
	}
	g.summarise(w)
	if err := writeFile(filepath.Join(outDir, "labels.csv"), g.writeLabels); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(outDir, "scanners.csv"), g.writeScanners); err != nil {
		return nil, err
	}
	if err := writeJSONFile(filepath.Join(outDir, "world.json"), w); err != nil {
		return nil, err
	}
	return w, nil
}

// chooseScanners draws every scanner and its probe count from the setup
// stream, in a fixed order.
func (g *streamGen) chooseScanners() {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, c23Tag))
	nScanners := max(1, int(math.Round(C23Scanners*g.cfg.Scale)))
	totalProbes := max(nScanners, int(math.Round(C23Probes*g.cfg.Scale)))
	byOrg := map[string][]realScanner{}
	for _, rs := range g.cat.scanners {
		byOrg[rs.Org] = append(byOrg[rs.Org], rs)
	}
	known := 0
	for _, org := range g.cat.orgNames {
		known += len(byOrg[org])
	}
	used := make(map[netip.Addr]bool, nScanners+len(g.cat.scanners))
	for _, rs := range g.cat.scanners {
		used[rs.IP] = true
	}
	kf := C23KnownTargets * g.cfg.Scale / float64(known)
	for _, org := range g.cat.orgNames {
		rows := byOrg[org]
		if len(rows) == 0 {
			continue
		}
		n := min(len(rows), max(1, int(math.Round(float64(len(rows))*kf))))
		perm := rng.Perm(len(rows))[:n]
		slices.Sort(perm)
		for _, i := range perm {
			s := g.newScanner(rng, rows[i], org)
			s.hidden = !slices.Contains(FullyDisclosed, org) && rng.Float64() < c23HiddenShare
		}
	}
	unknown := byOrg[unknownOrg]
	for len(g.scanners) < nScanners {
		rs := unknown[rng.IntN(len(unknown))]
		prefix := unknown[rng.IntN(len(unknown))].IP.As4()
		for {
			ip := netip.AddrFrom4([4]byte{prefix[0], prefix[1], byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
			if !used[ip] {
				used[ip] = true
				rs.IP = ip
				break
			}
		}
		g.newScanner(rng, rs, unknownOrg)
	}
	// Probe counts: log-normal weights scaled to the exact total, every
	// scanner at least one probe.
	weights := make([]float64, len(g.scanners))
	sum := 0.0
	for i := range weights {
		weights[i] = math.Exp(c23Sigma * rng.NormFloat64())
		sum += weights[i]
	}
	g.counts = make([]int32, len(g.scanners))
	rest := totalProbes - len(g.scanners)
	given := 0
	for i, w := range weights {
		n := int(w / sum * float64(rest))
		g.counts[i] = int32(1 + n)
		given += n
	}
	// The rounding rest, one probe each to scanners drawn by weight.
	for range rest - given {
		x := rng.Float64() * sum
		i := 0
		for ; i < len(weights)-1 && x >= weights[i]; i++ {
			x -= weights[i]
		}
		g.counts[i]++
	}
	for i, s := range g.scanners {
		g.startScanner(s, int(g.counts[i]))
	}
}

// newScanner draws a scanner's address-independent traits: its service
// mix (the real row's, SSH and RDP added at their rates), its tools and
// its own random stream.
func (g *streamGen) newScanner(rng *rand.Rand, rs realScanner, org string) *streamScanner {
	idx := uint64(len(g.scanners))
	s := &streamScanner{
		ip: rs.IP, org: org, profile: g.cat.orgs[org],
		rng:      rand.New(rand.NewPCG(g.cfg.Seed, c23ScannerTag^(idx*0x9e37_79b9_7f4a_7c15))),
		portBase: rng.Uint32N(ephemeralSpan),
		portStep: []uint32{1, 3, 5, 11, 13, 17, 19, 23, 29, 31}[rng.IntN(10)],
	}
	base := 0.0
	for _, svc := range g.cat.counted {
		n := rs.Counts[0][svc] + rs.Counts[1][svc]
		if n > 0 && g.sends(s, rng, svc) {
			s.svcW[svc] = float32(n)
			base += float64(n)
		}
	}
	if base == 0 {
		// A row whose services the source lacks: any service it has.
		for _, svc := range g.cat.counted {
			if g.sends(s, rng, svc) {
				s.svcW[svc], base = 1, 1
				break
			}
		}
	}
	for _, svc := range g.cat.extra {
		r := g.cat.extraRates[svc]
		if s.profile != nil && !s.profile.has(svc) || s.profile == nil && rng.Float64() >= r.UnknownShare {
			continue
		}
		if g.sends(s, rng, svc) {
			s.svcW[svc] = float32(r.PerProbe * base)
		}
	}
	g.scanners = append(g.scanners, s)
	return s
}

// sends reports whether the scanner's source has templates of svc,
// choosing an unattributed scanner's tool for it.
func (g *streamGen) sends(s *streamScanner, rng *rand.Rand, svc int) bool {
	if s.profile != nil {
		return s.profile.has(svc)
	}
	if s.tools[svc] == nil {
		t := pickToolRNG(rng, g.cat, svc)
		if t == nil {
			return false
		}
		s.tools[svc] = t
	}
	return true
}

func pickToolRNG(rng *rand.Rand, cat *catalog, svc int) *toolProfile {
	var cands []*toolProfile
	var weights []float64
	for _, t := range cat.tools {
		if t.has(svc) {
			cands = append(cands, t)
			weights = append(weights, t.Weight)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[weightedIndex(rng, weights)]
}

// startScanner draws a scanner's active window and visits from its own
// stream and places its first probe. A scanner of n probes is active over a
// uniform share of the span (at least 2 %; the busiest are seen all month)
// and sends visits of a few probes seconds apart.
func (g *streamGen) startScanner(s *streamScanner, n int) {
	r := s.rng
	usable := g.end - g.start - dayTail
	share := max(0.02, r.Float64())
	if n > 1000 {
		share = 1
	}
	length := max(int64(float64(usable)*share), 1)
	from := g.start + r.Int64N(usable-length+1)
	s.until = from + length
	visitMean := 1.6
	if s.profile != nil {
		visitMean = s.profile.VisitMean
	}
	s.left = int32(n)
	s.visitsLeft = int32(max(1, int(math.Round(float64(n)/visitMean))))
	s.t = from
	s.nextVisit()
}

// nextVisit places the next visit after s.t: the first of the visits left
// as uniform order statistics over the rest of the active window, and its
// size.
func (s *streamScanner) nextVisit() {
	r := s.rng
	if s.until > s.t {
		u := 1 - math.Pow(r.Float64(), 1/float64(s.visitsLeft))
		s.t += int64(u * float64(s.until-s.t))
	}
	size := s.left
	if s.visitsLeft > 1 {
		mean := float64(s.left)/float64(s.visitsLeft) - 1
		size = min(int32(1+poisson(r, max(0, mean))), s.left-(s.visitsLeft-1), maxVisit)
		size = max(size, 1)
	}
	s.visitsLeft--
	s.inVisit = size
}

// advance moves s to its next probe; false when it has none left.
func (s *streamScanner) advance(end int64) bool {
	s.left--
	s.inVisit--
	if s.left == 0 {
		return false
	}
	if s.inVisit > 0 || s.visitsLeft == 0 {
		s.t += min(int64(s.rng.ExpFloat64()*float64(3*sec))+20*ms, 60*sec)
	} else {
		s.t += 20 * ms
		s.nextVisit()
	}
	s.t = min(s.t, end-1)
	return true
}

// scannerHeap orders scanner indices by their next probe time, then index.
type scannerHeap struct {
	idx []int32
	ss  []*streamScanner
}

func (h *scannerHeap) less(i, j int) bool {
	a, b := h.ss[h.idx[i]], h.ss[h.idx[j]]
	return a.t < b.t || a.t == b.t && h.idx[i] < h.idx[j]
}

func (h *scannerHeap) down(i int) {
	n := len(h.idx)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.idx[i], h.idx[m] = h.idx[m], h.idx[i]
		i = m
	}
}

func (h *scannerHeap) init() {
	for i := len(h.idx)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// payloadHeader is the header of the c23 payload CSV files.
const payloadHeader = "time,src_ip,src_port,dst_ip,dst_port,transport,payload_hex\n"

// writeProbes merges the scanners' probe streams by time into one file per
// UTC day.
func (g *streamGen) writeProbes(ctx context.Context, dir string, w *StreamWorld) error {
	h := &scannerHeap{ss: g.scanners, idx: make([]int32, len(g.scanners))}
	for i := range h.idx {
		h.idx[i] = int32(i)
	}
	h.init()
	signatures := [maxServices]map[string]bool{}
	for i := range signatures {
		signatures[i] = map[string]bool{}
	}
	var (
		f      *os.File
		bw     *bufio.Writer
		curDay int64 = -1
		row    []byte
		n      int
	)
	closeDay := func() error {
		if f == nil {
			return nil
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	openDay := func(d int64) error {
		if err := closeDay(); err != nil {
			return err
		}
		name := time.UnixMicro(g.start+d*day).UTC().Format("2006-01-02") + ".csv"
		var err error
		if f, err = os.Create(filepath.Join(dir, name)); err != nil {
			return err
		}
		bw = bufio.NewWriterSize(f, 1<<20)
		w.Files = append(w.Files, filepath.ToSlash(filepath.Join("payload", name)))
		curDay = d
		_, err = bw.WriteString(payloadHeader)
		return err
	}
	// Every day has its file, even a day without probes (tiny scales).
	for len(h.idx) > 0 {
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				closeDay()
				return err
			}
		}
		n++
		s := h.ss[h.idx[0]]
		for d := (s.t - g.start) / day; curDay < d; {
			if err := openDay(curDay + 1); err != nil {
				return err
			}
		}
		var err error
		row, err = g.emit(row[:0], s, w, &signatures)
		if err != nil {
			closeDay()
			return err
		}
		if _, err := bw.Write(row); err != nil {
			closeDay()
			return err
		}
		if s.advance(g.end) {
			h.down(0)
		} else {
			last := len(h.idx) - 1
			h.idx[0] = h.idx[last]
			h.idx = h.idx[:last]
			h.down(0)
		}
	}
	for days := (g.end - g.start) / day; curDay < days-1; {
		if err := openDay(curDay + 1); err != nil {
			return err
		}
	}
	for i := range numServices {
		w.DistinctPayloads[i] = len(signatures[i])
	}
	return closeDay()
}

// emit draws the scanner's next probe and appends its CSV row to row.
func (g *streamGen) emit(row []byte, s *streamScanner, w *StreamWorld, sigs *[maxServices]map[string]bool) ([]byte, error) {
	r := s.rng
	weights := make([]float64, 0, maxServices)
	for svc := range numServices {
		weights = append(weights, float64(s.svcW[svc]))
	}
	svc := weightedIndex(r, weights)
	var sv *serviceTemplates
	if s.profile != nil {
		sv = &s.profile.serviceTemplates
	} else {
		tool := s.tools[svc]
		if r.Float64() < 0.15 {
			tool = pickToolRNG(r, g.cat, svc)
		}
		sv = &tool.serviceTemplates
	}
	ts := sv.templates[svc]
	if len(ts) == 0 {
		return row, fmt.Errorf("simulate: scanner %s has no %s template", s.ip, serviceNames[svc])
	}
	frac := float64(s.t-g.start) / float64(g.end-g.start)
	v := ts[pickActive(r, len(ts), func(i int) float64 { return ts[i].Weight() },
		func(i int) []float64 { return ts[i].Active() }, frac)]
	dst := g.cfg.Honeypots[r.IntN(len(g.cfg.Honeypots))]
	ports := v.Ports()
	if len(ports) == 0 {
		ports = g.cat.ports[svc]
	}
	pw := make([]float64, len(ports))
	for i, wp := range ports {
		pw[i] = float64(wp[1])
	}
	dport := uint16(ports[weightedIndex(r, pw)][0])
	sport := s.newPort()
	em := v.Emit(r, dst, dport, time.UnixMicro(s.t))
	w.Probes[svc]++
	if len(sigs[svc]) < maxSignatures {
		sigs[svc][em.Signature] = true
	}
	row = time.UnixMicro(s.t).UTC().AppendFormat(row, TimeFormat)
	row = append(row, ',')
	row = s.ip.AppendTo(row)
	row = append(row, ',')
	row = strconv.AppendUint(row, uint64(sport), 10)
	row = append(row, ',')
	row = dst.AppendTo(row)
	row = append(row, ',')
	row = strconv.AppendUint(row, uint64(dport), 10)
	row = append(row, ',')
	row = append(row, transports[svc]...)
	row = append(row, ',')
	row = hex.AppendEncode(row, em.Payload)
	return append(row, '\n'), nil
}

// maxSignatures bounds the distinct-payload count kept per service, so that
// a template with per-probe content cannot grow memory with probes.
const maxSignatures = 1 << 20

func (g *streamGen) summarise(w *StreamWorld) {
	w.Scanners = len(g.scanners)
	for i, s := range g.scanners {
		if s.org != unknownOrg {
			w.KnownScanners++
			if s.hidden {
				w.Hidden++
			} else {
				w.Labelled++
			}
		}
		w.MaxScannerProbes = max(w.MaxScannerProbes, int(g.counts[i]))
	}
	sorted := slices.Clone(g.counts)
	slices.Sort(sorted)
	if len(sorted) > 0 {
		w.MedianScannerProbes = int(sorted[len(sorted)/2])
	}
}

func (g *streamGen) writeLabels(out io.Writer) error {
	if _, err := io.WriteString(out, "ip,org\n"); err != nil {
		return err
	}
	for _, s := range g.scanners {
		if s.org != unknownOrg && !s.hidden {
			if _, err := io.WriteString(out, s.ip.String()+","+s.org+"\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeScanners writes the truth per scanner: ip,org,hidden,probes.
func (g *streamGen) writeScanners(out io.Writer) error {
	if _, err := io.WriteString(out, "ip,org,hidden,probes\n"); err != nil {
		return err
	}
	for i, s := range g.scanners {
		line := s.ip.String() + "," + s.org + "," + strconv.FormatBool(s.hidden) + "," + strconv.Itoa(int(g.counts[i])) + "\n"
		if _, err := io.WriteString(out, line); err != nil {
			return err
		}
	}
	return nil
}

// WriteReport prints the short statistics report of a c23 world.
func (w *StreamWorld) WriteReport(out io.Writer) error {
	bw := bufio.NewWriter(out)
	fmt.Fprintf(bw, "world c23 (360 Company-23 shape) scale %g seed %d: %s .. %s, %d honeypots, %d payload CSV files\n",
		w.Scale, w.Seed, w.Start.Format("2006-01-02"), w.End.Format("2006-01-02"), len(w.Honeypots), len(w.Files))
	per := make([]string, len(serviceNames))
	dist := make([]string, len(serviceNames))
	for i, name := range serviceNames {
		per[i] = name + " " + strconv.Itoa(w.Probes[i])
		dist[i] = name + " " + strconv.Itoa(w.DistinctPayloads[i])
	}
	fmt.Fprintf(bw, "probes %d (%s)\n", w.Probes.Total(), strings.Join(per, ", "))
	fmt.Fprintf(bw, "scanners %d: known-org %d (labelled %d, hidden %d); probes per scanner median %d, max %d\n",
		w.Scanners, w.KnownScanners, w.Labelled, w.Hidden, w.MedianScannerProbes, w.MaxScannerProbes)
	fmt.Fprintf(bw, "distinct payloads (signatures) %s\n", strings.Join(dist, ", "))
	return bw.Flush()
}
