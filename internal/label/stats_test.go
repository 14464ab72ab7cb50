package label

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// referenceAgreement reads the NICT-vs-union table and the pairwise
// coverage of cross_source_agreement.txt.
type referenceAgreement struct {
	nict     map[string][3]float64 // org → refIPs, same%, other%
	pairwise map[string]float64    // "org|row|colprefix" → percent
	sizes    map[string]uint64     // "org|source" → addresses
}

func readReferenceAgreement(t *testing.T, path string) referenceAgreement {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref := referenceAgreement{nict: map[string][3]float64{}, pairwise: map[string]float64{}, sizes: map[string]uint64{}}
	section := ""
	org := ""
	sizeRE := regexp.MustCompile(`'([^']+)': (\d+)`)
	cellRE := regexp.MustCompile(`(\S+)=(\d+)%`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "[NICT"):
			section = "nict"
			continue
		case strings.HasPrefix(line, "[pairwise"):
			section = "pairwise"
			continue
		case strings.HasPrefix(line, "[cross-org"):
			section = "conflicts"
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch section {
		case "nict":
			if fields[0] == "org" {
				continue
			}
			n, _ := strconv.Atoi(fields[1])
			row := [3]float64{float64(n)}
			if len(fields) >= 4 {
				row[1], _ = strconv.ParseFloat(strings.TrimSuffix(fields[2], "%"), 64)
				row[2], _ = strconv.ParseFloat(strings.TrimSuffix(fields[3], "%"), 64)
			}
			ref.nict[fields[0]] = row
		case "pairwise":
			if !strings.HasPrefix(line, " ") {
				org = fields[0]
				for _, m := range sizeRE.FindAllStringSubmatch(line, -1) {
					n, _ := strconv.ParseUint(m[2], 10, 64)
					ref.sizes[org+"|"+m[1]] = n
				}
				continue
			}
			for _, m := range cellRE.FindAllStringSubmatch(line, -1) {
				v, _ := strconv.ParseFloat(m[2], 64)
				ref.pairwise[org+"|"+fields[0]+"|"+m[1]] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ref.nict) != 21 || len(ref.pairwise) < 300 {
		t.Fatalf("reference file not understood: %d NICT rows, %d pairwise cells", len(ref.nict), len(ref.pairwise))
	}
	return ref
}

// Our agreement figures over the unified list must match the ones the data
// helper computed (cross_source_agreement.txt) for every org.
func TestAgreementMatchesReferenceFile(t *testing.T) {
	ctx := context.Background()
	dir := sharedtest.Path(t, "realdata", "scanner_ip_lists")
	ref := readReferenceAgreement(t, dir+"/cross_source_agreement.txt")
	db, _ := openTestDB(t)
	if _, err := db.ImportFiles(ctx, []string{dir + "/unified_scanner_ips.csv"}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(ctx, StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(st.Reference, ",") != "nict-2026Q1" {
		t.Fatalf("reference sources %v", st.Reference)
	}
	if len(st.Agreement) != len(ref.nict) {
		t.Fatalf("%d agreement rows, want %d", len(st.Agreement), len(ref.nict))
	}
	for _, a := range st.Agreement {
		want, ok := ref.nict[a.Org]
		if !ok {
			t.Errorf("org %s not in the reference table", a.Org)
			continue
		}
		if float64(a.RefAddrs) != want[0] {
			t.Errorf("%s: %d NICT addresses, file says %v", a.Org, a.RefAddrs, want[0])
		}
		if a.RefAddrs == 0 {
			continue
		}
		// The file rounds to one decimal (99.55 shows as 99.6).
		if math.Abs(a.SamePct()-want[1]) > 0.051 || math.Abs(a.OtherPct()-want[2]) > 0.051 {
			t.Errorf("%s: same %.2f%% other %.2f%%, file says %.1f%% %.1f%%", a.Org, a.SamePct(), a.OtherPct(), want[1], want[2])
		}
	}
	if be := st.Agreement[4]; be.Org != "binaryedge" || be.OtherOrgs["coalition_signals_intelligence"] != 20 || be.OtherOrgs["a10networks"] != 3 {
		t.Errorf("binaryedge other orgs %v", be.OtherOrgs)
	}
	cells := 0
	for _, pw := range st.Pairwise {
		for src, n := range pw.Addrs {
			if want, ok := ref.sizes[pw.Org+"|"+src]; !ok || want != n {
				t.Errorf("%s/%s: %d addresses, file says %d (%v)", pw.Org, src, n, want, ok)
			}
		}
		for r, row := range pw.Covered {
			for c, v := range row {
				want, ok := ref.pairwise[pw.Org+"|"+r+"|"+shortName(c)]
				if !ok {
					t.Errorf("%s %s→%s missing from the file", pw.Org, r, c)
					continue
				}
				cells++
				if math.Abs(v-want) > 0.5 {
					t.Errorf("%s %s→%s: %.1f%%, file says %.0f%%", pw.Org, r, c, v, want)
				}
			}
		}
	}
	if cells != len(ref.pairwise) {
		t.Errorf("compared %d pairwise cells, file has %d", cells, len(ref.pairwise))
	}
	var out bytes.Buffer
	if err := st.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"censys                 1036      100.0%", "binaryedge             1434        2.0%         1.7% {coalition_signals_intelligence:20, a10networks:3, ipinfo:1}"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stats text lacks %q", want)
		}
	}
}

func TestConflicts(t *testing.T) {
	day := func(s string) time.Time { t, _ := ParseDate(s, false); return t }
	labels := []Label{
		{Prefix: mustPrefix("192.0.2.0/24"), Org: "censys", Source: "a"},
		{Prefix: mustPrefix("192.0.2.7/32"), Org: "shodan", Source: "b"},
		{Prefix: mustPrefix("192.0.2.9/32"), Org: "censys", Source: "c"},
		// Same address, different orgs, but at different times: no conflict.
		{Prefix: mustPrefix("198.51.100.1/32"), Org: "stretchoid", Source: "a", ValidUntil: day("2024-01-01")},
		{Prefix: mustPrefix("198.51.100.1/32"), Org: "binaryedge", Source: "b", ValidFrom: day("2024-01-01")},
		// Aggregate lists are not organisations.
		{Prefix: mustPrefix("203.0.113.5/32"), Org: "universities", Source: "a"},
		{Prefix: mustPrefix("203.0.113.5/32"), Org: "umich", Source: "b"},
	}
	st, err := ComputeStats(labels, nil, StatsOptions{Conflicts: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Conflicts) != 1 || st.Conflicts[0].Prefix != mustPrefix("192.0.2.7/32") {
		t.Fatalf("conflicts %+v", st.Conflicts)
	}
	c := st.Conflicts[0]
	if strings.Join(c.Orgs["censys"], ",") != "a" || strings.Join(c.Orgs["shodan"], ",") != "b" || st.OrgPairs["censys / shodan"] != 1 {
		t.Errorf("conflict %+v pairs %v", c, st.OrgPairs)
	}
}
