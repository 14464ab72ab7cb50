package simulate

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// The data files are embedded so that `scannergrouper demo` needs nothing but
// the binary. profiles.json is written by hand (every entry names its source);
// corpus.json and scanners_sd24.csv are derived from ../shared by gendata.go.
//
//go:generate go run gendata.go -shared ../../../shared
//go:embed data/profiles.json data/corpus.json data/scanners_sd24.csv
var dataFS embed.FS

// weightedPort is a JSON pair [port, weight].
type weightedPort = [2]int

// serviceTemplates is what one org (or one generic tool) sends per service:
// the templates of service i (serviceNames[i]) decoded by its emitter from
// the profile's "<service>" member.
type serviceTemplates struct {
	templates [maxServices][]probe.Template
	raw       map[string]json.RawMessage
}

// splitServices moves the members named like a service from m into the
// raw templates and returns what is left.
func (st *serviceTemplates) splitServices(m map[string]json.RawMessage) map[string]json.RawMessage {
	st.raw = map[string]json.RawMessage{}
	for k, v := range m {
		if slices.Contains(serviceNames, k) {
			st.raw[k] = v
			delete(m, k)
		}
	}
	return m
}

type orgProfile struct {
	serviceTemplates
	VisitMean float64 `json:"visit_mean"`
	Source    string  `json:"source"`
}

// UnmarshalJSON reads the org's own members and keeps the services' for
// their emitters.
func (op *orgProfile) UnmarshalJSON(b []byte) error {
	var own struct {
		VisitMean float64 `json:"visit_mean"`
		Source    string  `json:"source"`
	}
	if err := op.unmarshal(b, &own); err != nil {
		return err
	}
	op.VisitMean, op.Source = own.VisitMean, own.Source
	return nil
}

type toolProfile struct {
	serviceTemplates
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Source string  `json:"source"`
}

// UnmarshalJSON reads the tool's own members and keeps the services' for
// their emitters.
func (t *toolProfile) UnmarshalJSON(b []byte) error {
	var own struct {
		Name   string  `json:"name"`
		Weight float64 `json:"weight"`
		Source string  `json:"source"`
	}
	if err := t.unmarshal(b, &own); err != nil {
		return err
	}
	t.Name, t.Weight, t.Source = own.Name, own.Weight, own.Source
	return nil
}

// unmarshal keeps a profile's service members raw and decodes the others
// into own, refusing unknown ones.
func (st *serviceTemplates) unmarshal(b []byte, own any) error {
	m, err := rawObject(b)
	if err != nil {
		return err
	}
	return decodeRest(st.splitServices(m), own)
}

func rawObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(b, &m)
	return m, err
}

// decodeRest decodes the members left in m into v, refusing unknown ones.
func decodeRest(m map[string]json.RawMessage, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return probe.DecodeStrict(b, v)
}

// profileFile holds the members of profiles.json the simulator reads
// itself; every other member (and every other member of "generic") is an
// emitter's.
type profileFile struct {
	Comment []string                   `json:"comment"`
	Ports   map[string]json.RawMessage `json:"ports"`
	Generic struct {
		Comment string        `json:"comment"`
		Tools   []toolProfile `json:"tools"`
	} `json:"generic"`
	Orgs map[string]*orgProfile `json:"orgs"`
	// ExtraServices says how much the services SelfDeploy-24 has no counts
	// for are sent (extra.go), by service name.
	ExtraServices map[string]json.RawMessage `json:"extra_services"`
}

// realScanner is one SelfDeploy-24 scanner row: org, IP and first-probe
// counts per service (serviceNames order) in the train and test parts.
type realScanner struct {
	Org    string
	IP     netip.Addr
	Counts [2][maxServices]int
}

// catalog is everything the generator draws from, resolved and validated.
type catalog struct {
	// ports are the destination ports of each service.
	ports    [maxServices][]weightedPort
	tools    []*toolProfile
	orgs     map[string]*orgProfile
	orgNames []string // sorted, so nothing depends on map order
	scanners []realScanner
	// counted are the services scanners_sd24.csv has counts for, extra
	// the others (extra.go), each in serviceNames order.
	counted, extra []int
	// extraRates are how the extra services are sent.
	extraRates [maxServices]extraRate
}

// loadData reads the embedded profile and corpus files: the members the
// simulator reads itself into pf, the rest into the emitters' data.
func loadData() (*profileFile, *probe.EmitData, error) {
	var top, generic, corpus map[string]json.RawMessage
	if err := readJSON("data/profiles.json", &top); err != nil {
		return nil, nil, err
	}
	if err := readJSON("data/corpus.json", &corpus); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(top["generic"], &generic); err != nil {
		return nil, nil, fmt.Errorf("data/profiles.json: generic: %w", err)
	}
	own := map[string]json.RawMessage{}
	for _, k := range []string{"comment", "ports", "orgs", "extra_services"} {
		if v, ok := top[k]; ok {
			own[k] = v
			delete(top, k)
		}
	}
	delete(top, "generic")
	ownGeneric := map[string]json.RawMessage{}
	for _, k := range []string{"comment", "tools"} {
		if v, ok := generic[k]; ok {
			ownGeneric[k] = v
			delete(generic, k)
		}
	}
	b, err := json.Marshal(ownGeneric)
	if err != nil {
		return nil, nil, err
	}
	own["generic"] = b
	var pf profileFile
	if err := decodeRest(own, &pf); err != nil {
		return nil, nil, fmt.Errorf("data/profiles.json: %w", err)
	}
	delete(corpus, "comment")
	return &pf, probe.NewEmitData(top, generic, corpus), nil
}

