package grid

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// Structure is one way of building a world: knobs set on the sd24 preset
// at the grid's scale.
type Structure struct {
	Name  string
	About string
	apply func(cfg *simulate.Config, scale float64, seed uint64) error
}

// Structures are the grid's world builds. Each stresses one thing the
// sd24 world is gentle about; the numbers sit at the hard end of what the
// issue asks the grid to span.
var Structures = []Structure{
	{Name: "sd24", About: "SelfDeploy-24 as simulated: 5 % of unattributed scanners are hidden members, honeypots in one /24",
		apply: func(*simulate.Config, float64, uint64) error { return nil }},
	{Name: "hidden40-mimics", About: "40 % of each org's scanners hidden; 100×scale generic-tool IPs per org replay its exact templates",
		apply: func(c *simulate.Config, scale float64, _ uint64) error {
			c.HiddenPerOrg = 0.4
			c.GenericMimics = max(1, int(math.Round(100*scale)))
			return nil
		}},
	{Name: "unattr10-tmpl8", About: "10 unattributed scanners per labelled one; 8 templates per org and service",
		apply: func(c *simulate.Config, _ float64, _ uint64) error {
			c.UnattributedRatio, c.TemplatesPerOrg = 10, 8
			return nil
		}},
	{Name: "split16s", About: "honeypots in four /16s until the split, in four other /16s after it",
		apply: func(c *simulate.Config, _ float64, seed uint64) error {
			var err error
			c.Honeypots, c.HoneypotsTest, err = simulate.HoneypotLayout("split16s", seed)
			return err
		}},
	{Name: "mixed", About: "20 % hidden per org, 3:1 unattributed, 20×scale mimics per org, 4 templates, split /16 honeypots",
		apply: func(c *simulate.Config, scale float64, seed uint64) error {
			c.HiddenPerOrg, c.UnattributedRatio, c.TemplatesPerOrg = 0.2, 3, 4
			c.GenericMimics = max(1, int(math.Round(20*scale)))
			var err error
			c.Honeypots, c.HoneypotsTest, err = simulate.HoneypotLayout("split16s", seed)
			return err
		}},
}

// StructureNames lists the names of Structures.
func StructureNames() []string {
	out := make([]string, len(Structures))
	for i, s := range Structures {
		out[i] = s.Name
	}
	return out
}

func structureByName(name string) (Structure, error) {
	for _, s := range Structures {
		if s.Name == name {
			return s, nil
		}
	}
	return Structure{}, fmt.Errorf("grid: unknown structure %q (want one of %s)", name, strings.Join(StructureNames(), ", "))
}

// Config says which worlds to build and how to evaluate them.
type Config struct {
	// Structures by name (nil: all of Structures) and Seeds (nil: 1, 2, 3):
	// one world per pair.
	Structures []string
	Seeds      []uint64
	// Scale is the share of the SelfDeploy-24 scanners kept (0: 0.1).
	Scale float64
	// Weeks of traffic (0: the 13 of SelfDeploy-24).
	Weeks int
	// Workdir holds the worlds ("": a temporary folder, removed at the
	// end); Keep leaves each world's files there.
	Workdir string
	Keep    bool
	// Mode is the evaluation mode, full (default) or incremental.
	Mode string
	// Options gives the pipeline settings of a world's run (nil:
	// pipeline.Default); it is where new defaults are plugged in.
	Options func(seed uint64) pipeline.Options
	// Logger hears one record per world (nil: none).
	Logger *slog.Logger
}

// Quick is the small grid for CI: scale 0.1, one seed, every structure.
func Quick() Config {
	return Config{Scale: 0.1, Seeds: []uint64{1}}
}

