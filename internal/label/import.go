package label

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Format names an input format of Import.
type Format string

// Input formats. FormatAuto detects the format from the header line or,
// for header-less files, from the first data line.
const (
	FormatAuto = Format("")
	// FormatList: one IP or CIDR per line, # comments (also after the
	// address, where a reverse-DNS name is mapped to its org).
	FormatList = Format("list")
	// FormatCSV: ip,org (also the artifact's IP,Label; optional source,
	// valid_from, valid_until columns, a bare valid_until date including
	// its day). "unknown" is unattributed: counted, not stored.
	FormatCSV = Format("csv")
	// FormatUnified: network,org,source,source_label,extra (realdata).
	FormatUnified = Format("unified")
	// FormatNICT: NICT survey-scanner period,ip,scanner,last_seen; the
	// period becomes the validity.
	FormatNICT = Format("nict")
	// FormatNICTOrgs: NICT scanorg catalogue (names, no addresses).
	FormatNICTOrgs = Format("nict-scanorg")
	// FormatMISP: MISP warning lists as list,value.
	FormatMISP = Format("misp")
	// FormatMaltrail: maltrail mass_scanner labelled CSV ip,org_derived,comment.
	FormatMaltrail = Format("maltrail")
	// FormatAcknowledged: acknowledged_scanners cidr,org_domain,family.
	FormatAcknowledged = Format("acknowledged")
	// FormatPTR: reverse-DNS dump ip,ptr.
	FormatPTR = Format("ptr")
)

// Formats lists the formats Import understands.
var Formats = []Format{FormatList, FormatCSV, FormatUnified, FormatNICT, FormatNICTOrgs, FormatMISP, FormatMaltrail, FormatAcknowledged, FormatPTR}

// ImportOptions steer an import. Zero values mean "as the file says".
type ImportOptions struct {
	Format Format
	// Source names the list; default: the publisher's folder
	// (openfilters, xorlent, ...) or the file name.
	Source string
	// Org labels every address of a plain list (overrides the file name
	// and inline comments).
	Org string
	// From and Until override the validity of every label.
	From, Until time.Time
	// Replace removes the stored labels of the imported sources first (in
	// the same transaction), for a list that shrank.
	Replace bool
	// Strict fails the import on the first malformed line.
	Strict bool
}

// ImportReport says what an import read and stored.
type ImportReport struct {
	File         string      `json:"file"`
	Format       Format      `json:"format"`
	Sources      []string    `json:"sources"`
	Lines        int         `json:"lines"`  // data lines read
	Labels       int         `json:"labels"` // labels parsed
	Added        int         `json:"added"`  // new labels stored
	Unattributed int         `json:"unattributed"`
	PTRs         int         `json:"ptrs,omitempty"`
	Skipped      []LineError `json:"skipped,omitempty"`
	Note         string      `json:"note,omitempty"`
}

// PTRRecord is one reverse-DNS answer.
type PTRRecord store.PTRRecord

// Parsed is the content of one input file.
type Parsed struct {
	Labels []Label
	PTRs   []PTRRecord
	Report ImportReport
}

// maxLabels bounds one file's labels (the whole unified list has 76k).
const maxLabels = 50_000_000

// ImportFile parses the file at path and stores its labels in one
// transaction.
func (s *LabelDB) ImportFile(ctx context.Context, path string, opts ImportOptions) (ImportReport, error) {
	p, err := ReadFile(path, s.reg, opts)
	if err != nil {
		return p.Report, err
	}
	reports := []ImportReport{p.Report}
	err = s.write(ctx, []Parsed{p}, []int{0}, reports, opts.Replace)
	return reports[0], err
}

// ReadFile parses the label file at path without storing anything. It is
// the one reader of label files: import (and so train, update and
// evaluate) and the commands that label probes straight from a file
// (fields, export) all read through it, so they give an IP the same org.
func ReadFile(path string, reg *Registry, opts ImportOptions) (Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Parsed{Report: ImportReport{File: path}}, err
	}
	defer f.Close()
	return Parse(f, path, reg, opts)
}

