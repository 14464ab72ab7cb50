package simulate

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServiceCounts holds one number per service, in the order of
// internal/service/all (serviceNames); world.json writes it as an object
// keyed by service name.
type ServiceCounts [maxServices]int

func (c *ServiceCounts) add(svc, n int) { c[svc] += n }

// Total is the sum over services.
func (c ServiceCounts) Total() int {
	t := 0
	for _, n := range c {
		t += n
	}
	return t
}

// Of returns the count of the named service, 0 for a name the simulator
// does not send.
func (c ServiceCounts) Of(service string) int {
	if i := slices.Index(serviceNames, service); i >= 0 {
		return c[i]
	}
	return 0
}

// MarshalJSON writes {"<service>": n, ...} in service order.
func (c ServiceCounts) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, name := range serviceNames {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b = append(append(b, k...), ':')
		b = strconv.AppendInt(b, int64(c[i]), 10)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ServiceCounts) UnmarshalJSON(b []byte) error {
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = ServiceCounts{}
	for name, n := range m {
		i := slices.Index(serviceNames, name)
		if i < 0 {
			return fmt.Errorf("simulate: count of unknown service %q", name)
		}
		c[i] = n
	}
	return nil
}

// OrgStats describes one org of the world ("unknown" = unattributed).
type OrgStats struct {
	Org string `json:"org"`
	// Scanners counts source IPs; Labelled of them are in labels.csv and
	// Hidden are members that only truth.csv knows.
	Scanners int           `json:"scanners"`
	Labelled int           `json:"labelled"`
	Hidden   int           `json:"hidden"`
	Probes   ServiceCounts `json:"probes"`
	// DistinctPayloads counts payload templates: HTTP requests with the
	// Host value left out, TLS JA3 strings with ALPN, DNS questions+flags.
	DistinctPayloads ServiceCounts `json:"distinct_payloads"`
}

// Counts are the world's totals.
type Counts struct {
	Probes          ServiceCounts `json:"probes"`
	Packets         int           `json:"packets"`
	Scanners        int           `json:"scanners"`
	LabelledIPs     int           `json:"labelled_ips"`
	HiddenIPs       int           `json:"hidden_ips"`
	UnattributedIPs int           `json:"unattributed_ips"`
	// UnattributedProbeShare is the share of probes from scanners without
	// a label (hidden members included), as a classifier sees it.
	UnattributedProbeShare float64 `json:"unattributed_probe_share"`
	TrainProbes            int     `json:"train_probes"`
	TestProbes             int     `json:"test_probes"`
	// Sessions whose first payload segment is sent twice, and ClientHellos
	// split over two segments: the cases an extractor must get right.
	Retransmitted int `json:"retransmitted_sessions"`
	SplitHellos   int `json:"split_client_hellos"`
	// Weekly counts probes per week of the span (incremental mode).
	Weekly []ServiceCounts `json:"weekly"`
}

