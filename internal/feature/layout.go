package feature

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// LayoutFormatVersion is written into every saved layout; Load refuses a
// layout from a newer format. Version 2 added NamesVersion (fields renamed
// by their service since version 1 would otherwise be read by an older
// binary under their old meaning) and FieldLayout.Identity (which an older
// binary would ignore, encoding the sensor's address as bytes).
const LayoutFormatVersion = 2

// Mode is the training mode a layout is built for.
type Mode string

const (
	// ModeFull (ScannerGrouper-f): the smallest square that fits the first
	// vocabulary.
	ModeFull Mode = "full"
	// ModeIncremental (ScannerGrouper-i): a fixed 32×32 canvas with room for
	// the vocabulary to grow week after week.
	ModeIncremental Mode = "incremental"
)

// Encoding defaults (paper App. F).
const (
	DefaultMinCount  = 10
	DefaultMaxPixels = 1024
	// IncrementalSide is the canvas side in incremental mode, unless the
	// service fixes its own (probe.Encoding.Side).
	IncrementalSide = 32
	// maxSide bounds a loaded layout's canvas (memory of every encoded image).
	maxSide = 256
)

// LayoutConfig says how BuildLayout lays the canvas out.
type LayoutConfig struct {
	// Fields are the encoded fields (from Select). Empty: every field seen
	// in the probes, and for DNS every DNS field.
	Fields []string
	// Mode picks the canvas size; empty means ModeFull.
	Mode Mode
	// MinCount drops option values seen in fewer probes; 0 means
	// DefaultMinCount, 1 keeps every value.
	MinCount int
	// MaxPixels caps the used pixels, keeping the most frequent options; 0
	// means DefaultMaxPixels.
	MaxPixels int
	// Side forces the canvas side; 0 takes the service's fixed side
	// (probe.Encoding.Side), or else derives it from Mode.
	Side int
}

// MaxPending bounds Layout.Pending.
const MaxPending = 4096