// ResolveFile reads the label file at path and returns a resolver over its
// labels alone under the default policy: how training resolves that file
// when nothing else is stored.
func ResolveFile(path string, reg *Registry) (*Resolver, ImportReport, error) {
	p, err := ReadFile(path, reg, ImportOptions{})
	if err != nil {
		return nil, p.Report, err
	}
	r, err := NewResolver(p.Labels, Policy{})
	return r, p.Report, err
}

// Import parses r (named name in messages and for format and org
// detection) and stores the result in one transaction: either every label
// lands or none does. Re-importing the same content adds nothing.
func (s *LabelDB) Import(ctx context.Context, r io.Reader, name string, opts ImportOptions) (ImportReport, error) {
	p, err := Parse(r, name, s.reg, opts)
	if err != nil {
		return p.Report, err
	}
	reports := []ImportReport{p.Report}
	err = s.write(ctx, []Parsed{p}, []int{0}, reports, opts.Replace)
	return reports[0], err
}

// write stores parsed files in one transaction and fills in Added of
// reports[at[i]] for parsed[i]. With replace, the stored labels of every
// source the files name are removed first, once, so files that share a
// source (a publisher's folder) replace it together.
func (s *LabelDB) write(ctx context.Context, parsed []Parsed, at []int, reports []ImportReport, replace bool) error {
	var w store.LabelWrite
	if replace {
		sources := map[string]bool{}
		for _, p := range parsed {
			for _, src := range p.Report.Sources {
				sources[src] = true
			}
		}
		w.ReplaceSources = sortedKeys(sources)
	}
	now := time.Now()
	for _, p := range parsed {
		rep := p.Report
		recs, err := records(p.Labels)
		if err != nil {
			return err
		}
		ptrs := make([]store.PTRRecord, len(p.PTRs))
		for i, r := range p.PTRs {
			ptrs[i] = store.PTRRecord(r)
		}
		w.Sets = append(w.Sets, store.LabelSet{Origin: rep.File, Labels: recs, PTRs: ptrs, At: now,
			Import: &store.LabelImport{File: rep.File, Format: string(rep.Format), Sources: rep.Sources,
				Lines: rep.Lines, Labels: rep.Labels, Skipped: len(rep.Skipped)}})
	}
	added, err := s.st.WriteLabels(ctx, w)
	if err != nil {
		return err
	}
	for i := range parsed {
		reports[at[i]].Added = added[i]
	}
	return nil
}

// knownPublishers maps the folders of ../shared/realdata/scanner_ip_lists
// to the source names the unified list uses.
var knownPublishers = map[string]string{
	"openfilters":           "openfilters",
	"xorlent":               "xorlent",
	"connie-wild":           "connie-wild",
	"maltrail":              "maltrail",
	"misp":                  "misp-warninglists",
	"acknowledged_scanners": "acknowledged_scanners",
	"nict":                  "nict",
}

func defaultSource(name string) string {
	dir := filepath.Base(filepath.Dir(name))
	if src, ok := knownPublishers[dir]; ok {
		return src
	}
	return fileStem(name)
}

