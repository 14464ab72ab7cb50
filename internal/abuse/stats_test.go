package abuse

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadJSONLines(t *testing.T) {
	when := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	in := strings.Join([]string{
		strings.ReplaceAll(checkBody("198.51.100.1", 60), "\n", ""),
		`{"ipAddress":"2001:db8::1","abuseConfidenceScore":0,"totalReports":0,"checkedAt":"2026-08-05T10:00:00Z"}`,
		`{"data": {"ipAddress": "198.51.100.3", "abuseConfidenceScore": `,
		``,
		`{"errors":[{"detail":"The ip address must be a valid IPv4 or IPv6 address.","status":422}]}`,
		`{"data":{"ipAddress":"198.51.100.4"}}`,
		`{"ipAddress":"198.51.100.5","abuseConfidenceScore":30}`,
	}, "\n")
	checks, rep, err := Read(strings.NewReader(in), "results.jsonl", when)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "jsonl" || rep.Lines != 6 || rep.Checks != 3 || len(rep.Skipped) != 3 {
		t.Fatalf("report %+v", rep)
	}
	var lines []int
	for _, s := range rep.Skipped {
		lines = append(lines, s.Line)
	}
	if !slices.Equal(lines, []int{3, 5, 6}) || !strings.Contains(rep.Skipped[0].Error(), "results.jsonl:3: malformed JSON") ||
		!strings.Contains(rep.Skipped[2].Msg, "198.51.100.4: no abuseConfidenceScore") {
		t.Errorf("skipped %v", rep.Skipped)
	}
	if checks[0].Score != 60 || !checks[0].CheckedAt.Equal(when) || !slices.Equal(checks[0].Categories, []int{14, 15, 18, 22}) {
		t.Errorf("check 1 %+v", checks[0])
	}
	if checks[1].IP != "2001:db8::1" || !checks[1].CheckedAt.Equal(time.Date(2026, 8, 5, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("check 2 %+v", checks[1])
	}
}

func TestReadCSV(t *testing.T) {
	when := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	in := "ipAddress,abuseConfidenceScore,countryCode,totalReports,lastReportedAt,categories\r\n" +
		"198.51.100.1,100,CN,12,2026-07-30T01:02:03+00:00,\"14,18\"\r\n" +
		"not-an-ip,5,US,1,,\r\n" +
		"198.51.100.2,250,US,1,,\r\n" +
		"198.51.100.3,0,,0,,\r\n"
	checks, rep, err := Read(strings.NewReader(in), "bulk.csv", when)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "csv" || rep.Lines != 4 || len(checks) != 2 || len(rep.Skipped) != 2 || rep.Skipped[0].Line != 3 || rep.Skipped[1].Line != 4 {
		t.Fatalf("report %+v", rep)
	}
	c := checks[0]
	if c.Score != 100 || c.CountryCode != "CN" || c.TotalReports != 12 || !slices.Equal(c.Categories, []int{14, 18}) ||
		!c.LastReportedAt.Equal(time.Date(2026, 7, 30, 1, 2, 3, 0, time.UTC)) {
		t.Errorf("check %+v", c)
	}
	for name, in := range map[string]string{
		"bulk report":  "IP,Categories,ReportDate,Comment\n198.51.100.1,\"14,18\",2026-08-01T00:00:00Z,scan\n",
		"no ip column": "address,score\n198.51.100.1,3\n",
		"all bad":      "ipAddress,abuseConfidenceScore\nx,1\ny,2\n",
	} {
		if _, _, err := Read(strings.NewReader(in), "f.csv", when); err == nil || !strings.Contains(err.Error(), "f.csv") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func sampleStats() []OrgStats {
	m := Membership{}
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		m.Add("shodan", Listed, ip)
	}
	m.Add("shodan", Attributed, "198.51.100.4")
	m.Add("shodan", Attributed, "198.51.100.4")
	m.Add("censys", Attributed, "192.0.2.1")
	m.Add("tiny", Listed, "192.0.2.9")
	m["empty"] = map[string][]string{}
	checks := []Check{
		{IP: "198.51.100.1", Score: 100, Categories: []int{14, 18}},
		{IP: "198.51.100.2", Score: 25, Categories: []int{14}},
		{IP: "198.51.100.3", Score: 0},
		{IP: "198.51.100.4", Score: 24, Categories: []int{22}},
		{IP: "192.0.2.1", Score: 30},
	}
	return Stats(m, checks, DefaultAbusive)
}

func TestStats(t *testing.T) {
	got := sampleStats()
	if len(got) != 3 || got[0].Org != "shodan" || got[1].Org != "censys" || got[2].Org != "tiny" {
		t.Fatalf("orgs %+v", got)
	}
	l, a := got[0].Listed, got[0].Attributed
	if l.IPs != 3 || l.Checked != 3 || l.Abusive != 2 || l.Share != 2.0/3 || l.MeanScore != 125.0/3 {
		t.Errorf("shodan listed %+v", l)
	}
	if len(l.TopCategories) != 2 || l.TopCategories[0] != (CategoryCount{14, "Port Scan", 2}) || l.TopCategories[1].Name != "Brute-Force" {
		t.Errorf("top categories %+v", l.TopCategories)
	}
	if a.IPs != 1 || a.Abusive != 0 || a.MeanScore != 24 {
		t.Errorf("shodan attributed %+v", a)
	}
	if tiny := got[2].Listed; tiny.IPs != 1 || tiny.Checked != 0 || tiny.Share != 0 {
		t.Errorf("unchecked org %+v", tiny)
	}
}

// TestFigure: the PNG decodes and the SVG names every org with an IP.
func TestFigure(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteFigure(dir, sampleStats(), DefaultAbusive)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(paths, []string{filepath.Join(dir, "abuse_by_org.png"), filepath.Join(dir, "abuse_by_org.svg")}) {
		t.Fatalf("paths %v", paths)
	}
	b, _ := os.ReadFile(paths[0])
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 500 {
		t.Fatalf("PNG: %v", err)
	}
	svg, _ := os.ReadFile(paths[1])
	if texts := svgTexts(t, svg); !hasAll(texts, "shodan", "censys", "tiny", "listed IPs: abusive", "attributed IPs: not checked") || slices.Contains(texts, "empty") {
		t.Errorf("SVG texts %q", texts)
	}
	if _, err := RenderFigure(nil, 25, "png"); err == nil {
		t.Error("a figure of nothing")
	}
}

func svgTexts(t *testing.T, b []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return texts
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			inText = tk.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(tk)))
			}
		case xml.EndElement:
			inText = false
		}
	}
}

func hasAll(texts []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(texts, w) {
			return false
		}
	}
	return true
}