// PendingOption is an option value still below the frequency filter.
type PendingOption struct {
	Field string `json:"field"`
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Option is one option value and the pixel that lights when a probe has it.
type Option struct {
	Value string `json:"value"`
	Pixel int    `json:"pixel"`
	// Count is how many probes carried the value when it was added (build or
	// extension); it explains the choice, encoding ignores it.
	Count int `json:"count"`
	// Generation is the layout generation that added the value (0 = build).
	Generation int `json:"generation"`
}

// FieldLayout is where one field lives on the canvas.
type FieldLayout struct {
	Name string     `json:"name"`
	Kind probe.Kind `json:"-"`
	// KindName is Kind as text in the saved form.
	KindName  string    `json:"kind"`
	Tokenizer Tokenizer `json:"tokenizer"`
	// Identity marks a string field that may carry the sensor's own
	// address: it is encoded as a class of value (see TokenSensorIP). Saved
	// with the layout, so a layout built before a field was marked keeps
	// encoding its bytes, as its model learnt them.
	Identity probe.Identity `json:"identity,omitempty"`
	// Offset and Width place a string (bytes) or int (bits, most
	// significant first) field.
	Offset int `json:"offset"`
	Width  int `json:"width"`
	// Options of an option field, in the order their pixels were given.
	Options []Option `json:"options,omitempty"`
}

// Layout is the versioned, append-only map from probe fields to pixels of a
// Side×Side single-channel image. Encode is safe for concurrent use; Extend
// must not run concurrently with anything else.
type Layout struct {
	FormatVersion int    `json:"format_version"`
	Service       string `json:"service"`
	Mode          Mode   `json:"mode"`
	Side          int    `json:"side"`
	MinCount      int    `json:"min_count"`
	MaxPixels     int    `json:"max_pixels"`
	// NamesVersion is how many of the service's field renamings
	// (probe.Encoding.Renames) the field names already follow; Load applies
	// the rest, so a layout saved before a renaming encodes today's probes
	// into the same pixels.
	NamesVersion int `json:"names_version,omitempty"`
	// Generation counts the extensions that added pixels.
	Generation int `json:"generation"`
	// Used is the number of pixels given out; the next option gets pixel Used.
	Used int `json:"used"`
	// Overflow counts option values that passed the frequency filter but
	// found no room (cap or canvas full).
	Overflow int           `json:"overflow"`
	Fields   []FieldLayout `json:"fields"`
	// Pending are option values seen in fewer than MinCount probes so far,
	// with their counts: Extend adds each week's counts and gives a value a
	// pixel once its total reaches MinCount, so a value seen a few times
	// every week is not dropped forever. Only the MaxPending most frequent
	// are kept, which bounds the file whatever the traffic.
	Pending []PendingOption `json:"pending,omitempty"`

	fieldIndex map[string]int
	options    []map[string]int32 // per field: option value → pixel
	naPixel    []int32            // per field: pixel of the N/A option or -1
}

// BuildLayout lays out the fields of cfg for service from the option values
// seen in probes (docs/paper-faithful.md §2.2, §2.7): fields in alphabetical order,
// row-major; each option field's values sorted by (probe count desc, value
// asc) after dropping values seen in fewer than MinCount probes; if options
// and fixed pixels exceed MaxPixels, the most frequent options are kept.
func BuildLayout(service string, probes []probe.Probe, cfg LayoutConfig) (*Layout, error) {
	return BuildLayoutWeighted(service, SliceSource(probes), nil, cfg)
}

// BuildLayoutWeighted is BuildLayout where probes[i] stands for weights[i]
// identical probes (nil: one each): the layout of the expanded probes.
func BuildLayoutWeighted(service string, probes Source, weights []int, cfg LayoutConfig) (*Layout, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeFull
	}
	if cfg.Mode != ModeFull && cfg.Mode != ModeIncremental {
		return nil, fmt.Errorf("feature: unknown layout mode %q", cfg.Mode)
	}
	if cfg.MinCount <= 0 {
		cfg.MinCount = DefaultMinCount
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = DefaultMaxPixels
	}
	enc := probe.EncodingOf(service)
	side := cfg.Side
	switch {
	case side > 0:
	case enc.Side > 0:
		side = enc.Side
	case cfg.Mode == ModeIncremental:
		side = IncrementalSide
	}
	if side > maxSide {
		return nil, fmt.Errorf("feature: canvas side %d exceeds %d", side, maxSide)
	}
	capacity := cfg.MaxPixels
	if side > 0 {
		capacity = min(capacity, side*side)
	}

	names := cfg.Fields
	if len(names) == 0 {
		names = fieldNamesSeen(enc, probes)
	}
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return nil, errors.New("feature: no fields to lay out")
	}

	l := &Layout{
		FormatVersion: LayoutFormatVersion,
		Service:       service,
		Mode:          cfg.Mode,
		MinCount:      cfg.MinCount,
		MaxPixels:     cfg.MaxPixels,
		NamesVersion:  len(enc.Renames),
	}
	fixed := 0
	for _, name := range names {
		r := enc.RuleFor(name)
		fl := FieldLayout{Name: name, Kind: r.Kind, KindName: r.Kind.String(), Tokenizer: r.Tokenizer}
		if r.Kind != probe.KindOption {
			fl.Width = r.Width
			fixed += r.Width
		}
		if r.Kind == probe.KindString {
			fl.Identity = r.Identity
		}
		l.Fields = append(l.Fields, fl)
	}
	if fixed > capacity {
		return nil, fmt.Errorf("feature: string and int fields need %d pixels, more than the %d available", fixed, capacity)
	}
	l.reindex()

	cands := l.promote(l.countOptions(probes, weights))
	kept, overflow := pickByFrequency(cands, capacity-fixed)
	l.Overflow = overflow
	byField := make([][]candidate, len(l.Fields))
	for _, c := range kept {
		byField[c.field] = append(byField[c.field], c)
	}
	cursor := 0
	for i := range l.Fields {
		f := &l.Fields[i]
		if f.Kind != probe.KindOption {
			f.Offset = cursor
			cursor += f.Width
			continue
		}
		slices.SortFunc(byField[i], byFrequency)
		for _, c := range byField[i] {
			f.Options = append(f.Options, Option{Value: c.value, Pixel: cursor, Count: c.count})
			cursor++
		}
	}
	l.Used = cursor
	if side == 0 {
		side = max(1, int(math.Ceil(math.Sqrt(float64(cursor)))))
		for side*side < cursor { // guard against float rounding
			side++
		}
	}
	l.Side = side
	l.reindex()
	return l, nil
}

