package feature

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMutualInformationKnownValues(t *testing.T) {
	cases := []struct {
		u, v    []int32
		mi, ami float64
	}{
		// Identical and relabelled partitions (sklearn docs: AMI 1.0).
		{[]int32{0, 0, 1, 1}, []int32{0, 0, 1, 1}, math.Ln2, 1},
		{[]int32{0, 0, 1, 1}, []int32{1, 1, 0, 0}, math.Ln2, 1},
		// One field value for everyone: no information (sklearn: 0.0).
		{[]int32{0, 0, 0, 0}, []int32{0, 1, 2, 3}, 0, 0},
		// Every probe unique: MI = H(org) but AMI = 0, the TLS-random case.
		{[]int32{0, 1, 2, 3}, []int32{0, 0, 1, 1}, math.Ln2, 0},
	}
	for _, c := range cases {
		mi, ami := mutualInformation(c.u, 4, c.v, 4)
		if !near(mi, c.mi, 1e-12) || !near(ami, c.ami, 1e-9) {
			t.Errorf("MI(%v, %v) = %.6f, AMI %.6f; want %.6f, %.6f", c.u, c.v, mi, ami, c.mi, c.ami)
		}
	}
}

// TestExpectedMIByPermutation checks EMI against its definition: the mean
// MI over every permutation of one labelling (the hypergeometric model).
func TestExpectedMIByPermutation(t *testing.T) {
	u := []int32{0, 0, 0, 1, 1, 2, 3}
	v := []int32{0, 0, 1, 1, 1, 1, 2}
	perm := slices.Clone(v)
	var sum float64
	var count int
	var permute func(k int)
	permute = func(k int) {
		if k == len(perm) {
			mi, _ := mutualInformation(u, 4, perm, 3)
			sum += mi
			count++
			return
		}
		for i := k; i < len(perm); i++ {
			perm[k], perm[i] = perm[i], perm[k]
			permute(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	permute(0)
	want := sum / float64(count)
	a, b := []int{3, 2, 1, 1}, []int{2, 4, 1}
	if got := expectedMutualInformation(a, b, 7); !near(got, want, 1e-12) {
		t.Errorf("EMI = %.15f, mean MI over %d permutations = %.15f", got, count, want)
	}
}

// TestFieldStatisticsRanking: on traffic where the org decides a few
// fields and per-connection fields are unique, the paper's MI ranks the
// unique fields first and the adjusted score ranks them last.
func TestFieldStatisticsRanking(t *testing.T) {
	ps, labels := synthTLS(rand.New(rand.NewPCG(1, 2)), 3000)
	table, err := FieldStatistics(ServiceTLS, ps, labels)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]FieldStats{}
	for _, s := range table.Fields {
		by[s.Field] = s
	}
	rnd, suites := by["handshake_random_bytes"], by["handshake_ciphersuites"]
	if rnd.UniqueRatio < 0.99 || rnd.MI < suites.MI-1e-9 || rnd.AMI > 0.05 || suites.AMI < 0.5 {
		t.Errorf("random bytes MI %.3f AMI %.3f unique %.2f; cipher suites MI %.3f AMI %.3f",
			rnd.MI, rnd.AMI, rnd.UniqueRatio, suites.MI, suites.AMI)
	}
	paper, err := table.Select(SelectPaper)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(paper, "handshake_random_bytes") || !slices.Contains(paper, "handshake_time") {
		t.Errorf("paper mode chose %v, without the near-unique fields the paper picked", paper)
	}
	def, err := table.Select(SelectDefault)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"handshake_random_bytes", "handshake_time"} {
		if slices.Contains(def, bad) {
			t.Errorf("default mode chose the near-unique %s: %v", bad, def)
		}
	}
	if slices.Contains(def, "ja3") && slices.Contains(def, "ja3_string") {
		t.Errorf("default mode chose both the ja3 string and its hash: %v", def)
	}
	// In this data ja3 and ja3_string are relabellings of the cipher suites
	// and three fields are constant, so fewer than six fields qualify.
	if len(def) < 4 || len(def) > PaperTopK || slices.Contains(def, "ja3") || slices.Contains(def, "ja3_string") || slices.Contains(def, "tls_version") {
		t.Errorf("default mode chose %v", def)
	}
	sel := 0
	for _, s := range table.Fields {
		if s.Selected {
			sel++
		}
	}
	if sel != len(def) {
		t.Errorf("%d fields marked selected, %d returned", sel, len(def))
	}
}

func TestFieldStatisticsCounts(t *testing.T) {
	ps := []probe.Probe{
		mkProbe("http", 0, f("Url", "/"), f("User-Agent", "a")),
		mkProbe("http", 1, f("Url", "/"), f("User-Agent", "b"), f("User-Agent", "c")),
		mkProbe("http", 2, f("Url", "/x")),
		mkProbe("http", 3, f("Url", "/")),
	}
	labels := []string{"censys", "censys", "unknown", ""}
	table, err := FieldStatistics(ServiceHTTP, ps, labels)
	if err != nil {
		t.Fatal(err)
	}
	if table.Labelled != 2 || table.Orgs != 1 || table.Probes != 4 {
		t.Errorf("table %+v", table)
	}
	ua := table.Fields[slices.IndexFunc(table.Fields, func(s FieldStats) bool { return s.Field == "User-Agent" })]
	// Two probes carry it (the repeat counts once); values a, b and N/A.
	if ua.Present != 2 || ua.Coverage != 0.5 || ua.Distinct != 3 || ua.UniqueRatio != 1 || ua.Kind != "option" {
		t.Errorf("User-Agent stats %+v", ua)
	}
	if _, err := FieldStatistics(ServiceHTTP, ps, labels[:2]); err == nil {
		t.Error("mismatched label slice accepted")
	}
	if _, err := table.Select(SelectDefault); err != nil {
		t.Error(err)
	}
	unlabelled, _ := FieldStatistics(ServiceHTTP, ps, nil)
	if _, err := unlabelled.Select(SelectPaper); err == nil {
		t.Error("HTTP selection without labels succeeded")
	}
	dns, _ := FieldStatistics(ServiceDNS, dnsFixture(), nil)
	names, err := dns.Select(SelectPaper)
	if err != nil || len(names) != len(dnsFields) {
		t.Errorf("DNS selection = %v, %v; want all %d fields", names, err, len(dnsFields))
	}
}

func TestParseSelectMode(t *testing.T) {
	for in, want := range map[string]SelectMode{"": SelectDefault, "default": SelectDefault, "paper": SelectPaper} {
		if got, err := ParseSelectMode(in); err != nil || got != want {
			t.Errorf("ParseSelectMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSelectMode("best"); err == nil {
		t.Error("unknown mode accepted")
	}
}

func ExampleTokens() {
	ua := probe.Field{Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0"}
	for _, tok := range Tokens(TokProduct, ua) {
		fmt.Println(tok)
	}
	// Output:
	// Mozilla/5.0 (X11; Linux x86_64)
	// Gecko/20100101
	// Firefox/115.0
}

// TestAMIScoresTheEncodedView: a header whose first 10 bytes depend on
// the org and whose tail is unique per probe is worth what the encoder
// keeps (the prefix), while its raw value is near-unique like TLS random bytes.
func TestAMIScoresTheEncodedView(t *testing.T) {
	var ps []probe.Probe
	var labels []string
	for i := range 400 {
		org, prefix := "censys", "censys-hp"
		if i%2 == 1 {
			org, prefix = "shodan", "shodan-hp"
		}
		ps = append(ps, mkProbe("http", i, f("X-Server", fmt.Sprintf("%s-%06d", prefix, i)), f("X-Nonce", fmt.Sprintf("%06d-%s", i, prefix))))
		labels = append(labels, org)
	}
	table, err := FieldStatistics(ServiceHTTP, ps, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range table.Fields {
		switch s.Field {
		case "X-Server":
			if s.UniqueRatio != 1 || s.AMI < 0.99 {
				t.Errorf("X-Server: unique %.2f AMI %.3f; want unique raw values and AMI 1 on the 10-byte prefix", s.UniqueRatio, s.AMI)
			}
		case "X-Nonce":
			if s.AMI > 0.05 || s.MI < math.Ln2-1e-9 {
				t.Errorf("X-Nonce (unique prefix): MI %.3f AMI %.3f; want MI = H(org), AMI ≈ 0", s.MI, s.AMI)
			}
		}
	}
}

// TestDefaultDNSDropsChanceFields checks that the default selection keeps
// the question but drops the random transaction id and constant flags,
// while the paper mode keeps every DNS field.
func TestDefaultDNSDropsChanceFields(t *testing.T) {
	var probes []probe.Probe
	var labels []string
	for i := 0; i < 400; i++ {
		org, qname := "shadowserver", "dnsscan.shadowserver.org"
		if i%2 == 1 {
			org, qname = "shodan", "id.server"
		}
		probes = append(probes, mkProbe(ServiceDNS, i,
			probe.Field{Name: "id", Value: strconv.Itoa((i * 7919) % 65536)},
			probe.Field{Name: "qr", Value: "0"},
			probe.Field{Name: "qname", Value: qname}))
		labels = append(labels, org)
	}
	table, err := FieldStatistics(ServiceDNS, probes, labels)
	if err != nil {
		t.Fatal(err)
	}
	def, err := table.Select(SelectDefault)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(def, []string{"qname"}) {
		t.Errorf("default DNS fields %v, want [qname]", def)
	}
	paper, _ := table.Select(SelectPaper)
	if len(paper) != len(dnsFields) {
		t.Errorf("paper mode kept %d DNS fields, want all %d", len(paper), len(dnsFields))
	}
}

// TestFieldStatisticsColumns: the per-connection fields of synthetic TLS
// traffic counted from hash columns, the rest from rows with the fields
// left in as holes and merged by (rest, org) with weights, give the table
// of every probe, and the same selections.
func TestFieldStatisticsColumns(t *testing.T) {
	ps, labels := synthTLS(rand.New(rand.NewPCG(1, 2)), 3000)
	want, err := FieldStatistics(ServiceTLS, ps, labels)
	if err != nil {
		t.Fatal(err)
	}
	perProbe := probe.EncodingOf(ServiceTLS).PerProbe
	var rows []probe.Probe
	var rowLabels []string
	var weights []int
	rowOf := make([]int32, len(ps))
	index := map[string]int{}
	for i, p := range ps {
		var key strings.Builder
		holed := probe.Probe{Service: p.Service}
		for _, f := range p.Fields {
			if slices.Contains(perProbe, f.Name) {
				f = probe.Field{Name: f.Name, Value: "hole"}
			}
			holed.Fields = append(holed.Fields, f)
			fmt.Fprintf(&key, "%q=%q;", f.Name, f.Value)
		}
		fmt.Fprintf(&key, "org=%q", labels[i])
		j, ok := index[key.String()]
		if !ok {
			j = len(rows)
			index[key.String()] = j
			rows, rowLabels, weights = append(rows, holed), append(rowLabels, labels[i]), append(weights, 0)
		}
		weights[j]++
		rowOf[i] = int32(j)
	}
	first := func(p probe.Probe, name string) (string, bool) {
		for _, f := range p.Fields {
			if f.Name == name {
				return f.Value, true
			}
		}
		return "", false
	}
	cols := Columns{Row: rowOf}
	for _, name := range perProbe {
		width := probe.EncodingOf(ServiceTLS).RuleFor(name).Width
		cols.Fields = append(cols.Fields, Column{Name: name,
			Value: func(i int) uint64 {
				if v, ok := first(ps[i], name); ok {
					return ValueHash(v)
				}
				return AbsentHash
			},
			View: func(i int) uint64 {
				if v, ok := first(ps[i], name); ok {
					return ViewHash(v, width)
				}
				return AbsentHash
			}})
	}
	got, err := FieldStatisticsColumns(ServiceTLS, SliceSource(rows), rowLabels, weights, cols)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Fields, want.Fields) || got.Probes != want.Probes || got.Labelled != want.Labelled {
		t.Fatalf("%d rows and %d columns give\n%+v\nwant\n%+v", len(rows), len(cols.Fields), got.Fields, want.Fields)
	}
	for _, mode := range []SelectMode{SelectDefault, SelectPaper} {
		g, _ := got.Select(mode)
		w, _ := want.Select(mode)
		if !slices.Equal(g, w) {
			t.Errorf("%s selection: %v, want %v", mode, g, w)
		}
	}
	t.Logf("%d probes as %d rows", len(ps), len(rows))
}
