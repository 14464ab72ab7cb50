package simulate

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
	"github.com/scannergrouper/scannergrouper/internal/simulate/corpusfile"
)

// The data files are embedded so that `scannergrouper demo` needs nothing but
// the binary. profiles.json is written by hand (every entry names its source);
// corpus.json and scanners_sd24.csv are derived from ../shared by gendata.go.
//
//go:generate go run gendata.go -shared ../../../shared
//go:embed data/profiles.json data/corpus.json data/scanners_sd24.csv
var dataFS embed.FS

// weightedPort is a JSON pair [port, weight].
type weightedPort [2]int

type httpVariant struct {
	Name       string            `json:"name"`
	Weight     float64           `json:"weight"`
	Source     string            `json:"source"`
	Active     []float64         `json:"active"`
	Request    string            `json:"request"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	URLs       []string          `json:"urls"`
	Version    string            `json:"version"`
	Headers    [][2]string       `json:"headers"`
	SetHeaders map[string]string `json:"set_headers"`
	ExploitURL bool              `json:"exploit_url"`
	BotUA      bool              `json:"bot_ua"`
	Next       string            `json:"next"`

	// trailer is sent after the request's blank line (from the corpus).
	trailer string
}

type tlsVariant struct {
	Name   string    `json:"name"`
	Weight float64   `json:"weight"`
	Source string    `json:"source"`
	Active []float64 `json:"active"`
	Stack  string    `json:"stack"`
	// StackPrefix picks, per probe, one of all stacks whose name starts
	// with it: tools such as testssl, sslscan or JARM open one connection
	// per hello, so each of their hellos is a first probe.
	StackPrefix string `json:"stack_prefix"`
	// Ports replaces the TLS port list for tools that send a ClientHello
	// whatever the port (a ClientHello on port 80 is still TLS).
	Ports []weightedPort `json:"ports"`

	stacks []*stls.Stack
}

type dnsVariant struct {
	Name   string    `json:"name"`
	Weight float64   `json:"weight"`
	Source string    `json:"source"`
	Active []float64 `json:"active"`
	Query  string    `json:"query"`
	QName  string    `json:"qname"`
	// RandomLabel prepends a random 8-hex-digit label to QName, as
	// open-resolver surveys do to defeat caches and match answers.
	RandomLabel bool   `json:"random_label"`
	QType       uint16 `json:"qtype"`
	QClass      uint16 `json:"qclass"`
	Flags       string `json:"flags"`
	EDNS        bool   `json:"edns"`

	flags uint16
}

// serviceVariants is what one org (or one generic tool) sends per service.
type serviceVariants struct {
	HTTP []httpVariant `json:"http"`
	TLS  []tlsVariant  `json:"tls"`
	DNS  []dnsVariant  `json:"dns"`
}

type orgProfile struct {
	serviceVariants
	VisitMean float64 `json:"visit_mean"`
	Source    string  `json:"source"`
}

type toolProfile struct {
	serviceVariants
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

type stackDef struct {
	Base          string   `json:"base"`
	Source        string   `json:"source"`
	Ciphers       []string `json:"ciphers"`
	DropCiphers   []string `json:"drop_ciphers"`
	AppendCiphers []string `json:"append_ciphers"`
	Extensions    []int    `json:"extensions"`
	Groups        []int    `json:"groups"`
	SigAlgs       []string `json:"sigalgs"`
	Versions      []string `json:"versions"`
	ALPN          []string `json:"alpn"`
}

type profileFile struct {
	Comment []string `json:"comment"`
	Ports   struct {
		Source string         `json:"source"`
		HTTP   []weightedPort `json:"http"`
		TLS    []weightedPort `json:"tls"`
		DNS    []weightedPort `json:"dns"`
	} `json:"ports"`
	Stacks  map[string]stackDef `json:"stacks"`
	Generic struct {
		Comment           string        `json:"comment"`
		ExploitURLsSource string        `json:"exploit_urls_source"`
		ExploitURLs       []string      `json:"exploit_urls"`
		Tools             []toolProfile `json:"tools"`
	} `json:"generic"`
	Orgs map[string]*orgProfile `json:"orgs"`
}

// realScanner is one SelfDeploy-24 scanner row: org, IP and first-probe
// counts per service (http, tls, dns) in the train and test parts.
type realScanner struct {
	Org    string
	IP     netip.Addr
	Counts [2][numServices]int
}

// catalog is everything the generator draws from, resolved and validated.
type catalog struct {
	httpPorts, tlsPorts, dnsPorts []weightedPort
	stacks                        map[string]*stls.Stack
	exploitURLs                   []string
	tools                         []*toolProfile
	orgs                          map[string]*orgProfile
	orgNames                      []string // sorted, so nothing depends on map order
	bots                          []string
	scanners                      []realScanner
}

func loadCatalog() (*catalog, error) {
	var pf profileFile
	if err := readJSON("data/profiles.json", &pf); err != nil {
		return nil, err
	}
	var cf corpusfile.File
	if err := readJSON("data/corpus.json", &cf); err != nil {
		return nil, err
	}
	c := &catalog{
		httpPorts: pf.Ports.HTTP, tlsPorts: pf.Ports.TLS, dnsPorts: pf.Ports.DNS,
		stacks: map[string]*stls.Stack{}, exploitURLs: pf.Generic.ExploitURLs,
		orgs: pf.Orgs, bots: cf.BotUserAgents,
	}
	for _, cs := range cf.TLSStacks {
		st, err := resolveCorpusStack(cs)
		if err != nil {
			return nil, fmt.Errorf("corpus stack %s: %w", cs.Name, err)
		}
		c.stacks[cs.Name] = st
	}
	defNames := make([]string, 0, len(pf.Stacks))
	for name := range pf.Stacks {
		defNames = append(defNames, name)
	}
	sort.Strings(defNames)
	for _, name := range defNames {
		st, err := pf.Stacks[name].derive(name, c.stacks)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", name, err)
		}
		c.stacks[name] = st
	}
	httpByName := map[string]corpusfile.HTTPRequest{}
	for _, h := range cf.HTTPRequests {
		httpByName[h.Name] = h
	}
	dnsByName := map[string]corpusfile.DNSQuery{}
	for _, d := range cf.DNSQueries {
		dnsByName[d.Name] = d
	}
	resolve := func(owner string, sv *serviceVariants) error {
		for i := range sv.HTTP {
			if err := sv.HTTP[i].resolve(httpByName); err != nil {
				return fmt.Errorf("%s http %s: %w", owner, sv.HTTP[i].Name, err)
			}
		}
		for i := range sv.HTTP {
			if n := sv.HTTP[i].Next; n != "" && !slices.ContainsFunc(sv.HTTP, func(v httpVariant) bool { return v.Name == n }) {
				return fmt.Errorf("%s http %s: next %q not defined", owner, sv.HTTP[i].Name, n)
			}
		}
		for i := range sv.TLS {
			v := &sv.TLS[i]
			if err := checkWeight(v.Weight, v.Active); err != nil {
				return fmt.Errorf("%s tls %s: %w", owner, v.Name, err)
			}
			if v.StackPrefix != "" {
				for _, name := range sortedStackNames(c.stacks) {
					if strings.HasPrefix(name, v.StackPrefix) {
						v.stacks = append(v.stacks, c.stacks[name])
					}
				}
			} else if st, ok := c.stacks[v.Stack]; ok {
				v.stacks = []*stls.Stack{st}
			}
			if len(v.stacks) == 0 {
				return fmt.Errorf("%s tls %s: no stack %q%q", owner, v.Name, v.Stack, v.StackPrefix)
			}
		}
		for i := range sv.DNS {
			if err := sv.DNS[i].resolve(dnsByName); err != nil {
				return fmt.Errorf("%s dns %s: %w", owner, sv.DNS[i].Name, err)
			}
		}
		return nil
	}
	for name, op := range c.orgs {
		if err := resolve(name, &op.serviceVariants); err != nil {
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
		if err := resolve("tool "+t.Name, &t.serviceVariants); err != nil {
			return nil, err
		}
		c.tools = append(c.tools, t)
	}
	scanners, err := loadScanners()
	if err != nil {
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

func sortedStackNames(m map[string]*stls.Stack) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
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

func loadScanners() ([]realScanner, error) {
	b, err := dataFS.ReadFile("data/scanners_sd24.csv")
	if err != nil {
		return nil, err
	}
	var out []realScanner
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "org,") {
			continue
		}
		f := strings.Split(text, ",")
		if len(f) != 8 {
			return nil, fmt.Errorf("scanners_sd24.csv:%d: %d columns, want 8", line, len(f))
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("scanners_sd24.csv:%d: %w", line, err)
		}
		rs := realScanner{Org: f[0], IP: ip}
		for i := 0; i < 6; i++ {
			n, err := strconv.Atoi(f[2+i])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("scanners_sd24.csv:%d: bad count %q", line, f[2+i])
			}
			rs.Counts[i/3][i%3] = n
		}
		out = append(out, rs)
	}
	return out, sc.Err()
}

func (v *httpVariant) resolve(corpus map[string]corpusfile.HTTPRequest) error {
	if v.Request != "" {
		base, ok := corpus[v.Request]
		if !ok {
			return fmt.Errorf("unknown corpus request %q", v.Request)
		}
		if v.Method == "" {
			v.Method = base.Method
		}
		if v.URL == "" && len(v.URLs) == 0 {
			v.URL = base.URL
		}
		if v.Version == "" {
			v.Version = base.Version
		}
		if v.Headers == nil {
			v.Headers = slices.Clone(base.Headers)
		}
		v.trailer = base.Trailer
	}
	if v.Method == "" || v.Version == "" || (v.URL == "" && len(v.URLs) == 0) {
		return fmt.Errorf("incomplete request line")
	}
	for i, h := range v.Headers {
		if val, ok := v.SetHeaders[h[0]]; ok {
			v.Headers[i][1] = val
		}
	}
	return checkWeight(v.Weight, v.Active)
}

func (v *dnsVariant) resolve(corpus map[string]corpusfile.DNSQuery) error {
	if v.Query != "" {
		base, ok := corpus[v.Query]
		if !ok {
			return fmt.Errorf("unknown corpus query %q", v.Query)
		}
		v.QName, v.QType, v.QClass, v.Flags, v.EDNS = base.QName, base.QType, base.QClass, base.Flags, base.EDNS
	}
	if v.QName == "" || v.QType == 0 || v.QClass == 0 {
		return fmt.Errorf("incomplete question")
	}
	f, err := strconv.ParseUint(strings.TrimPrefix(v.Flags, "0x"), 16, 16)
	if err != nil {
		return fmt.Errorf("flags %q: %w", v.Flags, err)
	}
	v.flags = uint16(f)
	// Pack once with the longest name this variant can produce, so that a
	// bad name fails here and not in the middle of a generation.
	name := v.QName
	if v.RandomLabel {
		name = "ffffffff." + name
	}
	if _, _, err := v.question(name).Exchange(0); err != nil {
		return fmt.Errorf("question %q does not pack: %w", name, err)
	}
	return checkWeight(v.Weight, v.Active)
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

func resolveCorpusStack(cs corpusfile.TLSStack) (*stls.Stack, error) {
	st := &stls.Stack{Name: cs.Name, SessionIDLen: cs.SessionIDLen, ALPN: cs.ALPN, CorpusJA3MD5: cs.CorpusJA3MD5}
	var err error
	if st.RecordVersion, err = hex16(cs.RecordVersion); err != nil {
		return nil, err
	}
	if st.ClientVersion, err = hex16(cs.ClientVersion); err != nil {
		return nil, err
	}
	if st.Ciphers, err = hexList(cs.Ciphers); err != nil {
		return nil, err
	}
	if st.SigAlgs, err = hexList(cs.SigAlgs); err != nil {
		return nil, err
	}
	if st.Versions, err = hexList(cs.Versions); err != nil {
		return nil, err
	}
	st.Extensions = intList16(cs.Extensions)
	st.Groups = intList16(cs.Groups)
	for _, c := range cs.Compression {
		st.Compression = append(st.Compression, uint8(c))
	}
	for _, p := range cs.PointFormats {
		st.PointFormats = append(st.PointFormats, uint8(p))
	}
	if len(st.Compression) == 0 {
		st.Compression = []uint8{0}
	}
	if cs.FixedRandom != "" {
		r, err := hex.DecodeString(cs.FixedRandom)
		if err != nil || len(r) != 32 {
			return nil, fmt.Errorf("fixed_random must be 32 hex bytes")
		}
		st.FixedRandom = r
	}
	if st.SessionIDLen < 0 || st.SessionIDLen > 32 {
		return nil, fmt.Errorf("session id length %d", st.SessionIDLen)
	}
	return st, nil
}

// derive builds a stack from a base with some lists replaced. Removing the
// versions, ALPN or groups also removes the extension that carried them, so a
// derived hello stays consistent.
func (d stackDef) derive(name string, known map[string]*stls.Stack) (*stls.Stack, error) {
	base, ok := known[d.Base]
	if !ok {
		return nil, fmt.Errorf("unknown base %q", d.Base)
	}
	st := base.Clone()
	st.Name, st.CorpusJA3MD5 = name, ""
	var err error
	if d.Ciphers != nil {
		if st.Ciphers, err = hexList(d.Ciphers); err != nil {
			return nil, err
		}
	}
	if d.DropCiphers != nil {
		drop, err := hexList(d.DropCiphers)
		if err != nil {
			return nil, err
		}
		st.Ciphers = slices.DeleteFunc(st.Ciphers, func(c uint16) bool { return slices.Contains(drop, c) })
	}
	if d.AppendCiphers != nil {
		add, err := hexList(d.AppendCiphers)
		if err != nil {
			return nil, err
		}
		st.Ciphers = append(st.Ciphers, add...)
	}
	if d.Extensions != nil {
		st.Extensions = intList16(d.Extensions)
	}
	if d.Groups != nil {
		st.Groups = intList16(d.Groups)
	}
	if d.SigAlgs != nil {
		if st.SigAlgs, err = hexList(d.SigAlgs); err != nil {
			return nil, err
		}
	}
	if d.Versions != nil {
		if st.Versions, err = hexList(d.Versions); err != nil {
			return nil, err
		}
	}
	if d.ALPN != nil {
		st.ALPN = slices.Clone(d.ALPN)
	}
	st.DropEmptyExtensions()
	if len(st.Ciphers) == 0 {
		return nil, fmt.Errorf("no cipher suites left")
	}
	return st, nil
}

func hex16(s string) (uint16, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("bad 16-bit hex %q", s)
	}
	return uint16(v), nil
}

func hexList(in []string) ([]uint16, error) {
	out := make([]uint16, 0, len(in))
	for _, s := range in {
		v, err := hex16(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func intList16(in []int) []uint16 {
	out := make([]uint16, 0, len(in))
	for _, v := range in {
		out = append(out, uint16(v))
	}
	return out
}
