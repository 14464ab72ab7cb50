package analysis

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
)

// ProbeInput is one still-unknown probe: where it came from, its key field values and its
// projection (the 128-d embedding of the open-set model).
type ProbeInput struct {
	IP     string
	Fields map[string]string
	Vector []float32
}

// ServiceInput is the material for one service's section.
type ServiceInput struct {
	Service    string           // "http", "tls", "dns"
	KeyFields  []string         // fields to summarise, in this order; empty: every field seen
	Probes     []ProbeInput     // still-unknown probes
	KnownClass *KnownClassInput // optional Fig. 2 view
}

// ReportInput is everything WriteReport needs; it holds plain values so that any pipeline can
// fill it.
type ReportInput struct {
	Title    string
	Services []ServiceInput
}

// Config holds the analysis parameters. Seed drives every random choice (it overrides the seeds of
// the nested configurations); K is overridden with Cluster.K.
type Config struct {
	Seed       uint64
	Cluster    ClusterConfig
	TSNE       TSNEConfig
	KnownView  KnownViewConfig
	TopValues  int // values listed per key field (default 3, as the artifact keeps)
	ExampleIPs int // example IPs per cluster (default 5)
	Plot       PlotStyle
}

func (c Config) withDefaults() Config {
	c.Cluster.Seed = c.Seed
	c.TSNE.Seed = c.Seed
	c.KnownView.TSNE = c.TSNE
	c.Cluster = c.Cluster.withDefaults()
	if c.TopValues <= 0 {
		c.TopValues = 3
	}
	if c.ExampleIPs <= 0 {
		c.ExampleIPs = 5
	}
	return c
}

// Figure names the files of one picture, relative to the report folder.
type Figure struct {
	Title string `json:"title"`
	PNG   string `json:"png"`
	SVG   string `json:"svg"`
}

// KnownClassReport summarises the Fig. 2 view.
type KnownClassReport struct {
	Orgs   []OrgCount `json:"orgs"`
	Figure *Figure    `json:"figure,omitempty"`
	Note   string     `json:"note,omitempty"`
}

// ServiceReport is one service's result.
type ServiceReport struct {
	Service          string            `json:"service"`
	Probes           int               `json:"probes"`
	IPs              int               `json:"ips"`
	K                int               `json:"k"`
	KChoice          string            `json:"k_choice"` // "silhouette rule", "fixed" or "too few probes"
	KMin             int               `json:"k_min,omitempty"`
	KMax             int               `json:"k_max,omitempty"`
	SilhouettePoints int               `json:"silhouette_points,omitempty"`
	Scores           []KScore          `json:"k_scores,omitempty"`
	Clusters         []ClusterSummary  `json:"clusters"`
	Figure           *Figure           `json:"figure,omitempty"`
	KnownClass       *KnownClassReport `json:"known_class,omitempty"`
	Note             string            `json:"note,omitempty"`

	Labels    []int        `json:"-"` // cluster of each input probe, in input order
	Embedding [][2]float64 `json:"-"` // t-SNE position of each input probe (nil for tiny sets)
	KnownView []ViewPoint  `json:"-"`
}

// Report is the whole analysis.
type Report struct {
	Title    string          `json:"title"`
	Seed     uint64          `json:"seed"`
	Services []ServiceReport `json:"services"`
}

// Analyse clusters, summarises and embeds every service of in, without writing anything.
func Analyse(in ReportInput, cfg Config) (*Report, error) {
	if len(in.Services) == 0 {
		return nil, errors.New("analysis: no services to report")
	}
	cfg = cfg.withDefaults()
	rep := &Report{Title: in.Title, Seed: cfg.Seed}
	if rep.Title == "" {
		rep.Title = "Still-unknown scanners"
	}
	seen := map[string]bool{}
	for _, svc := range in.Services {
		name := fileSafe(svc.Service)
		if seen[name] {
			return nil, fmt.Errorf("analysis: service %q given twice", svc.Service)
		}
		seen[name] = true
		sr, err := analyseService(svc, cfg)
		if err != nil {
			return nil, fmt.Errorf("analysis: service %s: %w", svc.Service, err)
		}
		rep.Services = append(rep.Services, *sr)
	}
	return rep, nil
}

