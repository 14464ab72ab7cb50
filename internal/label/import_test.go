package label

import (
	"context"
	"encoding/csv"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func openTestDB(t testing.TB) (*LabelDB, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "labels.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := Open(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestParseList(t *testing.T) {
	in := "# *.censys-scanner.com\r\n162.142.125.0/24\r\n\r\n167.94.138.7 # host\r\nnot-an-ip\r\n2602:80d:1000::/48\n192.0.2.1 extra\n::ffff:198.51.100.7\n10.0.0.5/8\n"
	p, err := Parse(strings.NewReader(in), "lists/censys_v4.txt", nil, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Report.Format != FormatList {
		t.Fatalf("format %q", p.Report.Format)
	}
	want := []string{"162.142.125.0/24", "167.94.138.7/32", "2602:80d:1000::/48", "198.51.100.7/32", "10.0.0.0/8"}
	if len(p.Labels) != len(want) {
		t.Fatalf("labels %v", p.Labels)
	}
	for i, w := range want {
		l := p.Labels[i]
		if l.Prefix != mustPrefix(w) || l.Org != "censys" || l.Source != "censys_v4" {
			t.Errorf("label %d = %+v, want %s censys censys_v4", i, l, w)
		}
	}
	var skipped []string
	for _, e := range p.Report.Skipped {
		skipped = append(skipped, e.Error())
	}
	wantSkip := []string{`lists/censys_v4.txt:5: "not-an-ip" is not an IP address or CIDR`, `lists/censys_v4.txt:7: unexpected "extra" after the address`}
	if strings.Join(skipped, "\n") != strings.Join(wantSkip, "\n") {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(wantSkip, "\n"))
	}
}

func TestParseListNeedsOrg(t *testing.T) {
	_, err := Parse(strings.NewReader("192.0.2.1\n"), "mylist.txt", nil, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "--org") {
		t.Fatalf("want a --org hint, got %v", err)
	}
	p, err := Parse(strings.NewReader("192.0.2.1\n"), "mylist.txt", nil, ImportOptions{Org: "Xpanse", Source: "mine",
		From: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Labels[0]
	if l.Org != "paloalto_expanse" || l.Source != "mine" || l.Validity() != "2024-02-01..2024-05-01" {
		t.Errorf("got %+v (%s)", l, l.Validity())
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		in   string
		want Format
	}{
		{"1.2.3.4 # scanner one, two\n", FormatList},
		{"1.2.3.4\n", FormatList},
		{"10.0.0.0/8 # x\n", FormatList},
		{"1.2.3.4,censys\n", FormatCSV},
		{"1.2.3.4, censys # note\n", FormatCSV},
		{"\ufeffIP,Label\n1.2.3.4,censys\n", FormatCSV},
		{"# comment\n\nnetwork,org,source,source_label,extra\n", FormatUnified},
		{"scanner name,type\nCensys,x\n", FormatNICTOrgs},
		{"address,hostname\n1.2.3.4,a.b\n", FormatPTR},
	}
	for _, c := range cases {
		p, err := Parse(strings.NewReader(c.in), "x.csv", nil, ImportOptions{Org: ""})
		if err != nil && !strings.Contains(err.Error(), "--org") {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if p.Report.Format != c.want {
			t.Errorf("%q detected as %q, want %q", c.in, p.Report.Format, c.want)
		}
	}
}

func TestParseListCommentOrg(t *testing.T) {
	// maltrail style: the org is only in the rDNS comment.
	in := "5.63.151.0/24 # scanners.labs.rapid7.com\n13.249.87.0/24 # 13.249.87.125\n104.131.0.5 # ip-1.binaryedge.ninja\n"
	p, err := Parse(strings.NewReader(in), "maltrail/mass_scanner_cidr.txt", nil, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Labels) != 2 || p.Labels[0].Org != "rapid7" || p.Labels[1].Org != "binaryedge" || p.Labels[0].Source != "maltrail" {
		t.Errorf("labels %+v", p.Labels)
	}
	if p.Report.Unattributed != 1 {
		t.Errorf("unattributed %d, want 1", p.Report.Unattributed)
	}
}

func TestParseCSVFormats(t *testing.T) {
	cases := []struct {
		name, file, in string
		format         Format
		want           []string // prefix org source validity
		unattributed   int
		skipped        []string
	}{
		{"artifact", "labels.csv", "IP,Label\n1.2.3.4,censys\n5.6.7.8,unknown\n9.9.9.9,webRay\n", FormatCSV,
			[]string{"1.2.3.4/32 censys labels -..-", "9.9.9.9/32 webray labels -..-"}, 1, nil},
		{"ip-org with validity", "x.csv", "ip,org,source,valid_from,valid_until\n1.2.3.4,Shodan,mine,2024-02-01,2024-02-29\n1.2.3.5,shodan,,2024-03-01,2024-02-01\n", FormatCSV,
			[]string{"1.2.3.4/32 shodan mine 2024-02-01..2024-03-01"}, 0, []string{"x.csv:3: valid_from is not before valid_until"}},
		{"headerless", "y.csv", "1.2.3.4,internet-measurement\r\nbad,censys\r\n", FormatCSV,
			[]string{"1.2.3.4/32 driftnet y -..-"}, 0, []string{`y.csv:2: "bad" is not an IP address or CIDR`}},
		{"unified", "u.csv", "network,org,source,source_label,extra\n162.142.125.0/24,censys,openfilters,censys,\n3.4.5.6/32,censys,nict-2026Q1,Censys,\n", FormatUnified,
			[]string{"162.142.125.0/24 censys openfilters -..-", "3.4.5.6/32 censys nict-2026Q1 2026-01-01..2026-04-01"}, 0, nil},
		{"nict", "nict/s.csv", "period,ip,scanner,last_seen\n2024_1Q,1.2.3.4,Palo Alto Networks (Cortex-Xpanse),2024-03-01\n2023,5.6.7.8,\"University of California, Berkeley\",2023-05-01\nQ9,1.1.1.1,Censys,\n", FormatNICT,
			[]string{"1.2.3.4/32 paloalto_expanse nict 2024-01-01..2024-04-01", "5.6.7.8/32 berkeley nict 2023-01-01..2024-01-01"}, 0, []string{`nict/s.csv:4: period "Q9": want YYYY or YYYY_nQ`}},
		{"misp", "misp/m.csv", "list,value\nshodan-nt-scanning,1.2.3.0/24\ncensys-scanning,2602:80d:1000::/48\n", FormatMISP,
			[]string{"1.2.3.0/24 shodan misp-warninglists -..-", "2602:80d:1000::/48 censys misp-warninglists -..-"}, 0, nil},
		{"acknowledged", "a.csv", "cidr,org_domain,family\n45.83.64.0/22,alphastrike.io,v4\n2602:80d::/32,censys.io-ipv6,v6\n", FormatAcknowledged,
			[]string{"45.83.64.0/22 alphastrike a -..-", "2602:80d::/32 censys a -..-"}, 0, nil},
		{"maltrail", "maltrail/l.csv", "ip,org_derived,comment\n1.2.3.4,binaryedge,binaryedge.ninja\n1.2.3.5,,scan-1.shadowserver.org\n1.2.3.6,,(unknown)\n", FormatMaltrail,
			[]string{"1.2.3.4/32 binaryedge maltrail -..-", "1.2.3.5/32 shadowserver maltrail -..-"}, 1, nil},
		{"ptr", "p.csv", "ip,ptr\n1.2.3.4,scanner-1.ch1.censys-scanner.com.\n1.2.3.5,mail.example.com\n1.2.3.6,bad name!\n", FormatPTR,
			[]string{"1.2.3.4/32 censys rdns -..-"}, 1, []string{`p.csv:4: "bad name!" is not a host name`}},
		{"quotes", "q.csv", "ip,org\n\"1.2.3.4\",\"censys\"\n1.2.3.5,\"cen\"sys\n\"1.2.3.6,censys\n", FormatCSV,
			[]string{"1.2.3.4/32 censys q -..-"}, 0, []string{"q.csv:3: text after closing quote at column 14", "q.csv:4: unterminated quoted field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(c.in), c.file, nil, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Report.Format != c.format {
				t.Errorf("format %q, want %q", p.Report.Format, c.format)
			}
			var got []string
			for _, l := range p.Labels {
				got = append(got, l.Prefix.String()+" "+l.Org+" "+l.Source+" "+l.Validity())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("labels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if p.Report.Unattributed != c.unattributed {
				t.Errorf("unattributed %d, want %d", p.Report.Unattributed, c.unattributed)
			}
			var skipped []string
			for _, e := range p.Report.Skipped {
				skipped = append(skipped, e.Error())
			}
			if strings.Join(skipped, "\n") != strings.Join(c.skipped, "\n") {
				t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(c.skipped, "\n"))
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	long := "ip,org\n" + strings.Repeat("1", MaxLineBytes+10) + "\n1.2.3.4,censys\n"
	p, err := Parse(strings.NewReader(long), "long.csv", nil, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Labels) != 1 || len(p.Report.Skipped) != 1 || p.Report.Skipped[0].Line != 2 {
		t.Errorf("over-long line: labels %v skipped %v", p.Labels, p.Report.Skipped)
	}
	if _, err := Parse(strings.NewReader("ip,org\n1.2.3.4,censys\nx,y\n"), "s.csv", nil, ImportOptions{Strict: true}); err == nil || !strings.Contains(err.Error(), "s.csv:3:") {
		t.Errorf("strict import: %v", err)
	}
	if _, err := Parse(strings.NewReader("foo,bar\n1,2\n"), "f.csv", nil, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("undetectable header: %v", err)
	}
	if _, err := Parse(strings.NewReader("1.2.3.4\n"), "f.txt", nil, ImportOptions{Format: "bogus"}); err == nil {
		t.Error("unknown format accepted")
	}
}

// failingStore refuses every label write, standing for any failure of the
// store half-way through an import.
type failingStore struct{ store.LabelStore }

func (failingStore) WriteLabels(context.Context, store.LabelWrite) ([]int, error) {
	return nil, errors.New("disk full")
}

// Atomicity of one write is the store's promise (tested there); here the
// import must pass a store failure on and report nothing as added.
func TestImportFailurePassedOn(t *testing.T) {
	ctx := context.Background()
	_, st := openTestDB(t)
	db, err := Open(ctx, failingStore{st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.Import(ctx, strings.NewReader("ip,org\n1.2.3.4,censys\n"), "a.csv", ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") || rep.Added != 0 {
		t.Fatalf("want the store's failure and nothing added, got %+v %v", rep, err)
	}
}

func TestImportIdempotentAndReplace(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestDB(t)
	in := "ip,org\n1.2.3.4,censys\n1.2.3.5,shodan\n1.2.3.6,binaryedge\n1.2.3.7,shodan\n"
	rep, err := db.Import(ctx, strings.NewReader(in), "a.csv", ImportOptions{})
	if err != nil || rep.Added != 4 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	rep, err = db.Import(ctx, strings.NewReader(in), "a.csv", ImportOptions{})
	if err != nil || rep.Added != 0 || rep.Labels != 4 {
		t.Fatalf("re-import added %d (err %v)", rep.Added, err)
	}
	// Replace: the list shrank to one entry.
	rep, err = db.Import(ctx, strings.NewReader("ip,org\n1.2.3.4,censys\n"), "a.csv", ImportOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := db.Labels(ctx, Query{}); len(ls) != 1 || ls[0].Org != "censys" {
		t.Fatalf("after replace: %+v", ls)
	}
}

// fields and export label probes from the file alone (ResolveFile), train
// from what import stored; both must name each IP's org the same way,
// registry spellings and repeated IPs included.
func TestResolveFileAgreesWithImport(t *testing.T) {
	ctx := context.Background()
	in := "IP,Label\n1.2.3.4,A10\n1.2.3.5,censys.io\n1.2.3.6, Palo Alto Networks (Cortex-Xpanse) \n" +
		"1.2.3.7,unknown\n1.2.3.8,shodan\n1.2.3.8,censys\n::ffff:1.2.3.9,webRay\nnot-an-ip,x\n"
	path := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, rep, err := ResolveFile(path, nil)
	if err != nil || len(rep.Skipped) != 1 {
		t.Fatalf("ResolveFile: %+v %v", rep, err)
	}
	db, _ := openTestDB(t)
	if _, err := db.ImportFile(ctx, path, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	stored, err := db.Resolver(ctx, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if org, _ := fromFile.Lookup(netip.MustParseAddr("1.2.3.4"), time.Time{}); org != "a10networks" {
		t.Errorf("A10 read as %q, want the registry's a10networks", org)
	}
	for i := 4; i <= 9; i++ {
		addr := netip.AddrFrom4([4]byte{1, 2, 3, byte(i)})
		o1, ok1 := fromFile.Lookup(addr, time.Time{})
		o2, ok2 := stored.Lookup(addr, time.Time{})
		if o1 != o2 || ok1 != ok2 {
			t.Errorf("%s: file %q (%v), stored %q (%v)", addr, o1, ok1, o2, ok2)
		}
	}
	if _, _, err := ResolveFile(filepath.Join(t.TempDir(), "none.csv"), nil); err == nil {
		t.Error("a missing file resolved")
	}
}

// After importing the artifact's ground truth, every attributed IP resolves
// to its org and unattributed ones resolve to nothing.
func TestSelfDeploy24Labels(t *testing.T) {
	ctx := context.Background()
	path := sharedtest.Path(t, "reference", "labels_SelfDeploy24.csv")
	db, _ := openTestDB(t)
	rep, err := db.ImportFile(ctx, path, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 0 {
		t.Fatalf("skipped lines: %v", rep.Skipped[:min(5, len(rep.Skipped))])
	}
	if rep.Labels != 4182 || rep.Unattributed != 29205 {
		t.Errorf("labels %d unattributed %d; want 4182 and 29205 (33,387 rows)", rep.Labels, rep.Unattributed)
	}
	res, err := db.Resolver(ctx, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fromFile, fileRep, err := ResolveFile(path, nil)
	if err != nil || fileRep.Labels != rep.Labels {
		t.Fatalf("ResolveFile: %d labels, %v", fileRep.Labels, err)
	}
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, row := range rows[1:] {
		addr := netip.MustParseAddr(row[0])
		org, ok := res.Lookup(addr, at)
		if o, k := fromFile.Lookup(addr, at); o != org || k != ok {
			t.Errorf("%s: the file alone gives %q, the store %q", addr, o, org)
		}
		want := DefaultRegistry().Canonical(row[1])
		if want == "" {
			if ok {
				t.Errorf("%s is unattributed but resolves to %s", addr, org)
			}
			continue
		}
		if !ok || org != want {
			t.Errorf("%s resolves to %q (%v), want %q", addr, org, ok, want)
		}
	}
}

func TestImportFileErrors(t *testing.T) {
	db, _ := openTestDB(t)
	_, err := db.ImportFile(context.Background(), filepath.Join(t.TempDir(), "missing.csv"), ImportOptions{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// --replace over a folder whose files share one source keeps every file's
// labels (the source is cleared once, before all of them).
func TestImportFilesReplaceSharedSource(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestDB(t)
	dir := filepath.Join(t.TempDir(), "openfilters")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "censys_v4.txt"), []byte("192.0.2.0/24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "shodan_v4.txt"), []byte("198.51.100.0/24\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("These lists come from OpenFilters.\n"), 0o644)
	if _, err := db.ImportFiles(ctx, []string{dir}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "shodan_v4.txt"), []byte("198.51.100.0/25\n"), 0o644)
	reps, err := db.ImportFiles(ctx, []string{dir}, ImportOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 || reps[0].Note == "" {
		t.Errorf("reports %+v (README must be left out with a note)", reps)
	}
	ls, _ := db.Labels(ctx, Query{Source: "openfilters"})
	var got []string
	for _, l := range ls {
		got = append(got, l.Prefix.String()+" "+l.Org)
	}
	if strings.Join(got, ",") != "192.0.2.0/24 censys,198.51.100.0/25 shodan" {
		t.Errorf("after replace: %v", got)
	}
}
