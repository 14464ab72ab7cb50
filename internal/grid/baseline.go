// Package grid runs the attribution over a grid of differently built
// simulated worlds and scores it next to two baselines computed from the
// world files alone, so that defaults can be chosen on the worst world
// rather than on the one they were tuned to (issue 12).
package grid

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// unknown is the class of everything that is no known org.
const unknown = "unknown"

// probeRef is what a baseline needs of one probe: when, and which payload
// template it was built from.
type probeRef struct {
	time     time.Time
	template string
}

// Scanner is one source IP of a world as its files tell it.
type Scanner struct {
	IP netip.Addr
	// Org is the true org (truth.csv; "unknown" for generic-tool users).
	Org string
	// Hidden: a member of Org that labels.csv does not list.
	Hidden bool
	// Label is the org labels.csv gives the IP ("" when none).
	Label  string
	probes []probeRef
}

// World is a simulated world read back from its truth.csv and labels.csv.
type World struct {
	Scanners map[netip.Addr]*Scanner
	// fullyDisclosed orgs are scored as the unknown class (DESIGN §4.3).
	fullyDisclosed func(string) bool
	canonical      func(string) string
}

// LoadWorld reads dir/truth.csv and dir/labels.csv.
func LoadWorld(dir string) (*World, error) {
	rows, err := simulate.ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	labels, err := ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "labels.csv"), err)
	}
	templates, err := readTemplates(filepath.Join(dir, "templates.csv"), rows)
	if err != nil {
		return nil, err
	}
	return NewWorld(rows, labels, templates), nil
}

// readTemplates reads the templates.csv a world has when simulated with
// WriteTemplates (nil when it has none), checking that its rows are those
// of truth.csv.
func readTemplates(path string, rows []simulate.TruthRow) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(simulate.TemplatesHeader)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) != len(rows)+1 || !slices.Equal(recs[0], simulate.TemplatesHeader) {
		return nil, fmt.Errorf("%s: %d rows with header %v for %d truth rows", path, len(recs)-1, recs[0], len(rows))
	}
	out := make([]string, len(rows))
	for i, rec := range recs[1:] {
		if rec[0] != rows[i].SrcIP.String() || rec[1] != strconv.Itoa(int(rows[i].SrcPort)) {
			return nil, fmt.Errorf("%s:%d: %s:%s is not truth.csv's %s:%d", path, i+2, rec[0], rec[1], rows[i].SrcIP, rows[i].SrcPort)
		}
		out[i] = rec[2]
	}
	return out, nil
}

// ReadLabels reads an ip,org label file (the artifact's IP,Label header
// too); "unknown" rows are no label.
func ReadLabels(r io.Reader) (map[netip.Addr]string, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]string{}
	for i, rec := range recs {
		if len(rec) < 2 {
			return nil, fmt.Errorf("line %d: want ip,org", i+1)
		}
		ip, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimSpace(rec[0]), "\ufeff"))
		if err != nil {
			if i == 0 {
				continue // header
			}
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if org := label.DefaultRegistry().Canonical(rec[1]); org != "" {
			out[ip] = org
		}
	}
	return out, nil
}

// NewWorld builds a World from truth rows, labels and the rows' payload
// templates (templates.csv). Without templates (nil), a probe's template is
// its truth profile (the org's or tool's payload variant; a generic mimic
// names the template it replays) with the JA3 of TLS probes, since one TLS
// variant may draw among several ClientHellos: coarser where a variant
// draws among paths, finer where an org and a tool send the same bytes.
func NewWorld(rows []simulate.TruthRow, labels map[netip.Addr]string, templates []string) *World {
	reg := label.DefaultRegistry()
	// The registry spells the unattributed label ""; here it is a class.
	canonical := func(org string) string { return cmp.Or(reg.Canonical(org), unknown) }
	w := &World{Scanners: map[netip.Addr]*Scanner{}, fullyDisclosed: reg.FullyDisclosed, canonical: canonical}
	for i, r := range rows {
		s := w.Scanners[r.SrcIP]
		if s == nil {
			s = &Scanner{IP: r.SrcIP, Org: w.canonical(r.Org)}
			if l := labels[r.SrcIP]; l != "" {
				s.Label = w.canonical(l)
			}
			w.Scanners[r.SrcIP] = s
		}
		s.Hidden = s.Hidden || r.Hidden
		tmpl := r.Profile + "|" + r.JA3
		if templates != nil {
			tmpl = templates[i]
		}
		s.probes = append(s.probes, probeRef{time: r.Time, template: tmpl})
	}
	return w
}

