package simulate

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// structureConfig is a small SD-24-like world (a tenth of the scanners, two
// weeks, few probes each) that plans in well under a second.
func structureConfig(t *testing.T, seed uint64) Config {
	t.Helper()
	cfg, err := PresetConfig("sd24", seed)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Weeks, cfg.KnownFraction, cfg.UnknownFraction, cfg.MaxProbesPerScanner = 2, 0.1, 0.1, 4
	return cfg
}

func mustPlan(t *testing.T, cfg Config) *planner {
	t.Helper()
	p, err := plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHiddenPerOrg(t *testing.T) {
	cfg := structureConfig(t, 3)
	cfg.HiddenPerOrg = 0.3
	p := mustPlan(t, cfg)
	type tally struct{ members, hidden int }
	orgs := map[string]*tally{}
	for _, s := range p.scanners {
		if s.extraOnly {
			continue // hidden by a draw of their own (extra.go)
		}
		if s.org == unknownOrg {
			if s.hidden {
				t.Fatalf("unattributed scanner %s hidden", s.ip)
			}
			continue
		}
		if orgs[s.org] == nil {
			orgs[s.org] = &tally{}
		}
		orgs[s.org].members++
		if s.hidden {
			orgs[s.org].hidden++
		}
	}
	big := 0
	for org, c := range orgs {
		want := min(int(math.Round(float64(c.members)*0.3)), c.members-1)
		if slices.Contains(FullyDisclosed, org) {
			want = 0
		}
		if c.hidden != want {
			t.Errorf("%s: %d of %d members hidden, want %d", org, c.hidden, c.members, want)
		}
		if c.members >= 10 && want > 0 {
			big++
		}
	}
	if big < 3 {
		t.Fatalf("only %d orgs with 10+ members: the test world is too small to say anything", big)
	}
}

func TestUnattributedRatio(t *testing.T) {
	for _, ratio := range []float64{0.5, 10} {
		cfg := structureConfig(t, 4)
		cfg.UnattributedRatio, cfg.HiddenShare = ratio, 0
		// Half the labelled scanners, so that 10:1 needs more unattributed
		// scanners than SelfDeploy-24 has.
		cfg.KnownFraction = 0.5
		p := mustPlan(t, cfg)
		labelled, unattributed := 0, 0
		seen := map[netip.Addr]bool{}
		real16 := map[[2]byte]bool{}
		realIP := map[netip.Addr]bool{}
		for _, rs := range p.cat.scanners {
			realIP[rs.IP] = true
			if rs.Org == unknownOrg {
				a := rs.IP.As4()
				real16[[2]byte{a[0], a[1]}] = true
			}
		}
		fresh := 0
		for _, s := range p.scanners {
			if seen[s.ip] {
				t.Fatalf("ratio %g: address %s used twice", ratio, s.ip)
			}
			seen[s.ip] = true
			if s.extraOnly {
				continue // the ratio counts the scanners of the counted services
			}
			switch {
			case s.labelled():
				labelled++
			case s.org == unknownOrg:
				unattributed++
				a := s.ip.As4()
				if !real16[[2]byte{a[0], a[1]}] {
					t.Errorf("ratio %g: %s is outside every real unattributed /16", ratio, s.ip)
				}
				if !realIP[s.ip] {
					fresh++
				}
			}
		}
		want := int(math.Round(float64(labelled) * ratio))
		if unattributed != want {
			t.Errorf("ratio %g: %d unattributed for %d labelled, want %d", ratio, unattributed, labelled, want)
		}
		realRows := 0
		for _, rs := range p.cat.scanners {
			if rs.Org == unknownOrg {
				realRows++
			}
		}
		if wantFresh := max(0, want-realRows); fresh != wantFresh {
			t.Errorf("ratio %g: %d scanners with fresh addresses, want %d", ratio, fresh, wantFresh)
		}
	}
}

func TestGenericMimics(t *testing.T) {
	cfg := structureConfig(t, 5)
	cfg.GenericMimics = 3
	p := mustPlan(t, cfg)
	// The templates each org's own scanners send, by profile name.
	own := map[string]map[string]bool{}
	for _, s := range p.sessions {
		if s.scanner.org != unknownOrg {
			if own[s.scanner.org] == nil {
				own[s.scanner.org] = map[string]bool{}
			}
			own[s.scanner.org][s.profile] = true
		}
	}
	mimics := map[string]map[netip.Addr]bool{}
	replayed := 0
	for _, s := range p.sessions {
		sc := s.scanner
		if sc.mimic == nil {
			continue
		}
		if sc.org != unknownOrg || sc.hidden || sc.labelled() {
			t.Fatalf("mimic %s is not an innocent unattributed scanner", sc.ip)
		}
		if mimics[sc.mimicOrg] == nil {
			mimics[sc.mimicOrg] = map[netip.Addr]bool{}
		}
		mimics[sc.mimicOrg][sc.ip] = true
		if strings.HasPrefix(s.profile, sc.mimicOrg+"/") {
			replayed++
			if !sc.mimic.has(s.service) {
				t.Errorf("%s replays %s in a service %s lacks", sc.ip, s.profile, sc.mimicOrg)
			}
		} else if sc.mimic.has(s.service) {
			t.Errorf("%s mimics %s but sent %s", sc.ip, sc.mimicOrg, s.profile)
		}
	}
	if replayed == 0 {
		t.Fatal("no mimic probe")
	}
	for org := range own {
		if slices.Contains(FullyDisclosed, org) {
			if len(mimics[org]) > 0 {
				t.Errorf("fully disclosed %s has mimics", org)
			}
			continue
		}
		// A mimic without probes in a planned session is possible only if
		// every probe it has falls in services the org lacks, so count
		// scanners, not sessions.
		n := 0
		for _, s := range p.scanners {
			if s.mimicOrg == org {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%s: %d mimics, want 3", org, n)
		}
	}
	// The same HTTP template gives the same bytes whoever sends it, up to
	// the honeypot address: compare signatures.
	sigs := map[string]string{}
	for _, s := range p.sessions {
		if s.service != 0 {
			continue
		}
		if prev, ok := sigs[s.profile]; ok && !strings.Contains(s.profile, "paths") && prev != s.signature &&
			!slices.ContainsFunc([]string{"exploit", "bot"}, func(w string) bool { return strings.Contains(s.profile, w) }) {
			t.Errorf("template %s sent as two different requests", s.profile)
		}
		sigs[s.profile] = s.signature
	}
}

func TestTemplatesPerOrg(t *testing.T) {
	for _, k := range []int{1, 8} {
		cfg := structureConfig(t, 6)
		cfg.TemplatesPerOrg = k
		p := mustPlan(t, cfg)
		perOrg := map[string][maxServices]map[string]bool{}
		perScanner := map[*scanner][maxServices]map[string]bool{}
		for _, s := range p.sessions {
			sc := s.scanner
			if sc.org == unknownOrg {
				continue
			}
			if _, ok := perOrg[sc.org]; !ok {
				perOrg[sc.org] = newServiceSets()
			}
			if _, ok := perScanner[sc]; !ok {
				perScanner[sc] = newServiceSets()
			}
			perOrg[sc.org][s.service][s.profile] = true
			perScanner[sc][s.service][s.profile] = true
		}
		most := 0
		for org, svcs := range perOrg {
			for svc, names := range svcs {
				if len(names) > k {
					t.Errorf("k=%d: %s sends %d %s templates", k, org, len(names), serviceNames[svc])
				}
				most = max(most, len(names))
			}
		}
		if most != k {
			t.Errorf("k=%d: the busiest org service has %d templates", k, most)
		}
		for sc, svcs := range perScanner {
			for svc, names := range svcs {
				// A chained follow-up request is sent on top of the
				// scanner's own templates.
				if len(names) > 3+1 {
					t.Errorf("k=%d: %s sends %d %s templates, want at most 3 (+1 follow-up)", k, sc.ip, len(names), serviceNames[svc])
				}
			}
		}
	}
	// Derived templates differ from their base in the bytes, not just in name.
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cat.setTemplatesPerOrg(8)
	for _, org := range cat.orgNames {
		op := cat.orgs[org]
		rng := rand.New(rand.NewPCG(1, 2))
		hp := netip.MustParseAddr("198.51.100.11")
		tlsTemplates := op.templates[svcIndex(t, "tls")]
		ja3s := map[string]bool{}
		for _, v := range tlsTemplates {
			ja3s[v.Emit(rng, hp, 443, time.Time{}).JA3] = true
		}
		if len(tlsTemplates) > 0 && len(ja3s) < 2 {
			t.Errorf("%s: 8 TLS templates with %d JA3 strings", org, len(ja3s))
		}
		dnsTemplates := op.templates[svcIndex(t, "dns")]
		qs := map[string]bool{}
		for _, v := range dnsTemplates {
			// The signature's first part is the question name.
			qs[strings.Split(v.Emit(rng, hp, 53, time.Time{}).Signature, "|")[0]] = true
		}
		if len(dnsTemplates) > 0 && len(qs) < 2 {
			t.Errorf("%s: 8 DNS templates with %d names", org, len(qs))
		}
	}
}

func TestSplitHoneypots(t *testing.T) {
	cfg := structureConfig(t, 7)
	train, test, err := HoneypotLayout("split16s", 7)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Honeypots, cfg.HoneypotsTest = train, test
	slash16 := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 16).Masked() }
	for _, a := range train {
		for _, b := range test {
			if slash16(a) == slash16(b) {
				t.Fatalf("train %s and test %s share a /16", a, b)
			}
		}
	}
	p := mustPlan(t, cfg)
	hosts := 0
	for _, s := range p.sessions {
		want := train
		if s.synTime >= p.split {
			want = test
		}
		if !slices.Contains(want, s.dst) {
			t.Fatalf("session at %d went to %s, not a honeypot of its part", s.synTime, s.dst)
		}
		// Whatever names the probed address must name this session's.
		if s.service == 0 {
			for _, line := range strings.Split(string(s.payload), "\r\n") {
				if h, ok := strings.CutPrefix(strings.ToLower(line), "host: "); ok && h != "" {
					// Some tools send a fixed name; an address must be the
					// honeypot's.
					a, err := netip.ParseAddr(strings.Split(h, ":")[0])
					if err != nil {
						continue
					}
					hosts++
					if a != s.dst {
						t.Fatalf("Host %q on a session to %s", h, s.dst)
					}
				}
			}
		}
	}
	if hosts == 0 {
		t.Fatal("no Host header checked")
	}
	if _, _, err := HoneypotLayout("mesh", 1); err == nil {
		t.Error("unknown layout accepted")
	}
}