func fileStem(name string) string {
	base := filepath.Base(name)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// parser holds the state of one Parse call.
type parser struct {
	name   string
	reg    *Registry
	opts   ImportOptions
	out    Parsed
	srcSet map[string]bool
}

// Parse reads one input file without storing anything.
func Parse(r io.Reader, name string, reg *Registry, opts ImportOptions) (Parsed, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	p := &parser{name: name, reg: reg, opts: opts, srcSet: map[string]bool{}}
	p.out.Report.File = name
	if opts.Format != FormatAuto && !slices.Contains(Formats, opts.Format) {
		return p.out, fmt.Errorf("%s: unknown format %q", name, opts.Format)
	}
	if opts.Org != "" && reg.Canonical(opts.Org) == "" {
		return p.out, fmt.Errorf("%s: --org %q names no organisation", name, opts.Org)
	}
	if !opts.From.IsZero() && !opts.Until.IsZero() && !opts.From.Before(opts.Until) {
		return p.out, fmt.Errorf("%s: validity from %s is not before until %s", name, opts.From.Format(time.DateOnly), opts.Until.Format(time.DateOnly))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if (opts.Format == FormatAuto || opts.Format == FormatMISP) && startsWithJSONObject(br) {
		if err := p.parseWarninglist(br); err != nil {
			return p.out, err
		}
		return p.finish()
	}
	var handle func(n int, line string) error
	err := eachLine(br, func(n int, line string) error {
		if handle == nil {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || isComment(trimmed) {
				return nil
			}
			h, consumed, err := p.start(n, trimmed)
			if err != nil {
				return err
			}
			handle = h
			if consumed {
				return nil
			}
		}
		return handle(n, line)
	}, func(n int) {
		p.skip(n, fmt.Sprintf("line longer than %d bytes", MaxLineBytes))
	})
	if err != nil {
		return p.out, err
	}
	return p.finish()
}

// finish checks what Parse read and completes its report.
func (p *parser) finish() (Parsed, error) {
	name, opts := p.name, p.opts
	if opts.Strict && len(p.out.Report.Skipped) > 0 {
		return p.out, fmt.Errorf("%v (strict import: nothing stored)", p.out.Report.Skipped[0])
	}
	if len(p.out.Labels) > maxLabels {
		return p.out, fmt.Errorf("%s: more than %d labels in one file", name, maxLabels)
	}
	rep := &p.out.Report
	rep.Labels = len(p.out.Labels)
	rep.PTRs = len(p.out.PTRs)
	for s := range p.srcSet {
		rep.Sources = append(rep.Sources, s)
	}
	slices.Sort(rep.Sources)
	if rep.Format == FormatList && rep.Labels == 0 && rep.Unattributed > 0 {
		return p.out, fmt.Errorf("%s: cannot tell the organisation of this list: pass --org", name)
	}
	if rep.Labels == 0 && rep.PTRs == 0 && rep.Lines > 0 && rep.Unattributed == 0 && len(rep.Skipped) >= rep.Lines {
		return p.out, fmt.Errorf("%s: none of its %d data lines holds a label (%v); not a %s file? pass --format", name, rep.Lines,
			rep.Skipped[0], rep.Format)
	}
	if rep.Labels == 0 && rep.PTRs == 0 && rep.Lines > 0 && rep.Note == "" {
		rep.Note = fmt.Sprintf("no labels from %d data lines", rep.Lines)
	}
	return p.out, nil
}

func isComment(s string) bool {
	return strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";") || strings.HasPrefix(s, "//")
}

func (p *parser) skip(n int, msg string) {
	p.out.Report.Skipped = append(p.out.Report.Skipped, LineError{File: p.name, Line: n, Msg: msg})
}

// columns maps lower-cased header names to their index.
type columns map[string]int

func (c columns) find(names ...string) int {
	for _, n := range names {
		if i, ok := c[n]; ok {
			return i
		}
	}
	return -1
}

var (
	ipColumns    = []string{"ip", "ip_address", "ipaddress", "address", "addr", "src_ip", "saddr", "cidr", "network", "prefix", "value"}
	orgColumns   = []string{"org", "label", "organisation", "organization", "org_name", "owner", "scanner"}
	ptrColumns   = []string{"ptr", "rdns", "hostname", "host", "name", "domain"}
	fromColumns  = []string{"valid_from", "from", "first_seen", "since"}
	untilColumns = []string{"valid_until", "until", "last_seen", "expires"}
)

// start decides the format from the first meaningful line and returns the
// handler for the data lines; consumed says the line was a header.
func (p *parser) start(n int, first string) (func(int, string) error, bool, error) {
	format := p.opts.Format
	var cols columns
	isHeader := false
	// A data line starts with an address: a list line (maybe with a
	// comment that holds commas) or a header-less ip,org record.
	value, _, _ := strings.Cut(first, "#")
	startsWithAddr := false
	if tokens := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }); len(tokens) > 0 {
		_, err := ParseNet(tokens[0])
		startsWithAddr = err == nil
	}
	if fields, err := splitCSV(first); err == nil && len(fields) > 1 && !startsWithAddr {
		cols = columns{}
		for i, f := range fields {
			cols[strings.ToLower(strings.TrimSpace(f))] = i
		}
		isHeader = true
	}
	if format == FormatAuto {
		format = detect(cols, value)
		if format == FormatAuto {
			return nil, false, fmt.Errorf("%s:%d: cannot detect the format (header %q); pass --format", p.name, n, first)
		}
	}
	p.out.Report.Format = format
	if format == FormatList {
		return p.listLine, false, nil
	}
	if !isHeader {
		if format != FormatCSV && format != FormatPTR {
			return nil, false, fmt.Errorf("%s:%d: format %s needs a header line", p.name, n, format)
		}
		// Header-less ip,org (or ip,ptr).
		cols = columns{"ip": 0, "org": 1, "ptr": 1}
	}
	h, err := p.csvHandler(format, cols)
	if err != nil {
		return nil, false, fmt.Errorf("%s:%d: %w", p.name, n, err)
	}
	return h, isHeader, nil
}

