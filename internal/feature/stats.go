package feature

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Unattributed reports whether an org label means "no ground truth": "" or
// "unknown" (any case). Such probes count for coverage and distinct values
// but not for mutual information: "unknown" is a mixture of many scanners,
// not an organisation. Fully disclosed orgs (censys, driftnet) are orgs like
// any other here: their payloads are as characteristic as anyone's, and the
// open-set treatment (docs/formats.md §3) belongs to training, not field ranking.
func Unattributed(org string) bool {
	return org == "" || strings.EqualFold(org, "unknown")
}

// FieldStats describes one field of a service over a set of probes.
type FieldStats struct {
	Field string `json:"field"`
	Kind  string `json:"kind"`
	// Present is the number of probes that carry the field; Coverage is
	// Present over all probes.
	Present  int     `json:"present"`
	Coverage float64 `json:"coverage"`
	// Distinct counts the distinct values over all probes, N/A included when
	// some probe lacks the field.
	Distinct int `json:"distinct"`
	// UniqueRatio is distinct present values per present probe: near 1 for
	// per-connection values (TLS random bytes), near 0 for fingerprints.
	UniqueRatio float64 `json:"unique_ratio"`
	// MI is the mutual information (nats) between the label-encoded field
	// value and the org, on attributed probes (sklearn mutual_info_score).
	MI float64 `json:"mi"`
	// AMI is the mutual information adjusted for chance (sklearn
	// adjusted_mutual_info_score, arithmetic mean) of the value as the
	// encoder sees it: a string field cut to its pixel width, so a Host
	// header scores by the 10 bytes a model gets, not by the tail it never
	// sees. ≈0 for a field that separates orgs only because it is unique per
	// probe (TLS random bytes), 1 for a relabelling of the org.
	AMI float64 `json:"ami"`
	// Selected is set by Select.
	Selected bool `json:"selected"`
}

// FieldTable is the statistics of every field of a service.
type FieldTable struct {
	Service  string       `json:"service"`
	Probes   int          `json:"probes"`
	Labelled int          `json:"labelled"`
	Orgs     int          `json:"orgs"`
	Mode     SelectMode   `json:"mode,omitempty"`
	Fields   []FieldStats `json:"fields"`

	// codes holds, per field (same order as Fields), the label-encoded
	// encoder view of every attributed probe, for the redundancy test of
	// Select: per attributed row, or, for a field counted from Columns
	// (perProbe), per attributed probe, probeRows giving each one's
	// attributed row (nil when Select cannot need them, AMI < MinAMI).
	codes     [][]int32
	perProbe  []bool
	probeRows []int32
}

// FieldStatistics computes coverage, distinct values, MI and AMI for every
// field of service seen in probes (and, for DNS, every DNS field). labels is
// parallel to probes (org per probe, see Unattributed) or nil. The field
// value is the whole value as sent (first occurrence), N/A when absent: the
// label encoding of the paper.
func FieldStatistics(service string, probes []probe.Probe, labels []string) (*FieldTable, error) {
	return FieldStatisticsWeighted(service, SliceSource(probes), labels, nil)
}

// Source is a sequence of N probes read one at a time: At(i) may reuse the
// memory of the probe it returned before, so a caller that keeps probes in
// a compact form need not spell them all out at once.
type Source struct {
	N  int
	At func(i int) probe.Probe
}

// SliceSource reads probes.
func SliceSource(probes []probe.Probe) Source {
	return Source{N: len(probes), At: func(i int) probe.Probe { return probes[i] }}
}

// FieldStatisticsWeighted is FieldStatistics where probes[i] stands for
// weights[i] identical probes (nil: one each), each labelled labels[i]:
// training keeps one row per distinct (input, org), and the table is the
// one of the expanded probes, bit for bit, as long as the rows are in the
// order of their first probe (value and org codes follow first sightings).
func FieldStatisticsWeighted(service string, probes Source, labels []string, weights []int) (*FieldTable, error) {
	return FieldStatisticsColumns(service, probes, labels, weights, Columns{})
}