func analyseService(svc ServiceInput, cfg Config) (*ServiceReport, error) {
	sr := &ServiceReport{Service: svc.Service, Probes: len(svc.Probes)}
	records := make([]ProbeRecord, len(svc.Probes))
	ips := map[string]bool{}
	for i, p := range svc.Probes {
		records[i] = ProbeRecord{IP: p.IP, Fields: p.Fields}
		ips[p.IP] = true
	}
	sr.IPs = len(ips)
	keyFields := svc.KeyFields
	if len(keyFields) == 0 {
		keyFields = KeyFieldsOf(records)
	}
	if len(svc.Probes) > 0 {
		rows := make([][]float32, len(svc.Probes))
		for i, p := range svc.Probes {
			rows[i] = p.Vector
		}
		pts, err := PointsFromFloat32(rows)
		if err != nil {
			return nil, err
		}
		switch {
		case cfg.Cluster.K > 0:
			if cfg.Cluster.K > pts.N {
				return nil, fmt.Errorf("K=%d but only %d probes", cfg.Cluster.K, pts.N)
			}
			fallthrough
		case pts.N > cfg.Cluster.KMin:
			cl, err := Cluster(pts, cfg.Cluster)
			if err != nil {
				return nil, err
			}
			sr.K, sr.KChoice, sr.Labels = cl.K, cl.Chosen, cl.Labels
			sr.Scores, sr.SilhouettePoints = cl.Scores, cl.Sampled
			if cfg.Cluster.K <= 0 {
				sr.KMin, sr.KMax = cfg.Cluster.KMin, cfg.Cluster.KMax
			}
		default:
			sr.K, sr.KChoice, sr.Labels = 1, "too few probes", make([]int, pts.N)
			sr.Note = fmt.Sprintf("%d probes are too few to choose K in %d..%d; they form one group.", pts.N, cfg.Cluster.KMin, cfg.Cluster.KMax)
		}
		if pts.N >= 4 {
			if sr.Embedding, err = TSNE(pts, cfg.TSNE); err != nil {
				return nil, err
			}
		}
	} else {
		sr.Note = "No still-unknown probes."
	}
	var err error
	if sr.Clusters, err = SummariseClusters(records, sr.Labels, sr.K, keyFields, cfg.TopValues, cfg.ExampleIPs); err != nil {
		return nil, err
	}
	if svc.KnownClass != nil {
		kc := &KnownClassReport{}
		pts, counts, err := KnownClassView(*svc.KnownClass, cfg.KnownView)
		if err != nil {
			return nil, err
		}
		kc.Orgs, sr.KnownView = counts, pts
		switch {
		case len(counts) == 0:
			kc.Note = "No unknown-class probe was attributed to a known org."
		case len(pts) == 0:
			kc.Note = fmt.Sprintf("Fewer than %d probes to show: no figure.", minViewPoints)
		}
		sr.KnownClass = kc
	}
	return sr, nil
}