// detect names the format from the header columns, or for a header-less
// file from its first data line (without its # comment).
func detect(cols columns, firstValue string) Format {
	if cols == nil {
		if fields, err := splitCSV(strings.TrimSpace(firstValue)); err == nil && len(fields) > 1 {
			return FormatCSV
		}
		return FormatList
	}
	has := func(names ...string) bool { return cols.find(names...) >= 0 }
	switch {
	case has("network") && has("org") && has("source") && has("source_label"):
		return FormatUnified
	case has("period") && has("ip") && has("scanner"):
		return FormatNICT
	case has("scanner name"):
		return FormatNICTOrgs
	case has("list") && has("value"):
		return FormatMISP
	case has("cidr") && has("org_domain"):
		return FormatAcknowledged
	case has("ip") && has("org_derived"):
		return FormatMaltrail
	case has(ipColumns...) && has(orgColumns...):
		return FormatCSV
	case has(ipColumns...) && has(ptrColumns...):
		return FormatPTR
	}
	return FormatAuto
}

// csvRow describes how to turn one CSV record into a label.
type csvRow struct {
	ip, org, src, from, until, ptr, period, comment int
	altOrg                                          int // source_label of the unified list
	minFields                                       int
}

func (p *parser) csvHandler(format Format, cols columns) (func(int, string) error, error) {
	row := csvRow{ip: -1, org: -1, src: -1, from: -1, until: -1, ptr: -1, period: -1, comment: -1, altOrg: -1}
	need := func(names ...string) (int, error) {
		if i := cols.find(names...); i >= 0 {
			return i, nil
		}
		return -1, fmt.Errorf("format %s: no %s column", format, strings.Join(names, "/"))
	}
	var err error
	switch format {
	case FormatNICTOrgs:
		p.out.Report.Note = "NICT scanorg is an organisation catalogue without addresses; nothing to label"
		return func(int, string) error { p.out.Report.Lines++; return nil }, nil
	case FormatUnified:
		if row.ip, err = need("network"); err != nil {
			return nil, err
		}
		row.org, row.src, row.altOrg = cols.find("org"), cols.find("source"), cols.find("source_label")
		if row.org < 0 || row.src < 0 {
			return nil, errors.New("format unified: needs org and source columns")
		}
	case FormatNICT:
		row.ip, row.org, row.period = cols.find("ip"), cols.find("scanner"), cols.find("period")
		if row.ip < 0 || row.org < 0 || row.period < 0 {
			return nil, errors.New("format nict: needs period, ip and scanner columns")
		}
	case FormatMISP:
		row.ip, row.org = cols.find("value"), cols.find("list")
		if row.ip < 0 || row.org < 0 {
			return nil, errors.New("format misp: needs list and value columns")
		}
	case FormatAcknowledged:
		row.ip, row.org = cols.find("cidr"), cols.find("org_domain")
		if row.ip < 0 || row.org < 0 {
			return nil, errors.New("format acknowledged: needs cidr and org_domain columns")
		}
	case FormatMaltrail:
		row.ip, row.org, row.comment = cols.find("ip"), cols.find("org_derived"), cols.find("comment")
		if row.ip < 0 || row.org < 0 {
			return nil, errors.New("format maltrail: needs ip and org_derived columns")
		}
	case FormatPTR:
		if row.ip, err = need(ipColumns...); err != nil {
			return nil, err
		}
		if row.ptr, err = need(ptrColumns...); err != nil {
			return nil, err
		}
	case FormatCSV:
		if row.ip, err = need(ipColumns...); err != nil {
			return nil, err
		}
		if row.org, err = need(orgColumns...); err != nil {
			return nil, err
		}
		row.src, row.from, row.until = cols.find("source"), cols.find(fromColumns...), cols.find(untilColumns...)
	}
	for _, i := range []int{row.ip, row.org, row.src, row.period, row.ptr} {
		row.minFields = max(row.minFields, i+1)
	}
	return func(n int, line string) error { return p.csvLine(format, row, n, line) }, nil
}