func loadCatalog() (*catalog, error) {
	pf, data, err := loadData()
	if err != nil {
		return nil, err
	}
	c := &catalog{orgs: pf.Orgs}
	var decoders [maxServices]probe.TemplateDecoder
	for i, name := range serviceNames {
		e, _ := probe.EmitterOf(name)
		if decoders[i], err = e.Templates(data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if unread := data.Unread(); len(unread) > 0 {
		return nil, fmt.Errorf("data files: members no service reads: %v", unread)
	}
	for k, raw := range pf.Ports {
		if k == "source" {
			continue
		}
		i := slices.Index(serviceNames, k)
		if i < 0 {
			return nil, fmt.Errorf("ports: unknown service %q", k)
		}
		if err := probe.DecodeStrict(raw, &c.ports[i]); err != nil {
			return nil, fmt.Errorf("ports %s: %w", k, err)
		}
	}
	resolve := func(owner string, st *serviceTemplates) error {
		for i, name := range serviceNames {
			raw, ok := st.raw[name]
			if !ok {
				continue
			}
			ts, err := decoders[i](raw)
			if err != nil {
				return fmt.Errorf("%s %s %w", owner, name, err)
			}
			for _, t := range ts {
				if err := checkWeight(t.Weight(), t.Active()); err != nil {
					return fmt.Errorf("%s %s %s: %w", owner, name, t.Name(), err)
				}
				if n := t.Next(); n != "" && !slices.ContainsFunc(ts, func(u probe.Template) bool { return u.Name() == n }) {
					return fmt.Errorf("%s %s %s: next %q not defined", owner, name, t.Name(), n)
				}
			}
			st.templates[i] = ts
		}
		st.raw = nil
		return nil
	}
	for name, op := range c.orgs {
		if err := resolve(name, &op.serviceTemplates); err != nil {
			return nil, err
		}
		if op.VisitMean < 1 {
			op.VisitMean = 1
		}
		c.orgNames = append(c.orgNames, name)
	}
	sort.Strings(c.orgNames)
	for i := range pf.Generic.Tools {
		t := &pf.Generic.Tools[i]
		if err := resolve("tool "+t.Name, &t.serviceTemplates); err != nil {
			return nil, err
		}
		c.tools = append(c.tools, t)
	}
	scanners, counted, err := loadScanners()
	if err != nil {
		return nil, err
	}
	c.counted = counted
	for i := range serviceNames {
		if !slices.Contains(counted, i) {
			c.extra = append(c.extra, i)
		}
	}
	if err := c.loadExtraRates(pf.ExtraServices); err != nil {
		return nil, err
	}
	for _, s := range scanners {
		if s.Org != unknownOrg && c.orgs[s.Org] == nil {
			return nil, fmt.Errorf("scanners_sd24.csv: org %q has no profile", s.Org)
		}
	}
	c.scanners = scanners
	return c, nil
}

func readJSON(name string, v any) error {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// loadScanners reads the real scanners and which services (indices of
// serviceNames, in order) the file counts.
func loadScanners() ([]realScanner, []int, error) {
	b, err := dataFS.ReadFile("data/scanners_sd24.csv")
	if err != nil {
		return nil, nil, err
	}
	var out []realScanner
	// cols maps each count column (from the header: <service>_train,
	// <service>_test) to its segment and service.
	var cols [][2]int
	var counted []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, ",")
		if cols == nil {
			if len(f) < 2 || f[0] != "org" || f[1] != "ip" {
				return nil, nil, fmt.Errorf("scanners_sd24.csv:%d: header must start org,ip", line)
			}
			cols = make([][2]int, 0, len(f)-2)
			for _, h := range f[2:] {
				svc, segName, _ := strings.Cut(h, "_")
				seg := slices.Index([]string{"train", "test"}, segName)
				i := slices.Index(serviceNames, svc)
				if seg < 0 || i < 0 {
					return nil, nil, fmt.Errorf("scanners_sd24.csv:%d: column %q is no <service>_train or <service>_test", line, h)
				}
				cols = append(cols, [2]int{seg, i})
				if !slices.Contains(counted, i) {
					counted = append(counted, i)
				}
			}
			continue
		}
		if len(f) != 2+len(cols) {
			return nil, nil, fmt.Errorf("scanners_sd24.csv:%d: %d columns, want %d", line, len(f), 2+len(cols))
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil {
			return nil, nil, fmt.Errorf("scanners_sd24.csv:%d: %w", line, err)
		}
		rs := realScanner{Org: f[0], IP: ip}
		for i, c := range cols {
			n, err := strconv.Atoi(f[2+i])
			if err != nil || n < 0 {
				return nil, nil, fmt.Errorf("scanners_sd24.csv:%d: bad count %q", line, f[2+i])
			}
			rs.Counts[c[0]][c[1]] = n
		}
		out = append(out, rs)
	}
	slices.Sort(counted)
	return out, counted, sc.Err()
}

func checkWeight(w float64, active []float64) error {
	if w <= 0 {
		return fmt.Errorf("weight must be > 0")
	}
	if active != nil && (len(active) != 2 || active[0] < 0 || active[1] > 1 || active[0] >= active[1]) {
		return fmt.Errorf("active must be [from, to) inside [0, 1]")
	}
	return nil
}