// fieldNamesSeen lists every field name in probes, and the service's fixed
// fields (the DNS header) whether seen or not.
func fieldNamesSeen(enc probe.Encoding, probes Source) []string {
	seen := map[string]bool{}
	for _, name := range enc.Fixed {
		seen[name] = true
	}
	for i := range probes.N {
		for _, f := range probes.At(i).Fields {
			seen[f.Name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	return names
}

type candidate struct {
	field int
	value string
	count int
}

// byFrequency orders options inside a field: most frequent first, then by value.
func byFrequency(a, b candidate) int {
	if c := cmp.Compare(b.count, a.count); c != 0 {
		return c
	}
	return cmp.Compare(a.value, b.value)
}

// pickByFrequency keeps at most room candidates, the most frequent ones
// (ties: field order, then value), and says how many were left out.
func pickByFrequency(cands []candidate, room int) ([]candidate, int) {
	if len(cands) <= room {
		return cands, 0
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		if c := cmp.Compare(a.field, b.field); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})
	room = max(room, 0)
	return cands[:room], len(cands) - room
}

// countOptions counts, per option field, in how many probes each value
// occurs, in (field, value) order; probes[i] counts weights[i] times (nil:
// once).
func (l *Layout) countOptions(probes Source, weights []int) []candidate {
	type key struct {
		field int
		value string
	}
	counts := map[key]int{}
	present := make([]bool, len(l.Fields))
	var inProbe []key
	for pi := range probes.N {
		clear(present)
		inProbe = inProbe[:0]
		for _, pf := range probes.At(pi).Fields {
			fi, ok := l.fieldIndex[pf.Name]
			if !ok || l.Fields[fi].Kind != probe.KindOption {
				continue
			}
			present[fi] = true
			walkTokens(l.Fields[fi].Tokenizer, pf, func(tok string) {
				inProbe = append(inProbe, key{fi, tok})
			})
		}
		for fi, f := range l.Fields {
			if f.Kind == probe.KindOption && !present[fi] {
				inProbe = append(inProbe, key{fi, probe.NotAvailable})
			}
		}
		// A header sent twice, or an item listed twice, counts once per probe.
		slices.SortFunc(inProbe, func(a, b key) int {
			if c := cmp.Compare(a.field, b.field); c != 0 {
				return c
			}
			return cmp.Compare(a.value, b.value)
		})
		w := 1
		if weights != nil {
			w = weights[pi]
		}
		for _, k := range slices.Compact(inProbe) {
			counts[k] += w
		}
	}
	out := make([]candidate, 0, len(counts))
	for k, n := range counts {
		out = append(out, candidate{field: k.field, value: k.value, count: n})
	}
	// Map order must not leak into the layout.
	slices.SortFunc(out, byFieldValue)
	return out
}

func byFieldValue(a, b candidate) int {
	if c := cmp.Compare(a.field, b.field); c != 0 {
		return c
	}
	return cmp.Compare(a.value, b.value)
}

// promote adds the pending counts to counts of values not in the layout,
// returns those that reach MinCount and keeps the rest pending.
func (l *Layout) promote(counts []candidate) []candidate {
	total := map[candidate]int{} // count field unused in the key
	for _, p := range l.Pending {
		fi, ok := l.fieldIndex[p.Field]
		if !ok {
			continue
		}
		total[candidate{field: fi, value: p.Value}] += p.Count
	}
	for _, c := range counts {
		if _, have := l.options[c.field][c.value]; have {
			continue
		}
		total[candidate{field: c.field, value: c.value}] += c.count
	}
	var ready, waiting []candidate
	for k, n := range total {
		k.count = n
		if n >= l.MinCount {
			ready = append(ready, k)
		} else {
			waiting = append(waiting, k)
		}
	}
	slices.SortFunc(ready, byFieldValue)
	slices.SortFunc(waiting, func(a, b candidate) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return byFieldValue(a, b)
	})
	waiting = waiting[:min(len(waiting), MaxPending)]
	slices.SortFunc(waiting, byFieldValue)
	l.Pending = l.Pending[:0]
	for _, w := range waiting {
		l.Pending = append(l.Pending, PendingOption{Field: l.Fields[w.field].Name, Value: w.value, Count: w.count})
	}
	if len(l.Pending) == 0 {
		l.Pending = nil
	}
	return ready
}

// reindex rebuilds the lookup tables Encode uses.
func (l *Layout) reindex() {
	l.fieldIndex = make(map[string]int, len(l.Fields))
	l.options = make([]map[string]int32, len(l.Fields))
	l.naPixel = make([]int32, len(l.Fields))
	for i := range l.Fields {
		f := &l.Fields[i]
		l.fieldIndex[f.Name] = i
		l.naPixel[i] = -1
		if f.Kind != probe.KindOption {
			continue
		}
		m := make(map[string]int32, len(f.Options))
		for _, o := range f.Options {
			m[o.Value] = int32(o.Pixel)
			if o.Value == probe.NotAvailable {
				l.naPixel[i] = int32(o.Pixel)
			}
		}
		l.options[i] = m
	}
}

// Pixels is the number of pixels of an encoded image (Side×Side).
func (l *Layout) Pixels() int { return l.Side * l.Side }

// FieldNames returns the encoded fields in canvas order.
func (l *Layout) FieldNames() []string {
	out := make([]string, len(l.Fields))
	for i, f := range l.Fields {
		out[i] = f.Name
	}
	return out
}

// Extend appends the option values of probes (a new week) that are not in
// the layout yet and pass the frequency filter, counting their earlier
// sightings kept in Pending, after the last used pixel. Existing pixels never move and the field set never changes, so a
// model trained on earlier images reads new images the same way. Values that
// find no room (canvas or MaxPixels full) are counted in Overflow. It
// returns how many pixels were added.
func (l *Layout) Extend(probes []probe.Probe) (added int) {
	return l.ExtendWeighted(SliceSource(probes), nil)
}

// ExtendWeighted is Extend where probes[i] stands for weights[i] identical
// probes (nil: one each).
func (l *Layout) ExtendWeighted(probes Source, weights []int) (added int) {
	room := min(l.Side*l.Side, l.MaxPixels) - l.Used
	cands := l.promote(l.countOptions(probes, weights))
	kept, overflow := pickByFrequency(cands, room)
	l.Overflow += overflow
	if len(kept) == 0 {
		return 0
	}
	l.Generation++
	slices.SortFunc(kept, func(a, b candidate) int {
		if c := cmp.Compare(a.field, b.field); c != 0 {
			return c
		}
		return byFrequency(a, b)
	})
	for _, c := range kept {
		f := &l.Fields[c.field]
		f.Options = append(f.Options, Option{Value: c.value, Pixel: l.Used, Count: c.count, Generation: l.Generation})
		l.Used++
	}
	l.reindex()
	return len(kept)
}

// PixelInfo says what one pixel means.
type PixelInfo struct {
	Field string `json:"field,omitempty"` // "" for an unused pixel
	Kind  string `json:"kind,omitempty"`
	// Option is the option value of an option pixel.
	Option string `json:"option,omitempty"`
	// Index is the byte (string) or bit (int, 0 = most significant) of the
	// pixel inside its field.
	Index int `json:"index"`
}

func (p PixelInfo) String() string {
	switch p.Kind {
	case "":
		return "unused"
	case probe.KindOption.String():
		return fmt.Sprintf("%s=%q", p.Field, p.Option)
	case probe.KindInt.String():
		return fmt.Sprintf("%s bit %d", p.Field, p.Index)
	}
	return fmt.Sprintf("%s[%d]", p.Field, p.Index)
}

// Describe returns the meaning of every pixel of the canvas.
func (l *Layout) Describe() []PixelInfo {
	out := make([]PixelInfo, l.Side*l.Side)
	for _, f := range l.Fields {
		kind := f.Kind.String()
		if f.Kind == probe.KindOption {
			for _, o := range f.Options {
				out[o.Pixel] = PixelInfo{Field: f.Name, Kind: kind, Option: o.Value}
			}
			continue
		}
		for j := range f.Width {
			out[f.Offset+j] = PixelInfo{Field: f.Name, Kind: kind, Index: j}
		}
	}
	return out
}

// Save writes the layout as indented JSON.
func (l *Layout) Save(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(l)
}

// SaveFile writes the layout to path atomically (atomicfile), so a crash
// never leaves half a layout next to a model.
func (l *Layout) SaveFile(path string) error {
	if err := atomicfile.Write(path, l.Save); err != nil {
		return fmt.Errorf("feature: save layout: %w", err)
	}
	return nil
}

// maxLayoutBytes bounds what Load reads: a full 256×256 canvas of long
// option values stays far below it.
const maxLayoutBytes = 64 << 20

// Load reads a layout written by Save and checks it: known format version,
// kinds and tokenizers; every pixel inside the canvas and used once.
func Load(r io.Reader) (*Layout, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxLayoutBytes+1))
	if err != nil {
		return nil, fmt.Errorf("feature: load layout: %w", err)
	}
	if len(data) > maxLayoutBytes {
		return nil, fmt.Errorf("feature: load layout: larger than %d bytes", maxLayoutBytes)
	}
	var l Layout
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("feature: load layout: %w", err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("feature: load layout: %w", err)
	}
	if err := l.rename(); err != nil {
		return nil, fmt.Errorf("feature: load layout: %w", err)
	}
	l.reindex()
	return &l, nil
}