var nictSource = regexp.MustCompile(`^nict-(\d{4}(?:_?Q[1-4]|_?[1-4]Q)?)$`)

func (p *parser) csvLine(format Format, row csvRow, n int, line string) error {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || isComment(trimmed) {
		return nil
	}
	p.out.Report.Lines++
	fields, err := splitCSV(line)
	if err != nil {
		p.skip(n, err.Error())
		return nil
	}
	if len(fields) < row.minFields {
		p.skip(n, fmt.Sprintf("%d fields, want at least %d", len(fields), row.minFields))
		return nil
	}
	field := func(i int) string {
		if i < 0 || i >= len(fields) {
			return ""
		}
		return strings.TrimSpace(fields[i])
	}
	pfx, err := ParseNet(field(row.ip))
	if err != nil {
		p.skip(n, err.Error())
		return nil
	}
	if format == FormatPTR {
		name := strings.TrimSuffix(strings.ToLower(field(row.ptr)), ".")
		if name == "" {
			p.out.Report.Unattributed++
			return nil
		}
		if pfx.Bits() != pfx.Addr().BitLen() {
			p.skip(n, fmt.Sprintf("a PTR record needs one address, not %s", pfx))
			return nil
		}
		if !validHostname(name) {
			p.skip(n, fmt.Sprintf("%q is not a host name", field(row.ptr)))
			return nil
		}
		p.out.PTRs = append(p.out.PTRs, PTRRecord{Addr: pfx.Addr(), Name: name})
		org := ""
		if p.opts.Org != "" {
			org = p.reg.Canonical(p.opts.Org)
		} else if o, ok := p.reg.OrgForPTR(name); ok {
			org = o
		}
		if org == "" {
			p.out.Report.Unattributed++
			return nil
		}
		p.emit(Label{Prefix: pfx, Org: org, Source: p.sourceOr("rdns"), Note: name})
		return nil
	}
	l := Label{Prefix: pfx}
	rawOrg := field(row.org)
	if p.opts.Org != "" {
		rawOrg = p.opts.Org
	}
	l.Org = p.reg.Canonical(rawOrg)
	if l.Org == "" && row.altOrg >= 0 && p.opts.Org == "" {
		l.Org = p.reg.Canonical(field(row.altOrg))
	}
	if l.Org == "" && row.comment >= 0 {
		if o, ok := p.reg.OrgForPTR(field(row.comment)); ok {
			l.Org = o
		}
	}
	if l.Org == "" {
		p.out.Report.Unattributed++
		return nil
	}
	switch format {
	case FormatUnified:
		src := field(row.src)
		if src == "" {
			p.skip(n, "empty source")
			return nil
		}
		l.Source = p.sourceOr(src)
		if m := nictSource.FindStringSubmatch(src); m != nil {
			l.ValidFrom, l.ValidUntil, _ = parsePeriod(m[1])
			l.Note = "period " + m[1]
		}
		if lbl := field(row.altOrg); lbl != "" && lbl != l.Org {
			l.Note = strings.TrimSpace(l.Note + " " + lbl)
		}
	case FormatNICT:
		period := field(row.period)
		from, until, ok := parsePeriod(period)
		if !ok {
			p.skip(n, fmt.Sprintf("period %q: want YYYY or YYYY_nQ", period))
			return nil
		}
		l.Source, l.ValidFrom, l.ValidUntil = p.sourceOr(defaultSource(p.name)), from, until
		l.Note = "period " + period + "; " + field(row.org)
	case FormatCSV:
		l.Source = p.sourceOr(field(row.src))
		if l.Source == "" {
			l.Source = defaultSource(p.name)
		}
		if v := field(row.from); v != "" {
			t, err := ParseDate(v, false)
			if err != nil {
				p.skip(n, err.Error())
				return nil
			}
			l.ValidFrom = t
		}
		if v := field(row.until); v != "" {
			t, err := ParseDate(v, true)
			if err != nil {
				p.skip(n, err.Error())
				return nil
			}
			l.ValidUntil = t
		}
		if !l.ValidFrom.IsZero() && !l.ValidUntil.IsZero() && !l.ValidFrom.Before(l.ValidUntil) {
			p.skip(n, "valid_from is not before valid_until")
			return nil
		}
	default:
		l.Source = p.sourceOr(defaultSource(p.name))
		if row.org >= 0 && field(row.org) != l.Org {
			l.Note = field(row.org)
		}
		if row.comment >= 0 && field(row.comment) != "" {
			l.Note = strings.TrimSpace(l.Note + " " + field(row.comment))
		}
	}
	p.emit(l)
	return nil
}