// Columns are fields counted from one hash per probe instead of from the
// rows: a per-connection value (a TLS random) differs in every probe, so
// rows that held it would be one per probe; with it in a column, the rows
// stay one per distinct rest of the probe and the value costs 8 bytes a
// probe. Distinct values, MI and AMI need only equality of values, which
// equal hashes stand for (a 64-bit collision among n values has odds of
// about n²/2⁶⁵).
type Columns struct {
	// Row is the row of each probe, in probe order: row r stands for the
	// weights[r] probes whose Row is r.
	Row []int32
	// Fields are the columns. The rows may carry a field of a column (its
	// name counts as seen), but its values there are ignored.
	Fields []Column
}

// Column is one field's values, per probe in Columns.Row order.
type Column struct {
	Name string
	// Value is probe i's ValueHash of the field's first occurrence
	// (AbsentHash when it has none).
	Value func(i int) uint64
	// View is probe i's ViewHash at the field's width, for a string field
	// (what the AMI compares); unused for other kinds.
	View func(i int) uint64
}

// seen reports whether one of n probes has the field.
func (c Column) seen(n int) bool {
	for i := range n {
		if c.Value(i) != AbsentHash {
			return true
		}
	}
	return false
}

// Hash values: AbsentHash is a probe without the field and NotAvailable's
// hash is naHash, both the N/A code; any other value hashes elsewhere.
const (
	AbsentHash uint64 = 0
	naHash     uint64 = 1
)