// World is the summary of a generated world; it is also written as world.json.
type World struct {
	Seed      uint64    `json:"seed"`
	Preset    string    `json:"preset"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Split     time.Time `json:"split"`
	Weeks     int       `json:"weeks"`
	Honeypots []string  `json:"honeypots"`
	// HoneypotsTest are the honeypots of the test part when they differ.
	HoneypotsTest []string `json:"honeypots_test,omitempty"`
	// Structure is set when a structural knob is (Config.HiddenPerOrg ...).
	Structure *Structure `json:"structure,omitempty"`
	Counts    Counts     `json:"counts"`
	Orgs      []OrgStats `json:"orgs"`
	PcapFiles []string   `json:"pcap_files"`
}

// Structure echoes the structural knobs of a world and what they made.
type Structure struct {
	HiddenPerOrg      float64 `json:"hidden_per_org,omitempty"`
	UnattributedRatio float64 `json:"unattributed_ratio,omitempty"`
	GenericMimics     int     `json:"generic_mimics,omitempty"`
	TemplatesPerOrg   int     `json:"templates_per_org,omitempty"`
	// MimicIPs counts the unattributed scanners that replay an org's
	// templates.
	MimicIPs int `json:"mimic_ips"`
}

// Truth CSV header; one row per generated first probe (session).
var truthHeader = []string{"time", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "service", "org", "profile", "hidden", "ja3"}

// Generate writes a world into outDir: pcap/YYYY-MM-DD.pcap (one classic
// pcap per UTC day, Ethernet/IPv4), labels.csv (ip,org of labelled scanners),
// truth.csv (every first probe with its true org) and world.json. The same
// Config gives byte-identical files.
func Generate(ctx context.Context, cfg Config, outDir string) (*World, error) {
	p, err := plan(cfg)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pcapDir := filepath.Join(outDir, "pcap")
	nDays := (p.end - p.start) / day
	dayNames := make([]string, nDays)
	for d := range nDays {
		dayNames[d] = time.UnixMicro(p.start+d*day).UTC().Format("2006-01-02") + ".pcap"
	}
	if err := checkNoOtherWorld(pcapDir, dayNames, ".pcap"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pcapDir, 0o755); err != nil {
		return nil, err
	}
	w := p.summary()
	// Sessions are sorted by probe time; a day's file holds the sessions
	// whose SYN falls in that UTC day (visits never cross midnight).
	byDay := map[int64][]*session{}
	for _, s := range p.sessions {
		d := (s.synTime - p.start) / day
		byDay[d] = append(byDay[d], s)
	}
	for d := range nDays {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := dayNames[d]
		daySessions := byDay[d]
		slices.SortStableFunc(daySessions, func(a, b *session) int {
			if a.synTime != b.synTime {
				if a.synTime < b.synTime {
					return -1
				}
				return 1
			}
			return a.seq - b.seq
		})
		n, err := writeDay(filepath.Join(pcapDir, name), daySessions)
		if err != nil {
			return nil, fmt.Errorf("simulate: %s: %w", name, err)
		}
		w.Counts.Packets += n
		w.PcapFiles = append(w.PcapFiles, filepath.ToSlash(filepath.Join("pcap", name)))
	}
	if err := writeFile(filepath.Join(outDir, "truth.csv"), p.writeTruth); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(outDir, "labels.csv"), p.writeLabels); err != nil {
		return nil, err
	}
	if cfg.WriteTemplates {
		if err := writeFile(filepath.Join(outDir, "templates.csv"), p.writeTemplates); err != nil {
			return nil, err
		}
	}
	if err := writeJSONFile(filepath.Join(outDir, "world.json"), w); err != nil {
		return nil, err
	}
	return w, nil
}

// plan draws the whole world in memory: scanners, sessions, payloads.
func plan(cfg Config) (*planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := loadCatalog()
	if err != nil {
		return nil, fmt.Errorf("simulate: embedded profiles: %w", err)
	}
	if cfg.TemplatesPerOrg > 0 {
		cat.setTemplatesPerOrg(cfg.TemplatesPerOrg)
	}
	p := newPlanner(cfg, cat)
	p.chooseScanners()
	p.planSessions(p.cat.counted)
	p.planExtra()
	return p, nil
}

// checkNoOtherWorld refuses an output folder (pcap/, payload/) holding
// input files (names containing kind: .pcap, .csv) this world would not
// write: an ingest of the folder would mix two worlds. Re-generating the
// same world over itself is fine.
func checkNoOtherWorld(dir string, names []string, kind string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), kind) && !slices.Contains(names, e.Name()) {
			return fmt.Errorf("simulate: %s already holds %s from another world; use an empty folder", dir, e.Name())
		}
	}
	return nil
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := fill(bw); err != nil {
		f.Close()
		return fmt.Errorf("simulate: %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeJSONFile writes v as indented JSON (world.json).
func writeJSONFile(path string, v any) error {
	return writeFile(path, func(out io.Writer) error {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// TimeFormat is how truth.csv writes times: UTC, microseconds (the pcap
// resolution).
const TimeFormat = "2006-01-02T15:04:05.000000Z"

func (p *planner) writeTruth(out io.Writer) error {
	if _, err := io.WriteString(out, strings.Join(truthHeader, ",")+"\n"); err != nil {
		return err
	}
	for _, s := range p.sessions {
		transport := string(transports[s.service])
		row := []string{
			time.UnixMicro(s.probeTime).UTC().Format(TimeFormat),
			s.scanner.ip.String(), strconv.Itoa(int(s.sport)),
			s.dst.String(), strconv.Itoa(int(s.dport)),
			transport, serviceNames[s.service], s.scanner.org, s.profile,
			strconv.FormatBool(s.scanner.hidden), s.ja3,
		}
		if _, err := io.WriteString(out, strings.Join(row, ",")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// TemplatesHeader is the header of templates.csv, whose rows follow those
// of truth.csv one for one.
var TemplatesHeader = []string{"src_ip", "src_port", "template"}

// writeTemplates writes the payload template of every session, in
// truth.csv's order: a hash of the session's signature, which is the
// payload with what varies per connection left out (the honeypot address
// in HTTP, the random, session id and key share of a ClientHello, the id
// and random label of a DNS query). Two senders of one template send
// payloads no field-by-field comparison can tell apart.
func (p *planner) writeTemplates(out io.Writer) error {
	if _, err := io.WriteString(out, strings.Join(TemplatesHeader, ",")+"\n"); err != nil {
		return err
	}
	for _, s := range p.sessions {
		sum := sha256.Sum256([]byte(serviceNames[s.service] + "\n" + cmp.Or(s.template, s.signature)))
		row := s.scanner.ip.String() + "," + strconv.Itoa(int(s.sport)) + "," + hex.EncodeToString(sum[:8]) + "\n"
		if _, err := io.WriteString(out, row); err != nil {
			return err
		}
	}
	return nil
}

// writeLabels lists the labelled scanners that appear in the world, by IP.
func (p *planner) writeLabels(out io.Writer) error {
	if _, err := io.WriteString(out, "ip,org\n"); err != nil {
		return err
	}
	var labelled []*scanner
	for _, s := range p.scanners {
		if s.labelled() {
			labelled = append(labelled, s)
		}
	}
	slices.SortFunc(labelled, func(a, b *scanner) int { return a.ip.Compare(b.ip) })
	for _, s := range labelled {
		if _, err := io.WriteString(out, s.ip.String()+","+s.org+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) summary() *World {
	start, end := p.cfg.Span()
	w := &World{
		Seed: p.cfg.Seed, Preset: p.cfg.Preset, Start: start, End: end,
		Split: p.cfg.SplitTime(), Weeks: p.cfg.Weeks,
	}
	for _, h := range p.cfg.Honeypots {
		w.Honeypots = append(w.Honeypots, h.String())
	}
	for _, h := range p.cfg.HoneypotsTest {
		w.HoneypotsTest = append(w.HoneypotsTest, h.String())
	}
	if c := p.cfg; c.HiddenPerOrg > 0 || c.UnattributedRatio > 0 || c.GenericMimics > 0 || c.TemplatesPerOrg > 0 {
		w.Structure = &Structure{HiddenPerOrg: c.HiddenPerOrg, UnattributedRatio: c.UnattributedRatio,
			GenericMimics: c.GenericMimics, TemplatesPerOrg: c.TemplatesPerOrg}
		for _, s := range p.scanners {
			if s.mimic != nil {
				w.Structure.MimicIPs++
			}
		}
	}
	stats := map[string]*OrgStats{}
	distinct := map[string][maxServices]map[string]bool{}
	get := func(org string) *OrgStats {
		if stats[org] == nil {
			stats[org] = &OrgStats{Org: org}
			var d [maxServices]map[string]bool
			for svc := range d {
				d[svc] = map[string]bool{}
			}
			distinct[org] = d
		}
		return stats[org]
	}
	for _, s := range p.scanners {
		st := get(s.org)
		st.Scanners++
		w.Counts.Scanners++
		switch {
		case s.hidden:
			st.Hidden++
			w.Counts.HiddenIPs++
		case s.labelled():
			st.Labelled++
			w.Counts.LabelledIPs++
		default:
			w.Counts.UnattributedIPs++
		}
	}
	unattributed := 0
	w.Counts.Weekly = make([]ServiceCounts, p.cfg.Weeks)
	for _, s := range p.sessions {
		st := get(s.scanner.org)
		st.Probes.add(s.service, 1)
		w.Counts.Probes.add(s.service, 1)
		distinct[s.scanner.org][s.service][s.signature] = true
		if !s.scanner.labelled() {
			unattributed++
		}
		if s.probeTime < p.split {
			w.Counts.TrainProbes++
		} else {
			w.Counts.TestProbes++
		}
		if s.shape.retransmit {
			w.Counts.Retransmitted++
		}
		if s.shape.split > 0 && s.split == 0 {
			// Cut at random (a ClientHello), not where the client wrote
			// twice (an SSH identification, then its KEXINIT).
			w.Counts.SplitHellos++
		}
		week := min(int((s.probeTime-p.start)/(7*day)), len(w.Counts.Weekly)-1)
		w.Counts.Weekly[week].add(s.service, 1)
	}
	if n := len(p.sessions); n > 0 {
		w.Counts.UnattributedProbeShare = float64(int(float64(unattributed)/float64(n)*10000+0.5)) / 10000
	}
	names := make([]string, 0, len(stats))
	for org := range stats {
		names = append(names, org)
	}
	slices.Sort(names)
	for _, org := range names {
		st := stats[org]
		for svc := range numServices {
			st.DistinctPayloads.add(svc, len(distinct[org][svc]))
		}
		w.Orgs = append(w.Orgs, *st)
	}
	return w
}

// WriteReport prints the short statistics report of a world.
func (w *World) WriteReport(out io.Writer) error {
	bw := bufio.NewWriter(out)
	fmt.Fprintf(bw, "world %s seed %d: %s .. %s (%d weeks, split %s), %d honeypots\n",
		w.Preset, w.Seed, w.Start.Format("2006-01-02"), w.End.Format("2006-01-02"), w.Weeks,
		w.Split.Format("2006-01-02"), len(w.Honeypots))
	if len(w.HoneypotsTest) > 0 {
		fmt.Fprintf(bw, "honeypots %s until the split, %s after it\n", strings.Join(w.Honeypots, " "), strings.Join(w.HoneypotsTest, " "))
	}
	if st := w.Structure; st != nil {
		fmt.Fprintf(bw, "structure: hidden per org %g, unattributed ratio %g, generic mimics per org %d (%d IPs), templates per org %d\n",
			st.HiddenPerOrg, st.UnattributedRatio, st.GenericMimics, st.MimicIPs, st.TemplatesPerOrg)
	}
	c := w.Counts
	perService := make([]string, len(serviceNames))
	for i, name := range serviceNames {
		perService[i] = name + " " + strconv.Itoa(c.Probes[i])
	}
	fmt.Fprintf(bw, "probes %d (%s; train %d, test %d), packets %d\n",
		c.Probes.Total(), strings.Join(perService, ", "), c.TrainProbes, c.TestProbes, c.Packets)
	fmt.Fprintf(bw, "sessions with a retransmitted first segment %d, ClientHellos split over two segments %d\n",
		c.Retransmitted, c.SplitHellos)
	fmt.Fprintf(bw, "scanners %d: labelled %d, hidden members %d, unattributed %d; unattributed probe share %.1f%%\n",
		c.Scanners, c.LabelledIPs, c.HiddenIPs, c.UnattributedIPs, 100*c.UnattributedProbeShare)
	// One column per service, then the distinct templates of each
	// ("distinct h/t/d": the services' initials).
	initials := make([]string, len(serviceNames))
	fmt.Fprintf(bw, "%-16s %8s %6s", "org", "scanners", "hidden")
	for i, name := range serviceNames {
		fmt.Fprintf(bw, " %8s", name)
		initials[i] = name[:1]
	}
	fmt.Fprintf(bw, " %12s\n", "distinct "+strings.Join(initials, "/"))
	for _, o := range w.Orgs {
		fmt.Fprintf(bw, "%-16s %8d %6d", o.Org, o.Scanners, o.Hidden)
		distinct := make([]string, len(serviceNames))
		for i := range serviceNames {
			fmt.Fprintf(bw, " %8d", o.Probes[i])
			distinct[i] = strconv.Itoa(o.DistinctPayloads[i])
		}
		fmt.Fprintf(bw, " %12s\n", strings.Join(distinct, "/"))
	}
	return bw.Flush()
}
