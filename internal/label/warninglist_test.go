package label

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// TestImportWarninglist imports a native MISP warninglist, the
// misp-warninglists repository's lists/censys-scanning/list.json as
// published, which imported 0 labels (every line skipped as a plain list).
func TestImportWarninglist(t *testing.T) {
	db, _ := openTestDB(t)
	rep, err := db.ImportFile(context.Background(), filepath.Join("testdata", "misp", "censys-scanning", "list.json"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != FormatMISP || rep.Lines != 12 || rep.Labels != 12 || rep.Added != 12 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v, want 12 misp labels added", rep)
	}
	if !slices.Equal(rep.Sources, []string{"misp-warninglists"}) {
		t.Errorf("sources %v", rep.Sources)
	}
	p, err := ReadFile(filepath.Join("testdata", "misp", "censys-scanning", "list.json"), nil, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Labels {
		if l.Org != "censys" || l.Note != "misp censys-scanning v2" {
			t.Fatalf("label %+v, want censys with the list's name and version", l)
		}
	}
	if p.Labels[8].Prefix != mustPrefix("2602:80d:1000:b0cc:e::/80") {
		t.Errorf("IPv6 entry read as %s", p.Labels[8].Prefix)
	}
}

// TestWarninglistsMatchCSV writes every list of the shared MISP snapshot
// (realdata/scanner_ip_lists/misp: list,value CSV and the lists' metadata)
// as the native list.json it was flattened from and checks that each
// imports the same labels as the CSV rows of that list.
func TestWarninglistsMatchCSV(t *testing.T) {
	dir := sharedtest.Path(t, "realdata", "scanner_ip_lists", "misp")
	metaRaw, err := os.ReadFile(filepath.Join(dir, "misp_scanning_lists_meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var metas []struct {
		List, Name, Description string
		Version                 json.Number
	}
	if err := json.Unmarshal(metaRaw, &metas); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "misp_scanning_lists.csv")
	fromCSV, err := ReadFile(csvPath, nil, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]string{}
	for _, r := range rows[1:] {
		values[r[0]] = append(values[r[0]], r[1])
	}
	out := t.TempDir()
	want := map[string]bool{}
	for _, l := range fromCSV.Labels {
		want[l.Prefix.String()+" "+l.Org] = true
	}
	got := map[string]bool{}
	total := 0
	for _, m := range metas {
		path := filepath.Join(out, "lists", m.List, "list.json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"name": m.Name, "description": m.Description, "version": m.Version,
			"type": "cidr", "list": values[m.List], "matching_attributes": []string{"ip-src", "ip-dst"}})
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := ReadFile(path, nil, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Report.Labels != len(values[m.List]) || len(p.Report.Skipped) != 0 {
			t.Errorf("%s: %d labels of %d entries, skipped %v", m.List, p.Report.Labels, len(values[m.List]), p.Report.Skipped)
		}
		total += p.Report.Labels
		for _, l := range p.Labels {
			got[l.Prefix.String()+" "+l.Org] = true
		}
	}
	if total != len(rows)-1 || total < 4000 {
		t.Errorf("%d labels from the lists, the CSV has %d rows", total, len(rows)-1)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("CSV label %s not imported from the lists", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("list label %s not in the CSV import", k)
		}
	}
}

func TestWarninglistBadInput(t *testing.T) {
	parse := func(name, in string) (Parsed, error) {
		return Parse(strings.NewReader(in), name, nil, ImportOptions{})
	}
	p, err := parse("x/shodan-scanning/list.json", "{\n \"name\": \"Shodan\",\n \"list\": [\n  \"198.20.69.0/24\",\n  \"shodan.io\",\n  \"2001:db8::/129\"\n ]\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Report.Labels != 1 || p.Labels[0].Org != "shodan" || len(p.Report.Skipped) != 2 {
		t.Fatalf("report %+v labels %+v", p.Report, p.Labels)
	}
	if s := p.Report.Skipped[0].Error(); !strings.HasPrefix(s, "x/shodan-scanning/list.json:5: list entry:") {
		t.Errorf("skipped %q does not name the line", s)
	}
	for name, in := range map[string]string{
		"bad json":    "{\n \"name\": \"x\",\n \"list\": [\"192.0.2.1\",]\n}",
		"hostnames":   `{"name": "Google", "type": "hostname", "list": ["google.com"]}`,
		"no list":     `{"name": "x", "version": 1}`,
		"not strings": `{"name": "x", "list": [1, 2]}`,
		"all bad":     `{"name": "x", "type": "cidr", "list": ["a", "b"]}`,
	} {
		_, err := parse("some/list.json", in)
		if err == nil || !strings.Contains(err.Error(), "some/list.json") {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
		if name == "bad json" && !strings.Contains(err.Error(), "line 3") {
			t.Errorf("bad json: %v does not name the line", err)
		}
	}
}