func (p *parser) sourceOr(s string) string {
	if p.opts.Source != "" {
		return p.opts.Source
	}
	return s
}

func (p *parser) emit(l Label) {
	if !p.opts.From.IsZero() {
		l.ValidFrom = p.opts.From
	}
	if !p.opts.Until.IsZero() {
		l.ValidUntil = p.opts.Until
	}
	p.srcSet[l.Source] = true
	p.out.Labels = append(p.out.Labels, l)
}

// fileOrg is the org a plain list's file name names, if the registry knows
// it (censys_v4.txt, internet-measurement.txt).
func (p *parser) fileOrg() string {
	if p.opts.Org != "" {
		return p.reg.Canonical(p.opts.Org)
	}
	stem := fileStem(p.name)
	if p.reg.Known(stem) {
		return p.reg.Canonical(stem)
	}
	return ""
}

func (p *parser) listLine(n int, line string) error {
	value, comment, _ := strings.Cut(line, "#")
	value = strings.TrimSpace(value)
	if value == "" || isComment(value) {
		return nil
	}
	p.out.Report.Lines++
	tokens := strings.Fields(value)
	if len(tokens) > 1 {
		p.skip(n, fmt.Sprintf("unexpected %q after the address", tokens[1]))
		return nil
	}
	pfx, err := ParseNet(tokens[0])
	if err != nil {
		p.skip(n, err.Error())
		return nil
	}
	org := p.fileOrg()
	comment = strings.TrimSpace(comment)
	if p.opts.Org == "" && comment != "" {
		// An inline comment is the rDNS name in maltrail-style lists; it
		// names the org more precisely than a file name can.
		if o, ok := p.reg.OrgForPTR(strings.Fields(comment)[0]); ok {
			org = o
		}
	}
	if org == "" {
		p.out.Report.Unattributed++
		return nil
	}
	p.emit(Label{Prefix: pfx, Org: org, Source: p.sourceOr(defaultSource(p.name)), Note: comment})
	return nil
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$`)

func validHostname(s string) bool { return len(s) <= 253 && hostnameRE.MatchString(s) }

// ImportFiles parses every file first and stores them all in one
// transaction, so a directory import lands whole or not at all. Under a
// directory, files that hold no address at all (notes, reports) are left
// out with a note instead of failing the import; a named file is never
// left out silently.
func (s *LabelDB) ImportFiles(ctx context.Context, paths []string, opts ImportOptions) ([]ImportReport, error) {
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	var reports []ImportReport
	var parsed []Parsed
	var at []int
	for _, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			return reports, err
		}
		p, err := Parse(fh, f.path, s.reg, opts)
		fh.Close()
		if f.fromDir && p.Report.Labels == 0 && p.Report.Unattributed == 0 && len(p.PTRs) == 0 &&
			(err != nil || p.Report.Format == FormatList) {
			p.Report.Note = "no addresses: not a label file, left out"
			p.Report.Skipped = nil
			reports = append(reports, p.Report)
			continue
		}
		if err != nil {
			return append(reports, p.Report), err
		}
		at = append(at, len(reports))
		parsed = append(parsed, p)
		reports = append(reports, p.Report)
	}
	return reports, s.write(ctx, parsed, at, reports, opts.Replace)
}

type inputFile struct {
	path    string
	fromDir bool
}

// labelFileExts are the file kinds a directory import reads.
var labelFileExts = map[string]bool{".txt": true, ".csv": true, ".lst": true, ".list": true, ".netset": true, ".ipset": true}

func expandPaths(paths []string) ([]inputFile, error) {
	var out []inputFile
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, inputFile{path: p})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() && labelFileExts[strings.ToLower(filepath.Ext(path))] {
				out = append(out, inputFile{path: path, fromDir: true})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