// WriteReport analyses in and writes, into dir (created if needed): report.md with the tables and
// figure links, clusters.csv (one row per cluster, field and rank), clusters.json (the Report)
// and per service <service>_clusters.{png,svg} and <service>_known_class.{png,svg}. The same input
// and Config give byte-identical files.
func WriteReport(dir string, in ReportInput, cfg Config) (*Report, error) {
	rep, err := Analyse(in, cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i := range rep.Services {
		sr := &rep.Services[i]
		base := fileSafe(sr.Service)
		if len(sr.Embedding) > 0 {
			pts := make([]ViewPoint, len(sr.Embedding))
			for j, y := range sr.Embedding {
				pts[j] = ViewPoint{X: y[0], Y: y[1], Group: "cluster " + strconv.Itoa(sr.Labels[j])}
			}
			fig := &Figure{Title: fmt.Sprintf("%s: still-unknown probes, K-means K=%d (t-SNE)", strings.ToUpper(sr.Service), sr.K), PNG: base + "_clusters.png", SVG: base + "_clusters.svg"}
			if err := WriteScatter(dir, base+"_clusters", fig.Title, pts, cfg.Plot); err != nil {
				return nil, err
			}
			sr.Figure = fig
		}
		if sr.KnownClass != nil && len(sr.KnownView) > 0 {
			fig := &Figure{Title: fmt.Sprintf("%s: unknown-class probes attributed to known orgs (t-SNE)", strings.ToUpper(sr.Service)), PNG: base + "_known_class.png", SVG: base + "_known_class.svg"}
			if err := WriteScatter(dir, base+"_known_class", fig.Title, sr.KnownView, cfg.Plot); err != nil {
				return nil, err
			}
			sr.KnownClass.Figure = fig
		}
	}
	var csvBuf bytes.Buffer
	if err := writeClustersCSV(&csvBuf, rep); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"clusters.csv", csvBuf.Bytes()},
		{"clusters.json", append(js, '\n')},
		{"report.md", []byte(renderMarkdown(rep))},
	}
	for _, f := range files {
		if err := atomicfile.WriteBytes(filepath.Join(dir, f.name), f.data); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// writeClustersCSV writes one row per (service, cluster, field, rank); the busiest source IPs are
// listed under the field name "ip".
func writeClustersCSV(buf *bytes.Buffer, rep *Report) error {
	w := csv.NewWriter(buf)
	w.Write([]string{"service", "cluster", "n_ips", "n_probes", "field", "rank", "value", "count", "share_pct"})
	for _, sr := range rep.Services {
		for _, c := range sr.Clusters {
			row := func(field string, rank int, v ValueShare) {
				w.Write([]string{sr.Service, strconv.Itoa(c.Cluster), strconv.Itoa(c.IPs), strconv.Itoa(c.Probes),
					field, strconv.Itoa(rank), spreadsheetSafe(v.Value), strconv.Itoa(v.Count), strconv.FormatFloat(v.Share, 'f', 1, 64)})
			}
			for _, f := range c.Fields {
				for r, v := range f.Top {
					row(f.Field, r+1, v)
				}
			}
			for r, v := range c.ExampleIPs {
				row("ip", r+1, v)
			}
		}
	}
	w.Flush()
	return w.Error()
}

// spreadsheetSafe defuses values that a spreadsheet would run as a formula: payload fields are
// chosen by whoever scans us.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func renderMarkdown(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdText(rep.Title, 200))
	fmt.Fprintf(&b, "Seed %d. Files: [clusters.csv](clusters.csv), [clusters.json](clusters.json).\n", rep.Seed)
	for _, sr := range rep.Services {
		fmt.Fprintf(&b, "\n## %s\n\n", mdText(strings.ToUpper(sr.Service), 80))
		if sr.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", sr.Note)
		}
		if sr.Probes == 0 {
			continue
		}
		fmt.Fprintf(&b, "%d still-unknown probes from %d IPs, K = %d", sr.Probes, sr.IPs, sr.K)
		switch sr.KChoice {
		case "silhouette rule":
			fmt.Fprintf(&b, " (silhouette rule over K = %d..%d, silhouettes on %d probes).\n\n", sr.KMin, sr.KMax, sr.SilhouettePoints)
		case "fixed":
			b.WriteString(" (fixed).\n\n")
		default:
			b.WriteString(".\n\n")
		}
		if len(sr.Scores) > 0 {
			b.WriteString("| K | clusters whose best silhouette > mean | ratio | mean silhouette |\n|---:|---:|---:|---:|\n")
			for _, s := range sr.Scores {
				mark := ""
				if s.K == sr.K {
					mark = " **←**"
				}
				fmt.Fprintf(&b, "| %d%s | %d | %.3f | %.3f |\n", s.K, mark, s.ClustersAboveMean, s.Ratio, s.MeanSilhouette)
			}
			b.WriteString("\n")
		}
		if len(sr.Clusters) > 0 {
			fields := []string{}
			for _, f := range sr.Clusters[0].Fields {
				fields = append(fields, f.Field)
			}
			b.WriteString("| cluster | IPs | probes |")
			for _, f := range fields {
				fmt.Fprintf(&b, " %s |", mdText(f, 60))
			}
			b.WriteString(" example IPs |\n|---:|---:|---:|")
			for range fields {
				b.WriteString("---|")
			}
			b.WriteString("---|\n")
			for _, c := range sr.Clusters {
				fmt.Fprintf(&b, "| %d | %d | %d |", c.Cluster, c.IPs, c.Probes)
				for _, f := range c.Fields {
					parts := make([]string, len(f.Top))
					for i, v := range f.Top {
						parts[i] = fmt.Sprintf("%s: %.1f%%", mdText(v.Value, 60), v.Share)
					}
					fmt.Fprintf(&b, " %s |", strings.Join(parts, "<br>"))
				}
				ips := make([]string, len(c.ExampleIPs))
				for i, v := range c.ExampleIPs {
					ips[i] = fmt.Sprintf("%s (%d)", mdText(v.Value, 60), v.Count)
				}
				fmt.Fprintf(&b, " %s |\n", strings.Join(ips, "<br>"))
			}
			b.WriteString("\n")
		}
		if sr.Figure != nil {
			fmt.Fprintf(&b, "![%s](%s)\n\n[SVG](%s)\n\n", mdText(sr.Figure.Title, 200), sr.Figure.PNG, sr.Figure.SVG)
		}
		if kc := sr.KnownClass; kc != nil {
			b.WriteString("### Known-class view\n\n")
			b.WriteString("Unknown-class probes (triangles) that were attributed to a known org, next to that org's labelled probes.\n\n")
			if kc.Note != "" {
				fmt.Fprintf(&b, "%s\n\n", kc.Note)
			}
			if len(kc.Orgs) > 0 {
				b.WriteString("| org | labelled probes shown | attributed unknown-class probes |\n|---|---:|---:|\n")
				for _, o := range kc.Orgs {
					fmt.Fprintf(&b, "| %s | %d | %d |\n", mdText(o.Org, 80), o.Labelled, o.Attributed)
				}
				b.WriteString("\n")
			}
			if kc.Figure != nil {
				fmt.Fprintf(&b, "![%s](%s)\n\n[SVG](%s)\n\n", mdText(kc.Figure.Title, 200), kc.Figure.PNG, kc.Figure.SVG)
			}
		}
	}
	return b.String()
}

// mdText makes an untrusted value safe inside a Markdown table cell: control characters become
// escapes, characters with Markdown or HTML meaning are escaped, long values are cut.
func mdText(s string, maxRunes int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError && isInvalidByte(s[i:]):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case strings.ContainsRune("\\|*_`[]#!~", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fileSafe turns a service name into a file-name stem.
func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "service"
	}
	return b.String()
}

func isInvalidByte(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size <= 1
}