func (s *Scanner) seenBefore(cut time.Time) bool {
	return slices.ContainsFunc(s.probes, func(p probeRef) bool { return p.time.Before(cut) })
}

func (s *Scanner) seenFrom(cut time.Time) bool {
	return slices.ContainsFunc(s.probes, func(p probeRef) bool { return !p.time.Before(cut) })
}

// generic: an innocent scanner that runs generic tools only.
func (s *Scanner) generic() bool { return s.Org == unknown && !s.Hidden }

// Predictor names the org it attributes an IP to ("unknown" for none).
type Predictor func(ip netip.Addr) string

// knownOrgs are the classes of a run cut at cut: the orgs that label a
// scanner seen before the cut, fully disclosed ones aside (they are the
// unknown class), as the pipeline builds its classes from training.
func (w *World) knownOrgs(cut time.Time) []string {
	seen := map[string]bool{}
	for _, s := range w.Scanners {
		if s.Label != "" && !w.fullyDisclosed(s.Label) && s.seenBefore(cut) {
			seen[s.Label] = true
		}
	}
	orgs := make([]string, 0, len(seen))
	for o := range seen {
		orgs = append(orgs, o)
	}
	slices.Sort(orgs)
	return orgs
}

// Scores are the project's metrics of one attribution of a world's test
// part (every IP that probes at or after the cut).
type Scores struct {
	// Labelled test scanners (in labels.csv), and NewIPs of them never
	// seen before the cut.
	Labelled int `json:"labelled"`
	NewIPs   int `json:"new_ips"`
	// WeightedF1 over the labelled test scanners (classes: the known orgs
	// and unknown; fully disclosed and untrained orgs count as unknown),
	// NewF1 over the new ones only.
	WeightedF1 float64 `json:"weighted_f1"`
	NewF1      float64 `json:"new_ip_f1"`
	// OverAttribution is the share of the generic-tool test IPs (Generic)
	// given an org.
	Generic         int     `json:"generic_ips"`
	OverAttribution float64 `json:"over_attribution"`
	// HiddenRecall is the share of hidden members of known orgs among the
	// test IPs (Hidden) attributed to their true org.
	Hidden       int     `json:"hidden_ips"`
	HiddenRecall float64 `json:"hidden_recall"`
}

// Score scores predict on the world's test part after cut, with the
// metric functions of the evaluate command (eval.Classify, eval.Truth).
func (w *World) Score(cut time.Time, predict Predictor) (Scores, error) {
	orgs := w.knownOrgs(cut)
	class := func(org string) int {
		if i, ok := slices.BinarySearch(orgs, w.canonical(org)); ok {
			return i
		}
		return len(orgs)
	}
	unk := len(orgs)
	classes := make([]int, len(orgs)+1)
	for i := range classes {
		classes[i] = i
	}
	var sc Scores
	var yTrue, yPred, nTrue, nPred []int
	var truth []eval.TruthRow
	for _, ip := range w.sortedIPs() {
		s := w.Scanners[ip]
		if !s.seenFrom(cut) {
			continue
		}
		p := class(predict(ip))
		if s.Label != "" {
			t := class(s.Label)
			yTrue, yPred = append(yTrue, t), append(yPred, p)
			if !s.seenBefore(cut) {
				nTrue, nPred = append(nTrue, t), append(nPred, p)
			}
		}
		if s.Hidden || s.generic() {
			truth = append(truth, eval.TruthRow{Predicted: p, TrueClass: class(s.Org), Hidden: s.Hidden, Generic: s.generic()})
		}
	}
	m, err := eval.Classify(yTrue, yPred, classes)
	if err != nil {
		return sc, err
	}
	mn, err := eval.Classify(nTrue, nPred, classes)
	if err != nil {
		return sc, err
	}
	ts := eval.Truth(truth, unk)
	sc.Labelled, sc.NewIPs = len(yTrue), len(nTrue)
	sc.WeightedF1, sc.NewF1 = m.Weighted.F1, mn.Weighted.F1
	sc.Generic, sc.OverAttribution = ts.GenericIPs, ts.OverAttribution
	sc.Hidden, sc.HiddenRecall = ts.HiddenMembers, ts.HiddenRecall
	return sc, nil
}

