package analysis

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

var httpKeyFields = []string{"User-Agent", "Accept", "Url", "Accept-Encoding", "Version", "Connection"}

// realToolProbes reads the first HTTP probe of each generic tool from the real probe corpus.
func realToolProbes(t testing.TB, tools []string) map[string]map[string]string {
	f, err := os.Open(sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	want := map[string]bool{}
	for _, tool := range tools {
		want[tool] = true
	}
	out := map[string]map[string]string{}
	for _, r := range rows[1:] {
		tool := r[col["tool"]]
		if r[col["kind"]] != "http" || !want[tool] || out[tool] != nil {
			continue
		}
		line := strings.Fields(r[col["http_request_line"]])
		if len(line) != 3 {
			t.Fatalf("%s: request line %q", tool, r[col["http_request_line"]])
		}
		out[tool] = map[string]string{
			"User-Agent": r[col["user_agent"]], "Accept": r[col["accept"]], "Url": line[1],
			"Accept-Encoding": r[col["accept_encoding"]], "Version": line[2], "Connection": r[col["connection"]],
		}
	}
	for _, tool := range tools {
		if out[tool] == nil {
			t.Fatalf("tool %s not in the corpus", tool)
		}
	}
	return out
}

// realHTTPSourceIPs returns distinct source IPs of HTTP probes in the SD-24 test split, in file order.
func realHTTPSourceIPs(t testing.TB) []string {
	b, err := os.ReadFile(sharedtest.Path(t, "reference", "probes_meta_SelfDeploy24_test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var ips []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Split(line, ",")
		if len(f) > 2 && f[0] == "http" && !seen[f[1]] {
			seen[f[1]] = true
			ips = append(ips, f[1])
		}
	}
	return ips
}

// toolWorld builds still-unknown probes of real generic tools. Their payload fields and source IPs
// are real; the projections are synthetic (one well-separated 128-d centre per tool plus unit
// noise) because the trained model is not part of this package.
func toolWorld(t testing.TB, tools []string, perTool int, seed uint64) ([]ProbeInput, []int) {
	payloads := realToolProbes(t, tools)
	ips := realHTTPSourceIPs(t)
	centres, _ := blobs(len(tools), 1, 128, 40, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	var probes []ProbeInput
	var truth []int
	for i := range perTool {
		for ti, tool := range tools {
			v := make([]float32, 128)
			for j := range v {
				v[j] = float32(centres.Row(ti)[j] + rng.NormFloat64())
			}
			// Each tool scans from its own few IPs, some much busier than others.
			ip := ips[(ti*40+int(math.Sqrt(float64(i))))%len(ips)]
			probes = append(probes, ProbeInput{IP: ip, Fields: payloads[tool], Vector: v})
			truth = append(truth, ti)
		}
	}
	return probes, truth
}

func testConfig() Config {
	return Config{Seed: 42, TSNE: TSNEConfig{Iterations: 300}, Cluster: ClusterConfig{SilhouetteSample: 500}}
}

func TestWriteReportOnGenericTools(t *testing.T) {
	tools := []string{"curl", "wget", "python-urllib", "zgrab2-http", "go-nethttp", "masscan-1.3.2-http-hello"}
	probes, truth := toolWorld(t, tools, 60, 1)
	payloads := realToolProbes(t, tools)
	known, _ := blobs(3, 40, 128, 40, 9)
	var kc KnownClassInput
	for i := range known.N {
		org := []string{"censys", "shodan", "internet_census"}[i%3]
		v := make([]float32, 128)
		for j, x := range known.Row(i) {
			v[j] = float32(x)
		}
		if i%8 == 0 {
			kc.Attributed = append(kc.Attributed, OrgVector{Org: org, Vector: v})
		} else {
			kc.Labelled = append(kc.Labelled, OrgVector{Org: org, Vector: v})
		}
	}
	in := ReportInput{Title: "SD-24 still-unknown", Services: []ServiceInput{
		{Service: "http", KeyFields: httpKeyFields, Probes: probes, KnownClass: &kc},
		{Service: "dns", Probes: probes[:3]},
		{Service: "tls"},
	}}
	dir := t.TempDir()
	if keep := os.Getenv("ANALYSIS_KEEP_REPORT"); keep != "" {
		dir = keep // to look at the report by eye
	}
	rep, err := WriteReport(dir, in, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	http := rep.Services[0]
	if http.K != len(tools) || http.KChoice != "silhouette rule" {
		t.Fatalf("K=%d by %q, want %d by the silhouette rule; scores %+v", http.K, http.KChoice, len(tools), http.Scores)
	}
	if p := purity(http.Labels, truth); p < 0.99 {
		t.Fatalf("clusters mix generic tools: purity %.3f", p)
	}
	// Every cluster is one tool: its top User-Agent is that tool's, on all of its probes.
	for _, c := range http.Clusters {
		ua := c.Fields[0]
		if ua.Field != "User-Agent" || len(ua.Top) == 0 || ua.Top[0].Share != 100 {
			t.Errorf("cluster %d: User-Agent %+v", c.Cluster, ua)
		}
		if c.Probes != 60 {
			t.Errorf("cluster %d has %d probes", c.Cluster, c.Probes)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{
		"# SD-24 still-unknown", "## HTTP", "K = 6 (silhouette rule over K = 3..10",
		mdText(payloads["zgrab2-http"]["User-Agent"], 60) + ": 100.0%",
		"Python-urllib/3.11: 100.0%", "N/A: 100.0%", // urllib sends no Accept
		"![HTTP: still-unknown probes, K-means K=6 (t-SNE)](http_clusters.png)",
		"http_known_class.png", "| censys |", "## DNS", "too few to choose K", "## TLS", "No still-unknown probes.",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// clusters.csv: 6 clusters × (6 fields × up to 3 values + IP rows), all with share on one decimal.
	f, _ := os.Open(filepath.Join(dir, "clusters.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows[0], []string{"service", "cluster", "n_ips", "n_probes", "field", "rank", "value", "count", "share_pct"}) {
		t.Fatalf("CSV header %v", rows[0])
	}
	uaRows := 0
	for _, r := range rows[1:] {
		if r[0] == "http" && r[4] == "User-Agent" {
			uaRows++
			if r[8] != "100.0" {
				t.Errorf("User-Agent share %s in %v", r[8], r)
			}
		}
	}
	if uaRows != 6 {
		t.Errorf("%d User-Agent rows, want 6", uaRows)
	}
	// clusters.json decodes back to the returned report.
	js, _ := os.ReadFile(filepath.Join(dir, "clusters.json"))
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Services[0].K != 6 || !reflect.DeepEqual(back.Services[0].Clusters, http.Clusters) {
		t.Error("clusters.json does not match the report")
	}
	// The figures are real pictures with one colour per cluster / org.
	for name, groups := range map[string]int{"http_clusters.png": 6, "http_known_class.png": 3} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		colours, nonWhite := pixelStats(img)
		used := 0
		for _, c := range palette {
			if colours[c] > 200 { // anti-aliased black text hits the grey entry a few times
				used++
			}
		}
		if used != groups || nonWhite < 5000 {
			for i, c := range palette {
				t.Logf("palette %d: %d px", i, colours[c])
			}
			t.Errorf("%s: %d group colours (want %d), %d non-white pixels", name, used, groups, nonWhite)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dns_clusters.png")); !os.IsNotExist(err) {
		t.Error("a figure was drawn for 3 probes")
	}
	if kc := http.KnownClass; kc == nil || len(kc.Orgs) != 3 || kc.Orgs[0].Attributed+kc.Orgs[1].Attributed+kc.Orgs[2].Attributed != 15 {
		t.Errorf("known-class view %+v", http.KnownClass)
	}
}

func TestWriteReportDeterministic(t *testing.T) {
	tools := []string{"curl", "wget", "zgrab2-http", "go-nethttp"}
	probes, _ := toolWorld(t, tools, 40, 3)
	in := ReportInput{Services: []ServiceInput{{Service: "http", KeyFields: httpKeyFields, Probes: probes}}}
	cfg := testConfig()
	a, b := t.TempDir(), t.TempDir()
	if _, err := WriteReport(a, in, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.Workers, cfg.TSNE.Workers = 1, 1
	if _, err := WriteReport(b, in, cfg); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(a)
	if len(entries) != 5 {
		t.Fatalf("%d files written, want 5", len(entries))
	}
	for _, e := range entries {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs with the same seed", e.Name())
		}
	}
	// With the PCA start the layout does not depend on the seed (as in scikit-learn); with a
	// random start it must.
	cfg.TSNE.RandomInit = true
	svg := func(seed uint64) []byte {
		cfg.Seed = seed
		d := t.TempDir()
		if _, err := WriteReport(d, in, cfg); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(d, "http_clusters.svg"))
		return b
	}
	if bytes.Equal(svg(42), svg(43)) {
		t.Error("the seed does not reach the random start")
	}
}

func TestWriteReportKOverrideAndErrors(t *testing.T) {
	probes, _ := toolWorld(t, []string{"curl", "wget", "zgrab2-http"}, 20, 5)
	cfg := testConfig()
	cfg.Cluster.K = 5
	rep, err := Analyse(ReportInput{Services: []ServiceInput{{Service: "http", Probes: probes}}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Services[0]; s.K != 5 || s.KChoice != "fixed" || len(s.Clusters) != 5 {
		t.Fatalf("override: K=%d %q %d clusters", s.K, s.KChoice, len(s.Clusters))
	}
	if got := rep.Services[0].Clusters[0].Fields; len(got) != 6 { // every field seen, sorted
		t.Errorf("default key fields: %d", len(got))
	}
	bad := append([]ProbeInput(nil), probes...)
	bad[3].Vector = bad[3].Vector[:10]
	for name, in := range map[string]ReportInput{
		"no services":    {},
		"ragged vectors": {Services: []ServiceInput{{Service: "http", Probes: bad}}},
		"duplicate":      {Services: []ServiceInput{{Service: "http"}, {Service: "HTTP"}}},
	} {
		if _, err := Analyse(in, testConfig()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg.Cluster.K = 100
	if _, err := Analyse(ReportInput{Services: []ServiceInput{{Service: "http", Probes: probes}}}, cfg); err == nil {
		t.Error("K above the number of probes accepted")
	}
}

func TestMarkdownAndSpreadsheetEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"curl/7.88.1":          "curl/7.88.1",
		"a|b":                  `a\|b`,
		"<script>":             "&lt;script&gt;",
		"line\r\nbreak":        `line\r\nbreak`,
		"*bold* _it_ `code`":   `\*bold\* \_it\_ \` + "`code\\`",
		"bad\xffbyte":          `bad\xffbyte`,
		"\uFFFD":               "\uFFFD",
		strings.Repeat("x", 5): "xxx…",
	} {
		max := 60
		if strings.HasPrefix(in, "xxxxx") {
			max = 3
		}
		if got := mdText(in, max); got != want {
			t.Errorf("mdText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"=cmd()": "'=cmd()", "+1": "'+1", "-": "'-", "@x": "'@x", "ok=": "ok="} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q", in, got)
		}
	}
	if fileSafe("HTTP/1") != "http_1" || fileSafe("") != "service" {
		t.Error("fileSafe")
	}
}

// TestKnownClassViewTooFewProbes: one attributed probe next to two
// labelled ones is counted but not drawn (t-SNE needs 4 points); it must
// not fail the whole analysis, as it once failed the demo on a tiny world.
func TestKnownClassViewTooFewProbes(t *testing.T) {
	in := KnownClassInput{
		Labelled:   []OrgVector{{Org: "shodan", Vector: []float32{1, 0}}, {Org: "shodan", Vector: []float32{0, 1}}},
		Attributed: []OrgVector{{Org: "shodan", Vector: []float32{1, 1}}},
	}
	pts, counts, err := KnownClassView(in, KnownViewConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 0 || len(counts) != 1 || counts[0] != (OrgCount{Org: "shodan", Labelled: 2, Attributed: 1}) {
		t.Errorf("points %v counts %+v, want no points and shodan 2/1", pts, counts)
	}
}