// rename brings the field names of a loaded layout up to date with its
// service's renamings, and the layout to the current format, so that
// saving it again does not rename twice. Only names change: offsets,
// widths, options and pixels stay, so every probe encodes into the pixels
// it did under its old names.
func (l *Layout) rename() error {
	renames := probe.EncodingOf(l.Service).Renames
	if l.NamesVersion > len(renames) {
		return fmt.Errorf("field names version %d of %s is newer than this binary knows (%d)", l.NamesVersion, l.Service, len(renames))
	}
	for _, r := range renames[l.NamesVersion:] {
		for i := range l.Fields {
			if n, ok := r[l.Fields[i].Name]; ok {
				l.Fields[i].Name = n
			}
		}
		for i := range l.Pending {
			if n, ok := r[l.Pending[i].Field]; ok {
				l.Pending[i].Field = n
			}
		}
	}
	l.NamesVersion = len(renames)
	l.FormatVersion = LayoutFormatVersion
	// A renaming onto a name the layout already holds would merge two
	// fields: refuse rather than encode wrongly.
	seen := map[string]bool{}
	for _, f := range l.Fields {
		if seen[f.Name] {
			return fmt.Errorf("renamed field %q listed twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// LoadFile reads a layout from path.
func LoadFile(path string) (*Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("feature: load layout: %w", err)
	}
	defer f.Close()
	l, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return l, nil
}

func parseKind(s string) (probe.Kind, error) {
	for _, k := range []probe.Kind{probe.KindString, probe.KindOption, probe.KindInt} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown field kind %q", s)
}

func (l *Layout) validate() error {
	if l.FormatVersion < 1 || l.FormatVersion > LayoutFormatVersion {
		return fmt.Errorf("format version %d not supported (this binary reads up to %d)", l.FormatVersion, LayoutFormatVersion)
	}
	if l.Side < 1 || l.Side > maxSide {
		return fmt.Errorf("canvas side %d outside 1..%d", l.Side, maxSide)
	}
	if l.Mode != ModeFull && l.Mode != ModeIncremental {
		return fmt.Errorf("unknown mode %q", l.Mode)
	}
	n := l.Side * l.Side
	if l.Used < 0 || l.Used > n {
		return fmt.Errorf("used pixels %d outside the %d×%d canvas", l.Used, l.Side, l.Side)
	}
	if l.MinCount < 1 || l.MaxPixels < 1 {
		return errors.New("min_count and max_pixels must be positive")
	}
	taken := make([]bool, n)
	take := func(px int, what string) error {
		if px < 0 || px >= l.Used {
			return fmt.Errorf("%s: pixel %d outside the %d used pixels", what, px, l.Used)
		}
		if taken[px] {
			return fmt.Errorf("%s: pixel %d used twice", what, px)
		}
		taken[px] = true
		return nil
	}
	names := map[string]bool{}
	for i := range l.Fields {
		f := &l.Fields[i]
		if names[f.Name] {
			return fmt.Errorf("field %q listed twice", f.Name)
		}
		names[f.Name] = true
		k, err := parseKind(f.KindName)
		if err != nil {
			return fmt.Errorf("field %q: %w", f.Name, err)
		}
		f.Kind = k
		if f.Identity != probe.IdentityNone && k != probe.KindString {
			return fmt.Errorf("field %q: identity %v on a %v field", f.Name, f.Identity, k)
		}
		switch k {
		case probe.KindOption:
			values := map[string]bool{}
			for _, o := range f.Options {
				if values[o.Value] {
					return fmt.Errorf("field %q: option %q listed twice", f.Name, o.Value)
				}
				values[o.Value] = true
				if err := take(o.Pixel, f.Name); err != nil {
					return err
				}
			}
		default:
			if f.Width < 1 || (k == probe.KindInt && f.Width > 64) || f.Width > n {
				return fmt.Errorf("field %q: width %d not allowed", f.Name, f.Width)
			}
			for j := range f.Width {
				if err := take(f.Offset+j, f.Name); err != nil {
					return err
				}
			}
		}
	}
	if len(l.Pending) > MaxPending {
		return fmt.Errorf("%d pending options, at most %d", len(l.Pending), MaxPending)
	}
	for _, p := range l.Pending {
		fi := slices.IndexFunc(l.Fields, func(f FieldLayout) bool { return f.Name == p.Field })
		if fi < 0 || l.Fields[fi].Kind != probe.KindOption || p.Count < 1 {
			return fmt.Errorf("pending option %q of %q: not an option field of the layout or no count", p.Value, p.Field)
		}
	}
	return nil
}