func (w *World) sortedIPs() []netip.Addr {
	ips := make([]netip.Addr, 0, len(w.Scanners))
	for ip := range w.Scanners {
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	return ips
}

// majority returns the most frequent key (the smallest among equals, so
// that nothing depends on map order), or "" for an empty tally.
func majority(votes map[string]int) string {
	best, n := "", 0
	for k, c := range votes {
		if c > n || (c == n && cmp.Less(k, best)) {
			best, n = k, c
		}
	}
	return best
}

func slash24(ip netip.Addr) netip.Prefix {
	p, _ := ip.Prefix(24)
	return p
}

// Lookup is the list-lookup baseline: an IP labelled and seen before the
// cut gets its label; any other gets the majority label of the labelled
// IPs seen before the cut in its /24; else unknown. It is what an analyst
// gets from the labels alone, without reading a payload.
func (w *World) Lookup(cut time.Time) Predictor {
	by24 := map[netip.Prefix]map[string]int{}
	for _, s := range w.Scanners {
		if s.Label == "" || !s.seenBefore(cut) {
			continue
		}
		p := slash24(s.IP)
		if by24[p] == nil {
			by24[p] = map[string]int{}
		}
		by24[p][s.Label]++
	}
	return func(ip netip.Addr) string {
		if s := w.Scanners[ip]; s != nil && s.Label != "" && s.seenBefore(cut) {
			return s.Label
		}
		if org := majority(by24[slash24(ip)]); org != "" {
			return org
		}
		return unknown
	}
}

// Ceiling is the payload-template oracle: a template is attributable to
// org X when more than half of the distinct IPs that sent it before the
// cut truly belong to X (truth.csv: hidden members count for their org,
// generic-tool users for nobody); a test IP gets the org most of its test
// probes with an attributable template point to, else unknown. No
// payload-only attribution can tell two senders of one template apart, so
// this bounds what payloads can give, up to templates whose bytes differ
// only where the truth does not look (an HTTP variant drawing among
// several paths counts as one template).
func (w *World) Ceiling(cut time.Time) Predictor {
	senders := map[string]map[netip.Addr]string{}
	for _, s := range w.Scanners {
		for _, p := range s.probes {
			if !p.time.Before(cut) {
				continue
			}
			if senders[p.template] == nil {
				senders[p.template] = map[netip.Addr]string{}
			}
			senders[p.template][s.IP] = s.Org
		}
	}
	owner := map[string]string{}
	for tmpl, ips := range senders {
		count := map[string]int{}
		for _, org := range ips {
			count[org]++
		}
		if org := majority(count); org != unknown && 2*count[org] > len(ips) {
			owner[tmpl] = org
		}
	}
	return func(ip netip.Addr) string {
		s := w.Scanners[ip]
		if s == nil {
			return unknown
		}
		votes := map[string]int{}
		for _, p := range s.probes {
			if org, ok := owner[p.template]; ok && !p.time.Before(cut) {
				votes[org]++
			}
		}
		if org := majority(votes); org != "" {
			return org
		}
		return unknown
	}
}