// Row is one world's line of the grid table. The system's scores are
// computed here from its attributions and the world files, with the same
// Score as the baselines, so they do not depend on the report's fields.
type Row struct {
	World     string `json:"world"`
	Structure string `json:"structure"`
	Seed      uint64 `json:"seed"`
	Probes    int    `json:"probes"`
	// System, Lookup and Ceiling score the attribution, the label-lookup
	// baseline and the payload-template ceiling on the same test IPs.
	System  Scores `json:"system"`
	Lookup  Scores `json:"lookup"`
	Ceiling Scores `json:"ceiling"`
	// Missing counts test IPs of the world the run did not attribute
	// (scored as unknown; 0 unless capture and truth disagree).
	Missing int     `json:"missing"`
	Seconds float64 `json:"seconds"`
}

// Table is the grid's result: a row per world and the worst value of each
// column over them (the lowest score; the highest over-attribution).
type Table struct {
	Mode  string  `json:"mode"`
	Scale float64 `json:"scale"`
	Rows  []Row   `json:"rows"`
	Worst Row     `json:"worst"`
}

// Run builds, evaluates and scores every world of the grid, one after the
// other (each run already uses every core).
func Run(ctx context.Context, cfg Config) (*Table, error) {
	if cfg.Scale == 0 {
		cfg.Scale = 0.1
	}
	if cfg.Scale < 0 || cfg.Scale > 1 {
		return nil, fmt.Errorf("grid: scale must be in (0, 1]")
	}
	if cfg.Mode == "" {
		cfg.Mode = "full"
	}
	if cfg.Mode != "full" && cfg.Mode != "incremental" {
		return nil, fmt.Errorf("grid: mode %q: want full or incremental", cfg.Mode)
	}
	if cfg.Structures == nil {
		cfg.Structures = StructureNames()
	}
	if cfg.Seeds == nil {
		cfg.Seeds = []uint64{1, 2, 3}
	}
	var structs []Structure
	for _, name := range cfg.Structures {
		s, err := structureByName(name)
		if err != nil {
			return nil, err
		}
		structs = append(structs, s)
	}
	if len(structs) == 0 || len(cfg.Seeds) == 0 {
		return nil, errors.New("grid: no structure or no seed")
	}
	if cfg.Workdir == "" {
		dir, err := os.MkdirTemp("", "scannergrouper-grid-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Workdir = dir
	}
	t := &Table{Mode: cfg.Mode, Scale: cfg.Scale}
	for _, s := range structs {
		for _, seed := range cfg.Seeds {
			row, err := runWorld(ctx, cfg, s, seed)
			if err != nil {
				return nil, fmt.Errorf("grid: world %s seed %d: %w", s.Name, seed, err)
			}
			if cfg.Logger != nil {
				cfg.Logger.Info("world", "world", row.World, "labelled", row.System.Labelled,
					"f1", round3(row.System.WeightedF1), "lookup_f1", round3(row.Lookup.WeightedF1),
					"ceiling_f1", round3(row.Ceiling.WeightedF1), "seconds", round3(row.Seconds))
			}
			t.Rows = append(t.Rows, row)
		}
	}
	t.Worst = worst(t.Rows)
	return t, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// runWorld simulates one world, evaluates the pipeline on it and scores
// the run and both baselines at the run's cut.
func runWorld(ctx context.Context, cfg Config, s Structure, seed uint64) (Row, error) {
	start := time.Now()
	row := Row{World: fmt.Sprintf("%s-s%d", s.Name, seed), Structure: s.Name, Seed: seed}
	sc, err := simulate.PresetConfig("sd24", seed)
	if err != nil {
		return row, err
	}
	sc.Preset = "grid-" + s.Name
	sc.KnownFraction, sc.UnknownFraction = cfg.Scale, cfg.Scale
	sc.WriteTemplates = true // the payload ceiling's templates
	if cfg.Weeks > 0 {
		sc.Weeks = cfg.Weeks
	}
	if err := s.apply(&sc, cfg.Scale, seed); err != nil {
		return row, err
	}
	dir := filepath.Join(cfg.Workdir, row.World)
	// A world of another scale left here by --keep would be refused.
	if err := os.RemoveAll(dir); err != nil {
		return row, err
	}
	if !cfg.Keep {
		defer os.RemoveAll(dir)
	}
	w, err := simulate.Generate(ctx, sc, dir)
	if err != nil {
		return row, err
	}
	row.Probes = w.Counts.Probes.Total()
	opts := pipeline.Default(seed)
	if cfg.Options != nil {
		opts = cfg.Options(seed)
	}
	res, err := app.RunEvaluation(ctx, app.EvalConfig{
		Pcaps: []string{filepath.Join(dir, "pcap")}, Labels: filepath.Join(dir, "labels.csv"),
		Truth: filepath.Join(dir, "truth.csv"), Mode: cfg.Mode, Opts: opts,
	})
	if err != nil {
		return row, err
	}
	world, err := LoadWorld(dir)
	if err != nil {
		return row, err
	}
	cut := res.Cut
	if cut.IsZero() && res.TestData != nil {
		// Incremental runs test on the last week: everything from its
		// first probe on.
		cut, _ = res.TestData.Span()
	}
	if cut.IsZero() {
		return row, errors.New("run has no test part")
	}
	attributed := make(map[netip.Addr]string, len(res.Test))
	for _, a := range res.Test {
		ip, err := netip.ParseAddr(a.IP)
		if err != nil {
			return row, fmt.Errorf("attribution of %q: %w", a.IP, err)
		}
		attributed[ip] = a.Org
	}
	system := func(ip netip.Addr) string {
		if org, ok := attributed[ip]; ok {
			return org
		}
		row.Missing++
		return unknown
	}
	if row.System, err = world.Score(cut, system); err != nil {
		return row, err
	}
	if row.Lookup, err = world.Score(cut, world.Lookup(cut)); err != nil {
		return row, err
	}
	if row.Ceiling, err = world.Score(cut, world.Ceiling(cut)); err != nil {
		return row, err
	}
	row.Seconds = time.Since(start).Seconds()
	return row, nil
}

// worst is the MIN row: per column the lowest score (or count) and the
// highest over-attribution over rows.
func worst(rows []Row) Row {
	if len(rows) == 0 {
		return Row{World: "MIN"}
	}
	w := Row{World: "MIN", Structure: "worst world per column", System: rows[0].System, Lookup: rows[0].Lookup, Ceiling: rows[0].Ceiling,
		Probes: rows[0].Probes, Missing: rows[0].Missing, Seconds: rows[0].Seconds}
	low := func(dst *Scores, s Scores) {
		dst.Labelled, dst.NewIPs = min(dst.Labelled, s.Labelled), min(dst.NewIPs, s.NewIPs)
		dst.Generic, dst.Hidden = min(dst.Generic, s.Generic), min(dst.Hidden, s.Hidden)
		dst.WeightedF1, dst.NewF1 = min(dst.WeightedF1, s.WeightedF1), min(dst.NewF1, s.NewF1)
		dst.HiddenRecall = min(dst.HiddenRecall, s.HiddenRecall)
		dst.OverAttribution = max(dst.OverAttribution, s.OverAttribution)
	}
	for _, r := range rows[1:] {
		low(&w.System, r.System)
		low(&w.Lookup, r.Lookup)
		low(&w.Ceiling, r.Ceiling)
		w.Probes = min(w.Probes, r.Probes)
		w.Missing, w.Seconds = max(w.Missing, r.Missing), max(w.Seconds, r.Seconds)
	}
	return w
}

// WriteJSON writes the table, indented.
func (t *Table) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// columns are the table's columns: header and cell of a row.
var columns = []struct {
	head string
	cell func(r Row) string
}{
	{"world", func(r Row) string { return r.World }},
	{"structure", func(r Row) string { return r.Structure }},
	{"seed", func(r Row) string {
		if r.World == "MIN" {
			return ""
		}
		return strconv.FormatUint(r.Seed, 10)
	}},
	{"probes", func(r Row) string { return strconv.Itoa(r.Probes) }},
	{"labelled test scanners", func(r Row) string { return strconv.Itoa(r.System.Labelled) }},
	{"new IPs", func(r Row) string { return strconv.Itoa(r.System.NewIPs) }},
	{"weighted F1", func(r Row) string { return f3(r.System.WeightedF1) }},
	{"new-IP F1", func(r Row) string { return f3(r.System.NewF1) }},
	{"over-attribution", func(r Row) string { return pct(r.System.OverAttribution) }},
	{"hidden recall", func(r Row) string { return f3(r.System.HiddenRecall) }},
	{"lookup F1", func(r Row) string { return f3(r.Lookup.WeightedF1) }},
	{"lookup new-IP F1", func(r Row) string { return f3(r.Lookup.NewF1) }},
	{"lookup over-attribution", func(r Row) string { return pct(r.Lookup.OverAttribution) }},
	{"ceiling F1", func(r Row) string { return f3(r.Ceiling.WeightedF1) }},
	{"ceiling new-IP F1", func(r Row) string { return f3(r.Ceiling.NewF1) }},
	{"ceiling over-attribution", func(r Row) string { return pct(r.Ceiling.OverAttribution) }},
	{"seconds", func(r Row) string { return strconv.FormatFloat(r.Seconds, 'f', 0, 64) }},
}

func f3(x float64) string  { return strconv.FormatFloat(x, 'f', 3, 64) }
func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + " %" }

func (t *Table) cells() [][]string {
	out := make([][]string, 0, len(t.Rows)+1)
	for _, r := range append(append([]Row(nil), t.Rows...), t.Worst) {
		line := make([]string, len(columns))
		for i, c := range columns {
			line[i] = c.cell(r)
		}
		out = append(out, line)
	}
	return out
}

// WriteMarkdown writes the table as a markdown table, the MIN row last
// (lowest value per column; highest over-attribution; longest time).
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	heads := make([]string, len(columns))
	for i, c := range columns {
		heads[i] = c.head
	}
	b.WriteString("| " + strings.Join(heads, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(columns)) + "\n")
	for _, line := range t.cells() {
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes the table with full-precision numbers (scores as
// fractions), the MIN row last.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"world", "structure", "seed", "probes", "labelled", "new_ips", "generic_ips", "hidden_ips",
		"weighted_f1", "new_ip_f1", "over_attribution", "hidden_recall",
		"lookup_f1", "lookup_new_ip_f1", "lookup_over_attribution", "lookup_hidden_recall",
		"ceiling_f1", "ceiling_new_ip_f1", "ceiling_over_attribution", "ceiling_hidden_recall", "missing", "seconds"})
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	for _, r := range append(append([]Row(nil), t.Rows...), t.Worst) {
		seed := strconv.FormatUint(r.Seed, 10)
		if r.World == "MIN" {
			seed = ""
		}
		cw.Write([]string{r.World, r.Structure, seed, strconv.Itoa(r.Probes), strconv.Itoa(r.System.Labelled),
			strconv.Itoa(r.System.NewIPs), strconv.Itoa(r.System.Generic), strconv.Itoa(r.System.Hidden),
			g(r.System.WeightedF1), g(r.System.NewF1), g(r.System.OverAttribution), g(r.System.HiddenRecall),
			g(r.Lookup.WeightedF1), g(r.Lookup.NewF1), g(r.Lookup.OverAttribution), g(r.Lookup.HiddenRecall),
			g(r.Ceiling.WeightedF1), g(r.Ceiling.NewF1), g(r.Ceiling.OverAttribution), g(r.Ceiling.HiddenRecall),
			strconv.Itoa(r.Missing), g(r.Seconds)})
	}
	cw.Flush()
	return cw.Error()
}