// ValueHash is the column hash of a field value: FNV-1a, finished with a
// mixer (FNV alone leaves short values, a DNS id, in few high bits), fixed
// across runs so that a collision, however unlikely, is the same every
// time.
func ValueHash(v string) uint64 {
	if v == probe.NotAvailable {
		return naHash
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(v); i++ {
		h ^= uint64(v[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	if h <= naHash {
		h += 2 // 0 and 1 are taken
	}
	return h
}

// ViewHash is ValueHash of what the encoder sees of a string field of
// width bytes: the value cut to its width.
func ViewHash(v string, width int) uint64 { return ValueHash(stringView(v, width)) }

// stringView is a string field's value as the encoder sees it: cut to its
// width (N/A stays N/A).
func stringView(v string, width int) string {
	if v != probe.NotAvailable && len(v) > width {
		return v[:width]
	}
	return v
}

// FieldStatisticsColumns is FieldStatisticsWeighted where the fields of
// cols are counted from their columns: the table is the one of the
// expanded probes, bit for bit, as long as the rows are in the order of
// their first probe and the columns in probe order.
func FieldStatisticsColumns(service string, probes Source, labels []string, weights []int, cols Columns) (*FieldTable, error) {
	if labels != nil && len(labels) != probes.N {
		return nil, fmt.Errorf("feature: %d labels for %d probes", len(labels), probes.N)
	}
	if weights != nil && len(weights) != probes.N {
		return nil, fmt.Errorf("feature: %d weights for %d probes", len(weights), probes.N)
	}
	weight := func(i int) int {
		if weights == nil {
			return 1
		}
		return weights[i]
	}
	enc := probe.EncodingOf(service)
	names := fieldNamesSeen(enc, probes)
	for _, c := range cols.Fields {
		if !slices.Contains(names, c.Name) && c.seen(len(cols.Row)) {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	fieldIdx := make(map[string]int, len(names))
	for i, n := range names {
		fieldIdx[n] = i
	}
	column := make([]bool, len(names)) // counted from cols, not from the rows
	var counted []Column               // the columns of fields some probe has
	for _, c := range cols.Fields {
		if fi, ok := fieldIdx[c.Name]; ok {
			column[fi] = true
			counted = append(counted, c)
		}
	}
	cols.Fields = counted

	orgIdx := map[string]int32{}
	var orgOf []int32 // per attributed row
	var attributed []int
	var attrWeights []int // per attributed probe (nil: all 1)
	total, labelled := 0, 0
	for i := range probes.N {
		total += weight(i)
		if labels == nil || Unattributed(labels[i]) {
			continue
		}
		labelled += weight(i)
		if weights != nil {
			attrWeights = append(attrWeights, weights[i])
		}
		o, ok := orgIdx[labels[i]]
		if !ok {
			o = int32(len(orgIdx))
			orgIdx[labels[i]] = o
		}
		orgOf = append(orgOf, o)
		attributed = append(attributed, i)
	}

	t := &FieldTable{Service: service, Probes: total, Labelled: labelled, Orgs: len(orgIdx)}
	t.Fields = make([]FieldStats, len(names))
	t.codes = make([][]int32, len(names))
	rawCodes := make([][]int32, len(names))
	values := make([]map[string]int32, len(names))
	views := make([]map[string]int32, len(names))
	widths := make([]int, len(names))
	identity := make([]probe.Identity, len(names))
	present := make([]int, len(names))
	for i, n := range names {
		r := enc.RuleFor(n)
		t.Fields[i] = FieldStats{Field: n, Kind: r.Kind.String()}
		values[i] = map[string]int32{probe.NotAvailable: 0}
		rawCodes[i] = make([]int32, len(attributed))
		if r.Kind == probe.KindString {
			widths[i] = r.Width
			identity[i] = r.Identity
			views[i] = map[string]int32{probe.NotAvailable: 0}
			t.codes[i] = make([]int32, len(attributed))
		} else {
			t.codes[i] = rawCodes[i] // options and ints: the encoder sees the whole value
		}
	}
	pos := 0 // next attributed probe
	seen := make([]bool, len(names))
	for pi := range probes.N {
		isAttr := pos < len(attributed) && attributed[pos] == pi
		clear(seen)
		p := probes.At(pi)
		for _, f := range p.Fields {
			fi := fieldIdx[f.Name]
			if seen[fi] || column[fi] {
				continue
			}
			seen[fi] = true
			if f.Value != probe.NotAvailable {
				present[fi] += weight(pi)
			}
			// An identity-bearing field counts as the encoder sees it: the
			// class of its value, not the sensor it named.
			value := f.Value
			if identity[fi] != probe.IdentityNone {
				value = identityString(identity[fi], value, p.DstIP)
			}
			code, ok := values[fi][value]
			if !ok {
				code = int32(len(values[fi]))
				values[fi][value] = code
			}
			if isAttr {
				rawCodes[fi][pos] = code
				if views[fi] != nil {
					v := stringView(value, widths[fi])
					vc, ok := views[fi][v]
					if !ok {
						vc = int32(len(views[fi]))
						views[fi][v] = vc
					}
					t.codes[fi][pos] = vc
				}
			}
		}
		if isAttr {
			pos++
		}
	}
	nvalues := make([]int, len(names)) // distinct values, N/A included
	for fi := range names {
		nvalues[fi] = len(values[fi])
	}
	if len(cols.Fields) > 0 {
		if err := t.countColumns(cols, fieldIdx, weights, probes.N, attributed, orgOf, present, nvalues); err != nil {
			return nil, err
		}
	}
	for fi := range t.Fields {
		s := &t.Fields[fi]
		s.Present = present[fi]
		if total > 0 {
			s.Coverage = float64(present[fi]) / float64(total)
		}
		distinctPresent := nvalues[fi] - 1
		s.Distinct = distinctPresent
		if present[fi] < total {
			s.Distinct++ // N/A is a value
		}
		if present[fi] > 0 {
			s.UniqueRatio = float64(distinctPresent) / float64(present[fi])
		}
		if len(attributed) > 0 && !column[fi] { // countColumns scored the columns
			s.MI, _ = weightedMutualInformation(rawCodes[fi], len(values[fi]), orgOf, len(orgIdx), attrWeights)
			nv := len(values[fi])
			if views[fi] != nil {
				nv = len(views[fi])
			}
			_, s.AMI = weightedMutualInformation(t.codes[fi], nv, orgOf, len(orgIdx), attrWeights)
		}
	}
	return t, nil
}

// countColumns counts the fields of cols over the probes behind the rows,
// as the row loop counts the others over the rows: value codes in the
// order of first sighting over all probes, encoder-view codes over the
// attributed ones, N/A (and absence) code 0. It sets each column's
// present and nvalues entries, MI and AMI, and its codes for the
// redundancy test of Select, which only a field with AMI ≥ MinAMI can meet
// (kept per attributed probe, with probeRows to read the row fields' codes
// alongside).
func (t *FieldTable) countColumns(cols Columns, fieldIdx map[string]int, weights []int, nRows int, attributed []int, orgOf []int32, present, nvalues []int) error {
	attrOf := make([]int32, nRows) // row → its index among attributed rows (-1: none)
	for r := range attrOf {
		attrOf[r] = -1
	}
	for k, r := range attributed {
		attrOf[r] = int32(k)
	}
	per := make([]int, nRows)
	for _, r := range cols.Row {
		if r < 0 || int(r) >= nRows {
			return fmt.Errorf("feature: a probe of row %d among %d rows", r, nRows)
		}
		per[r]++
	}
	for r, n := range per {
		w := 1
		if weights != nil {
			w = weights[r]
		}
		if n != w {
			return fmt.Errorf("feature: row %d has weight %d but %d probes in the columns", r, w, n)
		}
	}
	var orgs, rowOf []int32 // per attributed probe: its org code and attributed row
	for _, r := range cols.Row {
		if a := attrOf[r]; a >= 0 {
			orgs = append(orgs, orgOf[a])
			rowOf = append(rowOf, a)
		}
	}
	enc := probe.EncodingOf(t.Service)
	for _, c := range cols.Fields {
		fi := fieldIdx[c.Name]
		r := enc.RuleFor(c.Name)
		values := map[uint64]int32{} // N/A and absence are code 0
		var views map[uint64]int32
		if r.Kind == probe.KindString {
			views = map[uint64]int32{}
		}
		raw := make([]int32, 0, len(orgs))
		var viewCodes []int32
		if views != nil {
			viewCodes = make([]int32, 0, len(orgs))
		}
		for i, row := range cols.Row {
			code := int32(0)
			if h := c.Value(i); h > naHash {
				present[fi]++
				var ok bool
				if code, ok = values[h]; !ok {
					code = int32(len(values) + 1)
					values[h] = code
				}
			}
			if attrOf[row] < 0 {
				continue
			}
			raw = append(raw, code)
			if views != nil {
				vc := int32(0)
				if h := c.View(i); h > naHash {
					var ok bool
					if vc, ok = views[h]; !ok {
						vc = int32(len(views) + 1)
						views[h] = vc
					}
				}
				viewCodes = append(viewCodes, vc)
			}
		}
		nvalues[fi] = len(values) + 1
		codes, nv := raw, nvalues[fi]
		if views != nil {
			codes, nv = viewCodes, len(views)+1
		}
		s := &t.Fields[fi]
		if len(attributed) > 0 {
			s.MI, _ = weightedMutualInformation(raw, nvalues[fi], orgs, t.Orgs, nil)
			_, s.AMI = weightedMutualInformation(codes, nv, orgs, t.Orgs, nil)
		}
		if t.perProbe == nil {
			t.perProbe = make([]bool, len(t.Fields))
		}
		t.perProbe[fi] = true
		t.codes[fi] = nil
		if s.AMI >= MinAMI {
			// Select compares only fields this good: keep the codes (4
			// bytes an attributed probe) for them alone.
			t.codes[fi] = codes
			t.probeRows = rowOf
		}
	}
	return nil
}

// mutualInformation returns MI (nats) and AMI (arithmetic normalisation)
// between two label encodings with nu and nv possible codes.
func mutualInformation(u []int32, nu int, v []int32, nv int) (mi, ami float64) {
	return weightedMutualInformation(u, nu, v, nv, nil)
}

// weightedMutualInformation is mutualInformation where w[i] is how many
// samples pair u[i] with v[i] (nil: one each).
func weightedMutualInformation(u []int32, nu int, v []int32, nv int, w []int) (mi, ami float64) {
	if len(u) == 0 {
		return 0, 0
	}
	type cell struct {
		code int64
		n    int
	}
	a := make([]int, nu) // row sums
	b := make([]int, nv) // column sums
	cells := make([]cell, len(u))
	n := 0
	for i := range u {
		wi := 1
		if w != nil {
			wi = w[i]
		}
		a[u[i]] += wi
		b[v[i]] += wi
		n += wi
		cells[i] = cell{int64(u[i])*int64(nv) + int64(v[i]), wi}
	}
	// Sorted cells give a fixed summation order: equal partitions get
	// bit-identical scores, so rankings never depend on map order (nor on
	// whether equal samples come weighted or one by one).
	slices.SortFunc(cells, func(x, y cell) int { return cmp.Compare(x.code, y.code) })
	N := float64(n)
	for i := 0; i < len(cells); {
		j, cnt := i, 0
		for j < len(cells) && cells[j].code == cells[i].code {
			cnt += cells[j].n
			j++
		}
		ai := float64(a[cells[i].code/int64(nv)])
		bj := float64(b[cells[i].code%int64(nv)])
		x := float64(cnt)
		mi += x / N * math.Log(N*x/(ai*bj))
		i = j
	}
	mi = max(mi, 0) // rounding
	hu, hv := entropy(a, n), entropy(b, n)
	if nonZero(a) == 1 && nonZero(b) == 1 {
		// One cluster on both sides: identical labelings (sklearn's rule).
		return mi, 1
	}
	emi := expectedMutualInformation(a, b, n)
	den := (hu+hv)/2 - emi
	if math.Abs(den) < 1e-12 {
		return mi, 0
	}
	return mi, (mi - emi) / den
}

func nonZero(c []int) int {
	k := 0
	for _, x := range c {
		if x > 0 {
			k++
		}
	}
	return k
}

func entropy(counts []int, n int) float64 {
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log(p)
		}
	}
	return h
}

// expectedMutualInformation is E[MI] under the hypergeometric model of
// random labelings with the same marginals (Vinh, Epps & Bailey 2010, eq.
// 24a). Rows with the same size contribute the same amount, so the sum runs
// once per distinct row size: a near-unique field (thousands of rows of size
// 1) costs as little as a field with a handful of values.
func expectedMutualInformation(a, b []int, n int) float64 {
	lgN := lgamma(float64(n) + 1)
	N := float64(n)
	mults := map[int]int{}
	var sizes []int
	for _, ai := range a {
		if ai > 0 {
			if mults[ai] == 0 {
				sizes = append(sizes, ai)
			}
			mults[ai]++
		}
	}
	slices.Sort(sizes) // fixed summation order
	var emi float64
	for _, ai := range sizes {
		mult := mults[ai]
		var sum float64
		for _, bj := range b {
			if bj == 0 {
				continue
			}
			lo := max(1, ai+bj-n)
			hi := min(ai, bj)
			base := lgamma(float64(ai)+1) + lgamma(float64(bj)+1) + lgamma(float64(n-ai)+1) + lgamma(float64(n-bj)+1) - lgN
			for nij := lo; nij <= hi; nij++ {
				x := float64(nij)
				lp := base - lgamma(x+1) - lgamma(float64(ai-nij)+1) - lgamma(float64(bj-nij)+1) - lgamma(float64(n-ai-bj+nij)+1)
				sum += x / N * math.Log(N*x/(float64(ai)*float64(bj))) * math.Exp(lp)
			}
		}
		emi += float64(mult) * sum
	}
	return emi
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// SelectMode picks how Select chooses fields.
type SelectMode string

const (
	// SelectPaper: the paper's rule, top PaperTopK fields by MI, or every
	// fixed field for a service that has them (DNS). It picks TLS random
	// bytes and gmt time, which separate orgs only by being unique per
	// probe.
	SelectPaper SelectMode = "paper"
	// SelectDefault: top PaperTopK fields by AMI, skipping fields no better
	// than chance (AMI < MinAMI) and fields that are a relabelling of an
	// already chosen one (a fingerprint and its hash); for a service with
	// fixed fields (DNS), the fixed fields with AMI ≥ MinAMI (all of them
	// when no probe is attributed).
	SelectDefault SelectMode = "default"
)

// Selection constants.
const (
	PaperTopK = 6
	// MinAMI is the least AMI a field needs in the default mode: below it the
	// field's agreement with the org is what chance gives.
	MinAMI = 0.01
)

// ParseSelectMode accepts "paper" and "default" ("" = default).
func ParseSelectMode(s string) (SelectMode, error) {
	switch SelectMode(s) {
	case SelectPaper:
		return SelectPaper, nil
	case SelectDefault, "":
		return SelectDefault, nil
	}
	return "", fmt.Errorf("feature: unknown selection mode %q (paper or default)", s)
}

// Select marks and returns the encoded fields (alphabetical, the canvas
// order). Ranking needs attributed probes except for a service with fixed
// fields (DNS), where they are all candidates.
func (t *FieldTable) Select(mode SelectMode) ([]string, error) {
	t.Mode = mode
	for i := range t.Fields {
		t.Fields[i].Selected = false
	}
	var chosen []int
	fixed := probe.EncodingOf(t.Service).Fixed
	switch {
	case len(fixed) > 0:
		want := map[string]bool{}
		for _, name := range fixed {
			want[name] = true
		}
		for i, f := range t.Fields {
			// The default mode drops fixed fields that tell orgs apart no
			// better than chance: the random DNS id, constant flags.
			if want[f.Field] && (mode != SelectDefault || t.Labelled == 0 || f.AMI >= MinAMI) {
				chosen = append(chosen, i)
			}
		}
		if len(chosen) == 0 {
			for i, f := range t.Fields {
				if want[f.Field] {
					chosen = append(chosen, i)
				}
			}
		}
	case t.Labelled == 0:
		return nil, errors.New("feature: field selection needs attributed probes (labels)")
	case mode == SelectPaper:
		order := t.ranked(func(s FieldStats) float64 { return s.MI })
		chosen = order[:min(PaperTopK, len(order))]
	case mode == SelectDefault:
		for _, i := range t.ranked(func(s FieldStats) float64 { return s.AMI }) {
			if len(chosen) == PaperTopK {
				break
			}
			if t.Fields[i].AMI < MinAMI {
				break
			}
			if slices.ContainsFunc(chosen, func(j int) bool { return t.samePartition(i, j) }) {
				continue
			}
			chosen = append(chosen, i)
		}
	default:
		return nil, fmt.Errorf("feature: unknown selection mode %q", mode)
	}
	names := make([]string, 0, len(chosen))
	for _, i := range chosen {
		t.Fields[i].Selected = true
		names = append(names, t.Fields[i].Field)
	}
	slices.Sort(names)
	return names, nil
}

// ranked orders field indexes by score desc, then MI desc, then name.
func (t *FieldTable) ranked(score func(FieldStats) float64) []int {
	order := make([]int, len(t.Fields))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		a, b := t.Fields[x], t.Fields[y]
		if c := compareScore(score(b), score(a)); c != 0 {
			return c
		}
		if c := compareScore(b.MI, a.MI); c != 0 {
			return c
		}
		return cmp.Compare(a.Field, b.Field)
	})
	return order
}

// samePartition reports whether fields i and j group the attributed
// probes identically. A field counted per probe (Columns) is compared per
// probe, the other field's row codes spelt out for each probe of the row.
func (t *FieldTable) samePartition(i, j int) bool {
	u, v := t.codes[i], t.codes[j]
	if t.perProbe == nil || t.perProbe[i] == t.perProbe[j] {
		return samePartition(u, v)
	}
	if t.perProbe[j] {
		u, v = v, u
	}
	// u per probe, v per row
	byProbe := make([]int32, len(t.probeRows))
	for k, r := range t.probeRows {
		byProbe[k] = v[r]
	}
	return samePartition(u, byProbe)
}

// samePartition reports whether two encodings group the probes identically
// (one is a relabelling of the other), so the second adds nothing.
func samePartition(u, v []int32) bool {
	uv := map[int32]int32{}
	vu := map[int32]int32{}
	for i := range u {
		if x, ok := uv[u[i]]; ok && x != v[i] {
			return false
		}
		if x, ok := vu[v[i]]; ok && x != u[i] {
			return false
		}
		uv[u[i]] = v[i]
		vu[v[i]] = u[i]
	}
	return true
}

// compareScore compares scores that differ by more than rounding noise, so
// ties fall through to the next key whatever the last bits say.
func compareScore(x, y float64) int {
	if math.Abs(x-y) <= 1e-9 {
		return 0
	}
	return cmp.Compare(x, y)
}