func TestStructureSameSeedSameBytes(t *testing.T) {
	gen := func() map[string][]byte {
		cfg := structureConfig(t, 8)
		cfg.HiddenPerOrg, cfg.UnattributedRatio, cfg.GenericMimics, cfg.TemplatesPerOrg = 0.2, 4, 2, 5
		cfg.Honeypots, cfg.HoneypotsTest, _ = HoneypotLayout("split16s", 8)
		dir := t.TempDir()
		if _, err := Generate(context.Background(), cfg, dir); err != nil {
			t.Fatal(err)
		}
		return worldFiles(t, dir)
	}
	a, b := gen(), gen()
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two runs with the same seed and structure", name)
		}
	}
	if len(a) != len(b) {
		t.Errorf("%d vs %d files", len(a), len(b))
	}
}

func TestStructureKnobsValidated(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.HiddenPerOrg = -0.1 },
		func(c *Config) { c.HiddenPerOrg = 0.95 },
		func(c *Config) { c.UnattributedRatio = -1 },
		func(c *Config) { c.UnattributedRatio = 100 },
		func(c *Config) { c.GenericMimics = -1 },
		func(c *Config) { c.TemplatesPerOrg = 17 },
		func(c *Config) { c.HoneypotsTest = []netip.Addr{netip.MustParseAddr("2001:db8::1")} },
	} {
		cfg := structureConfig(t, 1)
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestTemplatesFile(t *testing.T) {
	cfg := structureConfig(t, 9)
	cfg.GenericMimics, cfg.WriteTemplates = 2, true
	dir := t.TempDir()
	if _, err := Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	truth := readCSV(t, filepath.Join(dir, "truth.csv"))
	tmpl := readCSV(t, filepath.Join(dir, "templates.csv"))
	if len(tmpl) != len(truth) || !slices.Equal(tmpl[0], TemplatesHeader) {
		t.Fatalf("templates.csv: %d rows with header %v for %d truth rows", len(tmpl), tmpl[0], len(truth))
	}
	// Who sends each template: org members, mimics (their profile names
	// an org but their org is unknown), other generic-tool users.
	type senders struct{ org, mimic, generic bool }
	by := map[string]*senders{}
	for i, r := range truth[1:] {
		row := tmpl[i+1]
		if row[0] != r[1] || row[1] != r[2] {
			t.Fatalf("row %d: templates.csv %v, truth.csv %v", i+2, row, r)
		}
		s := by[row[2]]
		if s == nil {
			s = &senders{}
			by[row[2]] = s
		}
		switch {
		case r[7] != unknownOrg:
			s.org = true
		case strings.HasPrefix(r[8], unknownOrg+"/"):
			s.generic = true
		default:
			s.mimic = true
		}
	}
	var replayed, shared int
	for _, s := range by {
		if s.mimic && s.org {
			replayed++
		}
		if s.org && s.generic {
			shared++
		}
	}
	// Mimics replay org templates byte for byte; and some orgs send what
	// generic tools send (shadowserver's zgrab2 request is zgrab2's own).
	if replayed == 0 || shared == 0 {
		t.Errorf("templates replayed by mimics %d, shared by orgs and generic tools %d", replayed, shared)
	}
}

func newServiceSets() [maxServices]map[string]bool {
	var out [maxServices]map[string]bool
	for i := range out {
		out[i] = map[string]bool{}
	}
	return out
}
