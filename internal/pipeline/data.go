// Package pipeline runs ScannerGrouper end to end: from stored probes and
// ground truth to per-service open-set classifiers, the ensemble, scanner
// attributions and the evaluation report (docs/architecture.md, docs/formats.md §4,
// docs/paper-faithful.md).
package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	// Services is computed when the package initialises, so the registry
	// must be filled before: importing service/all here orders its init
	// first (a lazy Services would change the exported API).
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Services are the services ScannerGrouper classifies, in ensemble order:
// every registered service, in the order of internal/service/all.
var Services = probe.ServiceNames()

// Labeler returns the organisation of a scanner address at a time ("" when
// unattributed); label.Resolver.Lookup fits after a small adapter.
type Labeler func(addr netip.Addr, t time.Time) string

// Data is the labelled probes of a time range, per service, in time order.
// It holds what training and identification read of a probe, compactly: a
// scanner sends the same few payloads again and again, so each service keeps
// a table of its distinct encodable inputs (the fields, and the destination
// only through the identity views the encoding takes of it) and each probe
// is a small record pointing into it (Series). Encoding, field statistics,
// layouts and classifier predictions run once per distinct input, and
// memory grows with probes by a record each.
type Data struct {
	series map[string]*Series
	tab    *tables
}

// tables are what the records of one load (and every slice of it) share:
// the addresses and the organisations, each stored once (orgs.list[0] is
// "": unattributed).
type tables struct {
	addrs interned[netip.Addr]
	orgs  interned[string]
}

func newTables() *tables {
	t := &tables{}
	t.orgs.id("")
	return t
}

// interned is a list of distinct values, each with its index.
type interned[T comparable] struct {
	list  []T
	index map[T]uint32
}

// id returns v's index, adding it when new.
func (t *interned[T]) id(v T) uint32 {
	if i, ok := t.index[v]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[T]uint32{}
	}
	i := uint32(len(t.list))
	t.list = append(t.list, v)
	t.index[v] = i
	return i
}

// record is one probe: its time (Unix nanoseconds), source and destination
// (tables.addrs), its distinct input (inputs.list; inputs.of reads it),
// its organisation at probe time (tables.orgs), its ports and its place in
// its service's load (pos: what indexes its per-connection values and,
// once they are read again, its input, wherever slices and copies of the
// records take it).
type record struct {
	t           int64
	src, dst    uint32
	in          uint32
	org         uint32
	sport, port uint16 // source and destination ports
	pos         uint32 // (it fits the padding: a record is still 32 bytes)
}

// records are a series' records, in chunks (chunked).
type records = chunked[record]

// byTime sorts records by time (sort.Interface).
type byTime struct{ *records }

func (b byTime) Len() int           { return b.len() }
func (b byTime) Less(i, j int) bool { return b.at(i).t < b.at(j).t }
func (b byTime) Swap(i, j int)      { *b.at(i), *b.at(j) = *b.at(j), *b.at(i) }

// inputs are a service's distinct encodable inputs, in the order first
// seen: each is the fields and destination of the first probe that had it.
// Two probes share an input only when every field is equal and every
// identity-bearing field has the same view of its own destination
// (feature.IdentityView), so they encode alike and count alike in the
// field statistics, whatever their destinations. An input holds its
// fields as indexes into a table of distinct fields.
//
// A per-connection value (probe.Encoding.PerProbe: a TLS random, a DNS
// id) would make every probe's input its own. Inputs loaded for training
// therefore leave those fields' values out (cut): the field stays, its
// value replaced by PerProbeHole, and the value's hashes go to a column
// indexed by the probe's load position, from which the field statistics
// count it. The values come back (reveal) only when a layout encodes such
// a field: the service is read again from the store, the inputs rebuilt
// with every value, and each load position mapped to its new input.
type inputs struct {
	svc    string
	list   []input
	index  hashIndex
	fields fieldTable
	// identity is each field name's identity rule (as the layouts that
	// will encode the inputs read it).
	identity   func(name string) probe.Identity
	key, other []byte
	ids        []uint32
	buf        probe.Fields

	n   uint32      // probes added: the next load position
	cut []cutColumn // per-connection fields left out of the inputs (nil: none)
	// byPos is, once revealed, each load position's input (records keep
	// the input they had with the values cut).
	byPos []uint32
	// reload reads the service's probes again, in load order (nil: the
	// values cannot be revealed); loaded is the series as loaded, whose
	// record k the probe read again at load position k must match.
	reload func(yield func(*probe.Probe) error) error
	loaded *Series
	// shared, when not nil, is the input of each fields slice seen with
	// a destination. The store hands the probes of one payload row one
	// slice of fields, read only: most probes of a load are then a map
	// lookup away from their input. Only loads from the store set it
	// (other callers may reuse a slice for different fields), and only
	// where no field is cut (a cut field's value is each probe's own).
	shared map[sharedFields]uint32
}

// sharedFields is a fields slice (its first field and length) and a
// destination.
type sharedFields struct {
	first *probe.Field
	n     int
	dst   netip.Addr
}

// maxSharedFields bounds inputs.shared: probes whose slices are their
// own (a kept per-connection field) would otherwise add one each.
const maxSharedFields = 1 << 16

// PerProbeHole stands for a per-connection value in the inputs of a
// training load (Series.Probe shows it): only its field's column has it.
const PerProbeHole = "\x00per-connection value"

// cutColumn is one per-connection field of the probes, by load position:
// feature.ValueHash of its first value (feature.AbsentHash when the probe
// lacks it), and for a string field feature.ViewHash at its width.
type cutColumn struct {
	name   string
	width  int
	str    bool
	values chunked[uint64]
	views  chunked[uint64]
	hole   uint32 // the field with PerProbeHole (fieldTable), once holed
	holed  bool
}

// input is one distinct input: what a layout reads of a probe.
type input struct {
	ids []uint32 // fields, in the probe's order (fieldTable indexes)
	dst netip.Addr
}

func newInputs(svc string, identity func(string) probe.Identity) *inputs {
	return &inputs{svc: svc, identity: identity}
}

// cutPerProbe makes in leave the service's per-connection fields out, each
// in a column; reload reads the service's probes again, in the order they
// were added (the loader sets loaded once they all are). A field with an
// identity rule is kept whole: its counted value depends on the
// destination, which a hash of the value misses (no service declares such
// a field per connection).
func (in *inputs) cutPerProbe(reload func(yield func(*probe.Probe) error) error) {
	enc := probe.EncodingOf(in.svc)
	for _, name := range enc.PerProbe {
		r := enc.RuleFor(name)
		if r.Identity != probe.IdentityNone {
			continue
		}
		in.cut = append(in.cut, cutColumn{name: name, width: r.Width, str: r.Kind == probe.KindString})
	}
	in.reload = reload
}

// of is the input of r.
func (in *inputs) of(r *record) uint32 { return inputAt(in.byPos, r) }

// inputAt is the input of r given the inputs' byPos.
func inputAt(byPos []uint32, r *record) uint32 {
	if byPos != nil {
		return byPos[r.pos]
	}
	return r.in
}

// cuts reports whether some field of names is left out of the inputs.
func (in *inputs) cuts(names []string) bool {
	for _, c := range in.cut {
		if slices.Contains(names, c.name) {
			return true
		}
	}
	return false
}

// reveal puts the per-connection values back: it reads the service again
// and interns every probe whole, checking that the store gives the same
// probes in the same order (sameProbe). Encodings made before keep
// reading the inputs they were made from (encoding.byPos).
func (in *inputs) reveal() error {
	if in.cut == nil {
		return nil
	}
	if in.reload == nil {
		return fmt.Errorf("pipeline: %s: per-connection values are needed but cannot be read again", in.svc)
	}
	whole := newInputs(in.svc, in.identity)
	byPos := make([]uint32, 0, in.n)
	err := in.reload(func(p *probe.Probe) error {
		k := len(byPos)
		if k >= int(in.n) || !in.sameProbe(k, p) {
			return fmt.Errorf("pipeline: %s: the store no longer holds the probes loaded (probe %d differs); load again", in.svc, k)
		}
		byPos = append(byPos, whole.intern(p))
		return nil
	})
	if err != nil {
		return err
	}
	if len(byPos) != int(in.n) {
		return fmt.Errorf("pipeline: %s: the store gave %d probes, %d were loaded; load again", in.svc, len(byPos), in.n)
	}
	in.list, in.index, in.fields = whole.list, whole.index, whole.fields
	in.byPos, in.cut, in.reload, in.loaded = byPos, nil, nil, nil
	return nil
}

// cutOf is the column of a cut field (nil when name is not cut).
func (in *inputs) cutOf(name string) *cutColumn {
	for i := range in.cut {
		if in.cut[i].name == name {
			return &in.cut[i]
		}
	}
	return nil
}

// sameProbe reports whether p is the probe loaded at position k: the same
// time, addresses and ports (the store's order, which breaks ties on
// them), and per-connection values that hash alike.
func (in *inputs) sameProbe(k int, p *probe.Probe) bool {
	if in.loaded == nil || k >= in.loaded.recs.len() {
		return false
	}
	r, addrs := in.loaded.recs.at(k), in.loaded.tab.addrs.list
	if r.pos != uint32(k) || r.t != p.Time.UnixNano() || addrs[r.src] != p.SrcIP || addrs[r.dst] != p.DstIP || r.sport != p.SrcPort || r.port != p.DstPort {
		return false
	}
	for i := range in.cut {
		c := &in.cut[i]
		v, view := c.hashes(p)
		if *c.values.at(k) != v || c.str && *c.views.at(k) != view {
			return false
		}
	}
	return true
}

// hashes are the column entries of p: the hashes of its first value of
// the field (feature.AbsentHash for both when it has none).
func (c *cutColumn) hashes(p *probe.Probe) (value, view uint64) {
	for _, f := range p.Fields {
		if f.Name == c.name {
			if c.str {
				view = feature.ViewHash(f.Value, c.width)
			}
			return feature.ValueHash(f.Value), view
		}
	}
	return feature.AbsentHash, feature.AbsentHash
}

// probe is input i as a probe of the service, its fields in a slice of
// their own.
func (in *inputs) probe(i uint32) probe.Probe {
	return in.probeInto(i, nil)
}

// probeInto is probe with the fields spelt into buf's memory: valid until
// buf is reused.
func (in *inputs) probeInto(i uint32, buf probe.Fields) probe.Probe {
	buf = buf[:0]
	for _, id := range in.list[i].ids {
		buf = append(buf, in.fields.list[id])
	}
	return probe.Probe{Service: in.svc, Fields: buf, DstIP: in.list[i].dst}
}

// source reads the inputs of idx one at a time (feature.Source).
func (in *inputs) source(idx []uint32) feature.Source {
	var buf probe.Fields
	return feature.Source{N: len(idx), At: func(j int) probe.Probe {
		p := in.probeInto(idx[j], buf)
		buf = p.Fields
		return p
	}}
}

// identityRules returns the identity rule of each field name of a service
// as its encoding declares it, cached.
func identityRules(svc string) func(string) probe.Identity {
	enc := probe.EncodingOf(svc)
	cache := map[string]probe.Identity{}
	return func(name string) probe.Identity {
		id, ok := cache[name]
		if !ok {
			id = enc.RuleFor(name).Identity
			cache[name] = id
		}
		return id
	}
}

// inputKey appends to b what makes an input: its fields (ids), then the
// views of its identity-bearing fields from dst.
func (in *inputs) inputKey(b []byte, ids []uint32, dst netip.Addr) []byte {
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id))
	}
	b = append(b, 0xff) // views follow (0xff starts no uvarint that ends a key)
	for _, id := range ids {
		f := &in.fields.list[id]
		if r := in.identity(f.Name); r != probe.IdentityNone {
			b = appendString(b, feature.IdentityView(r, f.Value, dst))
		}
	}
	return b
}

// intern returns the input of p, adding it when new, and gives p the next
// load position (its per-connection values go to the columns).
func (in *inputs) intern(p *probe.Probe) uint32 {
	in.n++
	if in.shared == nil || len(p.Fields) == 0 || in.cut != nil {
		return in.internFields(p)
	}
	k := sharedFields{&p.Fields[0], len(p.Fields), p.DstIP}
	if i, ok := in.shared[k]; ok {
		return i
	}
	if len(in.shared) >= maxSharedFields {
		clear(in.shared)
	}
	i := in.internFields(p)
	in.shared[k] = i
	return i
}

// internFields is intern but for the load position and shared.
func (in *inputs) internFields(p *probe.Probe) uint32 {
	ids := in.ids[:0]
	for i := range p.Fields {
		f := &p.Fields[i]
		if c := in.cutOf(f.Name); c != nil {
			if !c.holed {
				c.hole, c.holed = in.fields.id(&probe.Field{Name: c.name, Value: PerProbeHole}), true
			}
			ids = append(ids, c.hole)
			continue
		}
		ids = append(ids, in.fields.id(f))
	}
	for i := range in.cut {
		c := &in.cut[i]
		v, view := c.hashes(p)
		c.values.add(v)
		if c.str {
			c.views.add(view)
		}
	}
	in.ids = ids
	in.key = in.inputKey(in.key[:0], ids, p.DstIP)
	h := maphash.Bytes(hashSeed, in.key)
	if i, ok := in.index.find(h, func(i uint32) bool {
		c := &in.list[i]
		in.other = in.inputKey(in.other[:0], c.ids, c.dst)
		return bytes.Equal(in.other, in.key)
	}); ok {
		return i
	}
	n := uint32(len(in.list))
	in.list = append(in.list, input{ids: slices.Clone(ids), dst: p.DstIP})
	in.index.add(h, n)
	return n
}

// fieldTable is a service's distinct fields (name, value and items).
type fieldTable struct {
	list  []probe.Field
	index hashIndex
	key   []byte
}

// id returns the index of f, adding it when new.
func (t *fieldTable) id(f *probe.Field) uint32 {
	k := appendString(t.key[:0], f.Name)
	k = appendString(k, f.Value)
	for _, it := range f.Items {
		k = appendString(k, it)
	}
	t.key = k
	h := maphash.Bytes(hashSeed, k)
	if i, ok := t.index.find(h, func(i uint32) bool {
		g := &t.list[i]
		return g.Name == f.Name && g.Value == f.Value && slices.Equal(g.Items, f.Items) && (g.Items == nil) == (f.Items == nil)
	}); ok {
		return i
	}
	n := uint32(len(t.list))
	t.list = append(t.list, *f)
	t.index.add(h, n)
	return n
}

// hashSeed hashes the keys of hashIndex; any fixed seed does, hits are
// confirmed.
var hashSeed = maphash.MakeSeed()

// hashIndex finds entries by a hash of their key: the index costs about 12
// bytes an entry, not a copy of its key. Two keys with one hash are both
// kept (more); a hit is confirmed on the entry itself.
type hashIndex struct {
	first map[uint64]uint32
	more  map[uint64][]uint32
}

// find returns the entry of hash h that same confirms.
func (x *hashIndex) find(h uint64, same func(uint32) bool) (uint32, bool) {
	i, ok := x.first[h]
	if !ok {
		return 0, false
	}
	if same(i) {
		return i, true
	}
	for _, j := range x.more[h] {
		if same(j) {
			return j, true
		}
	}
	return 0, false
}

// add indexes entry i under hash h.
func (x *hashIndex) add(h uint64, i uint32) {
	if x.first == nil {
		x.first, x.more = map[uint64]uint32{}, map[uint64][]uint32{}
	}
	if _, ok := x.first[h]; ok {
		x.more[h] = append(x.more[h], i)
		return
	}
	x.first[h] = i
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Series is one service's probes of a Data, in time order: records over
// the service's distinct inputs.
type Series struct {
	svc  string
	in   *inputs
	recs records
	tab  *tables
}

// Len is the number of probes.
func (s *Series) Len() int { return s.recs.len() }

// Time is probe i's time.
func (s *Series) Time(i int) time.Time { return time.Unix(0, s.recs.at(i).t).UTC() }

// SrcIP is probe i's source address.
func (s *Series) SrcIP(i int) netip.Addr { return s.tab.addrs.list[s.recs.at(i).src] }

// Org is probe i's organisation at its time ("" unattributed).
func (s *Series) Org(i int) string { return s.tab.orgs.list[s.recs.at(i).org] }

// DstPort is probe i's destination port.
func (s *Series) DstPort(i int) uint16 { return s.recs.at(i).port }

// Probe is probe i as far as Data keeps it: time, addresses, ports,
// service and fields (its input's fields: equal to its own, but for the
// per-connection values of a training load, PerProbeHole until a layout
// needs them).
func (s *Series) Probe(i int) probe.Probe {
	r := s.recs.at(i)
	return probe.Probe{Time: s.Time(i), SrcIP: s.tab.addrs.list[r.src], SrcPort: r.sport, DstIP: s.tab.addrs.list[r.dst], DstPort: r.port,
		Service: s.svc, Fields: s.in.probe(s.in.of(r)).Fields}
}

// Input is probe i's distinct input (its fields, as Probe).
func (s *Series) Input(i int) probe.Probe { return s.in.probe(s.in.of(s.recs.at(i))) }

// reads makes sure that the inputs hold every field of names whole,
// reading the per-connection values again if some are cut (inputs).
func (s *Series) reads(names []string) error {
	if !s.in.cuts(names) {
		return nil
	}
	return s.in.reveal()
}

// readsLayout is reads of the fields l encodes.
func (s *Series) readsLayout(l *feature.Layout) error { return s.reads(layoutNames(l)) }

// layoutNames names the fields l encodes.
func layoutNames(l *feature.Layout) []string {
	names := make([]string, len(l.Fields))
	for i, f := range l.Fields {
		names[i] = f.Name
	}
	return names
}

// Probes returns every probe of the series (Probe), for small data and
// tests: it costs what the compact form saves.
func (s *Series) Probes() []probe.Probe {
	out := make([]probe.Probe, s.recs.len())
	for i := range out {
		out[i] = s.Probe(i)
	}
	return out
}

// Orgs returns every probe's organisation (Org).
func (s *Series) Orgs() []string {
	out := make([]string, s.recs.len())
	for i := range out {
		out[i] = s.Org(i)
	}
	return out
}

// with returns a series over recs with s's service and tables.
func (s *Series) with(recs records) *Series {
	return &Series{svc: s.svc, in: s.in, recs: recs, tab: s.tab}
}

// hasKnownLabel reports whether some probe is labelled with a known class.
func (s *Series) hasKnownLabel(classes *Classes) bool {
	known := classes.orgLabels(s.tab)
	for _, r := range s.recs.all() {
		if known[r.org] >= 0 {
			return true
		}
	}
	return false
}

// distinctRows groups the probes by (input, organisation), in the order of
// each group's first probe: inputs and organisations then first appear in
// the order they do among the probes, which is what keeps statistics over
// the rows equal to those over the probes.
//
// With per-connection values cut from the inputs, rowOf is each probe's
// row (nil otherwise), which the columns need.
func (s *Series) distinctRows() (probes feature.Source, orgs []string, counts []int, rowOf []int32) {
	index := map[[2]uint32]int{}
	var rows []uint32 // input of each row
	if s.in.cut != nil {
		rowOf = make([]int32, s.recs.len())
	}
	for i, r := range s.recs.all() {
		in := s.in.of(r)
		k := [2]uint32{in, r.org}
		j, ok := index[k]
		if !ok {
			j = len(rows)
			index[k] = j
			rows = append(rows, in)
			orgs = append(orgs, s.tab.orgs.list[r.org])
			counts = append(counts, 0)
		}
		counts[j]++
		if rowOf != nil {
			rowOf[i] = int32(j)
		}
	}
	return s.in.source(rows), orgs, counts, rowOf
}

// fieldStatistics is the field statistics of the series' probes
// (feature.FieldStatistics of every probe, labelled with its
// organisation), counted once per distinct row, and the per-connection
// values cut from the inputs from their columns.
func (s *Series) fieldStatistics() (*feature.FieldTable, error) {
	rows, orgs, counts, rowOf := s.distinctRows()
	if s.in.cut == nil {
		return feature.FieldStatisticsWeighted(s.svc, rows, orgs, counts)
	}
	cols := feature.Columns{Row: rowOf}
	for i := range s.in.cut {
		c := &s.in.cut[i]
		col := feature.Column{Name: c.name, Value: func(j int) uint64 { return *c.values.at(int(s.recs.at(j).pos)) }}
		if c.str {
			col.View = func(j int) uint64 { return *c.views.at(int(s.recs.at(j).pos)) }
		}
		cols.Fields = append(cols.Fields, col)
	}
	return feature.FieldStatisticsColumns(s.svc, rows, orgs, counts, cols)
}

// distinctInputs lists the inputs the series uses in the order of their
// first probe, with each one's number of probes.
func (s *Series) distinctInputs() (probes feature.Source, counts []int) {
	local := make([]int32, len(s.in.list))
	for i := range local {
		local[i] = -1
	}
	var used []uint32
	for _, r := range s.recs.all() {
		in := s.in.of(r)
		if local[in] < 0 {
			local[in] = int32(len(used))
			used = append(used, in)
			counts = append(counts, 0)
		}
		counts[local[in]]++
	}
	return s.in.source(used), counts
}

// S returns a service's series (empty when data has none).
func (d *Data) S(svc string) *Series {
	if s := d.series[svc]; s != nil {
		return s
	}
	return &Series{svc: svc, in: newInputs(svc, identityRules(svc)), tab: d.tab}
}

// honeypotFilter drops probes whose source is a honeypot itself (the
// artifact's SD25 DNS arrays held honeypot responses as probes).
type honeypotFilter func(netip.Addr) bool

// Load reads the probes of services in [from, to) and labels them. It
// keeps hashes of the per-connection values (inputs) and reads a service
// again where a layout encodes one, so st must stay open while the data is
// trained on or identified.
func Load(ctx context.Context, st store.Store, services []string, from, to time.Time, labelOf Labeler) (*Data, error) {
	return LoadQuery(ctx, st, services, store.ProbeQuery{From: from, To: to}, labelOf)
}

// LoadQuery reads the probes of services that q selects (its Service and
// Limit are ignored) and labels them.
func LoadQuery(ctx context.Context, st store.Store, services []string, q store.ProbeQuery, labelOf Labeler) (*Data, error) {
	return loadQuery(ctx, st, services, q, labelOf, nil)
}

// LoadQuery reads the probes of every service that q selects, as the
// package's LoadQuery does, keeping of each probe only the fields its
// service's model encodes (none for a service without a model):
// identification reads nothing else, and fewer fields make fewer distinct
// inputs.
func (m *Models) LoadQuery(ctx context.Context, st store.Store, q store.ProbeQuery, labelOf Labeler) (*Data, error) {
	return loadQuery(ctx, st, Services, q, labelOf, m.Services)
}

// encodedFields names, per service, the fields its model's layout encodes.
func (m *Models) encodedFields() map[string]map[string]bool {
	keep := map[string]map[string]bool{}
	for _, svc := range Services {
		keep[svc] = layoutFields(m.Services[svc])
	}
	return keep
}

// layoutFields names the fields a service model's layout encodes (none
// without a model).
func layoutFields(sm *ServiceModel) map[string]bool {
	keep := map[string]bool{}
	if sm != nil && sm.Layout != nil {
		for _, f := range sm.Layout.Fields {
			keep[f.Name] = true
		}
	}
	return keep
}

// layoutIdentity is the identity rule of each field as a layout encodes it
// (IdentityNone for a field it does not hold, which it never reads).
func layoutIdentity(l *feature.Layout) func(string) probe.Identity {
	ids := map[string]probe.Identity{}
	if l != nil {
		for _, f := range l.Fields {
			ids[f.Name] = f.Identity
		}
	}
	return func(name string) probe.Identity { return ids[name] }
}

// loadQuery is LoadQuery keeping, when models is set, only the fields
// models[service]'s layout encodes of each probe. The probes are interned
// as they stream from the store: the full probe list never exists.
// Without models, the per-connection values are cut from the inputs (as
// inputs explains) and read again, for a service, only if a layout comes
// to encode one: the store must stay open as long as the data is used.
func loadQuery(ctx context.Context, st store.Store, services []string, q store.ProbeQuery, labelOf Labeler, models map[string]*ServiceModel) (*Data, error) {
	d := &Data{series: map[string]*Series{}, tab: newTables()}
	q.Limit = 0
	q.NoPayload, q.Brief = true, true // the fields carry what the models need
	// The services are read in one pass over the period: the store keeps
	// probes in time order, so a query per service would read every page
	// once per service. Each series interns addresses and organisations in
	// tables of its own meanwhile and then, service by service, takes ids
	// in the shared ones (adopt): the same ids as a pass per service gives.
	series := make(map[string]*Series, len(services))
	for _, svc := range services {
		var keep map[string]bool
		identity := identityRules(svc)
		if models != nil {
			keep = layoutFields(models[svc])
			identity = layoutIdentity(layoutOf(models[svc]))
		}
		s := &Series{svc: svc, in: newInputs(svc, identity), tab: d.tab}
		s.in.shared = map[sharedFields]uint32{}
		if len(services) > 1 {
			s.tab = newTables()
		}
		series[svc] = s
		if keep != nil {
			// The store cuts each payload row's fields once, not each
			// probe's, and leaves per-connection values undecoded unless
			// the layout encodes one.
			if q.Keep == nil {
				q.Keep = map[string]map[string]bool{}
			}
			q.Keep[svc] = keep
		}
		if models == nil {
			q := q
			q.Service = svc
			s.in.cutPerProbe(func(yield func(*probe.Probe) error) error {
				for p, err := range st.Probes(ctx, q) {
					if err != nil {
						return err
					}
					if err := yield(&p); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	q.Service = ""
	if len(services) == 1 {
		q.Service = services[0]
	}
	for p, err := range prefetch(st.Probes(ctx, q)) {
		if err != nil {
			return nil, err
		}
		s := series[p.Service]
		if s == nil {
			continue // a service not asked for
		}
		s.add(&p, labelOf(p.SrcIP, p.Time))
	}
	for _, svc := range services {
		s := series[svc]
		s.in.shared = nil // (it holds the store's slices)
		s.adopt(d.tab)
		if s.in.cut != nil {
			s.in.loaded = s.with(s.recs)
		}
		d.series[svc] = s
	}
	return d, nil
}

// adopt moves s's records from tables of its own to shared: each address
// and organisation takes its id in shared in the order s first saw it.
func (s *Series) adopt(shared *tables) {
	if s.tab == shared {
		return
	}
	addrs := make([]uint32, len(s.tab.addrs.list))
	for i, a := range s.tab.addrs.list {
		addrs[i] = shared.addrs.id(a)
	}
	orgs := make([]uint32, len(s.tab.orgs.list))
	for i, o := range s.tab.orgs.list {
		orgs[i] = shared.orgs.id(o)
	}
	for _, r := range s.recs.all() {
		r.src, r.dst, r.org = addrs[r.src], addrs[r.dst], orgs[r.org]
	}
	s.tab = shared
}

func layoutOf(sm *ServiceModel) *feature.Layout {
	if sm == nil {
		return nil
	}
	return sm.Layout
}

// add appends p, labelled org, to the series.
func (s *Series) add(p *probe.Probe, org string) {
	pos := s.in.n
	s.recs.add(record{t: p.Time.UnixNano(), src: s.tab.addrs.id(p.SrcIP), dst: s.tab.addrs.id(p.DstIP),
		in: s.in.intern(p), org: s.tab.orgs.id(org), sport: p.SrcPort, port: p.DstPort, pos: pos})
}

// Scanners is the number of distinct source addresses.
func (d *Data) Scanners() int { return len(d.ips()) }

// ips returns the distinct source addresses.
func (d *Data) ips() map[netip.Addr]bool {
	seen := make([]bool, len(d.tab.addrs.list))
	out := map[netip.Addr]bool{}
	for _, s := range d.series {
		for _, r := range s.recs.all() {
			if !seen[r.src] {
				seen[r.src] = true
				out[d.tab.addrs.list[r.src]] = true
			}
		}
	}
	return out
}

// scannersPerClass counts the distinct labelled scanners of each known
// class.
func (d *Data) scannersPerClass(classes *Classes) []int {
	seen := map[uint32]bool{}
	out := make([]int, classes.Unknown)
	labels := classes.orgLabels(d.tab)
	for _, svc := range slices.Sorted(maps.Keys(d.series)) {
		for _, r := range d.series[svc].recs.all() {
			if c := labels[r.org]; c >= 0 && !seen[r.src] {
				seen[r.src] = true
				out[c]++
			}
		}
	}
	return out
}

// Count returns the number of probes over all services.
func (d *Data) Count() int {
	n := 0
	for _, s := range d.series {
		n += s.recs.len()
	}
	return n
}

// orgs lists the organisations the probes carry ("" among them when some
// are unattributed), in table order.
func (d *Data) orgs() []string {
	used := make([]bool, len(d.tab.orgs.list))
	for _, s := range d.series {
		for _, r := range s.recs.all() {
			used[r.org] = true
		}
	}
	var out []string
	for i, o := range d.tab.orgs.list {
		if used[i] {
			out = append(out, o)
		}
	}
	return out
}

// Labelled reports whether some probe has an organisation.
func (d *Data) Labelled() bool {
	for _, s := range d.series {
		for _, r := range s.recs.all() {
			if r.org != 0 {
				return true
			}
		}
	}
	return false
}

// Span returns the first and last probe time.
func (d *Data) Span() (first, last time.Time) {
	for _, s := range d.series {
		if s.recs.len() == 0 {
			continue
		}
		if f := s.Time(0); first.IsZero() || f.Before(first) {
			first = f
		}
		if l := s.Time(s.recs.len() - 1); l.After(last) {
			last = l
		}
	}
	return first, last
}

// SplitTime is the single cut of the time-ordered split: the time of the
// first probe past the share split of all probes (every service together,
// as the artifact's 8:2 split).
func (d *Data) SplitTime(share float64) (time.Time, error) {
	var times []int64
	for _, s := range d.series {
		for _, r := range s.recs.all() {
			times = append(times, r.t)
		}
	}
	if len(times) < 2 {
		return time.Time{}, fmt.Errorf("pipeline: %d probes are too few to split", len(times))
	}
	slices.Sort(times)
	i := int(float64(len(times)) * share)
	i = min(max(i, 1), len(times)-1)
	return time.Unix(0, times[i]).UTC(), nil
}

// SpanCut is the cut of the paper's time split: share of the captured
// time span (first to last probe), rounded down to a midnight in loc (nil:
// UTC) unless that leaves no training day. SelfDeploy-24 (02-01..04-30,
// UTC+8 days) cut at 0.8 falls on 04-13 00:00 UTC+8.
func (d *Data) SpanCut(share float64, loc *time.Location) (time.Time, error) {
	first, last := d.Span()
	if first.IsZero() || !last.After(first) {
		return time.Time{}, fmt.Errorf("the traffic spans no time (%d probes): nothing to split", d.Count())
	}
	if loc == nil {
		loc = time.UTC
	}
	raw := first.Add(time.Duration(float64(last.Sub(first)) * share))
	l := raw.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	if !day.After(first) {
		return raw.UTC(), nil
	}
	return day.UTC(), nil
}

// Slice returns the probes of [from, to) (zero bounds are open). It shares
// d's records.
func (d *Data) Slice(from, to time.Time) *Data {
	out := &Data{series: map[string]*Series{}, tab: d.tab}
	for svc, s := range d.series {
		recs := &s.recs
		lo := 0
		if !from.IsZero() {
			f := from.UnixNano()
			lo = sort.Search(recs.len(), func(i int) bool { return recs.at(i).t >= f })
		}
		hi := recs.len()
		if !to.IsZero() {
			t := to.UnixNano()
			hi = sort.Search(recs.len(), func(i int) bool { return recs.at(i).t >= t })
		}
		if hi < lo {
			hi = lo
		}
		out.series[svc] = s.with(recs.slice(lo, hi))
	}
	return out
}

// Classes maps organisations to model classes: the known organisations
// (labelled in training and not fully disclosed) in alphabetical order are
// 0..K-1, and K is "unknown" (the artifact's order, docs/paper-faithful.md §1.3).
type Classes struct {
	Names   []string // K known orgs then "unknown"
	index   map[string]int
	Unknown int
	// fullyDisclosed orgs are scored as the unknown class.
	fullyDisclosed func(string) bool
}

// NewClasses builds the class list from the training orgs.
func NewClasses(train *Data, fullyDisclosed func(string) bool) *Classes {
	seen := map[string]bool{}
	for _, o := range train.orgs() {
		if o != "" && !fullyDisclosed(o) {
			seen[o] = true
		}
	}
	names := make([]string, 0, len(seen)+1)
	for o := range seen {
		names = append(names, o)
	}
	sort.Strings(names)
	return newClasses(names, fullyDisclosed)
}

func newClasses(known []string, fullyDisclosed func(string) bool) *Classes {
	c := &Classes{index: map[string]int{}, Unknown: len(known), fullyDisclosed: fullyDisclosed}
	for i, o := range known {
		c.index[o] = i
	}
	c.Names = append(append([]string(nil), known...), "unknown")
	return c
}

// orgLabels is TrainLabel of each organisation of t.
func (c *Classes) orgLabels(t *tables) []int {
	out := make([]int, len(t.orgs.list))
	for i, o := range t.orgs.list {
		out[i] = c.TrainLabel(o)
	}
	return out
}

// Truth is an org's evaluation class: a known class, Unknown for fully
// disclosed orgs and for labelled orgs the models do not know, or -1 for an
// unattributed scanner (excluded from the metrics).
func (c *Classes) Truth(org string) int {
	if org == "" {
		return -1
	}
	if i, ok := c.index[org]; ok {
		return i
	}
	return c.Unknown
}

// TrainLabel is an org's label for the open-set classifier: its class when
// known, and unlabeled otherwise (fully disclosed and unattributed probes
// are part of the unlabeled pool, docs/paper-faithful.md §1.6).
func (c *Classes) TrainLabel(org string) int {
	if i, ok := c.index[org]; ok {
		return i
	}
	return -1
}

// weakVote is the vote value of a weak prediction of class c (0..Unknown):
// Unknown+1+c, so that the ensemble tells weak votes from strong ones and
// ensemble.VoteProbes can rank them (voteRows marks values above Unknown
// weak).
func (c *Classes) weakVote(class int) int { return c.Unknown + 1 + class }

// probeClass is the class of a probe behind a vote value.
func (c *Classes) probeClass(vote int) int {
	if vote > c.Unknown {
		return vote - c.Unknown - 1
	}
	return vote
}

// Name returns a class's org name.
func (c *Classes) Name(class int) string {
	if class >= 0 && class < len(c.Names) {
		return c.Names[class]
	}
	return "unknown"
}

// LoadIPs reads the stored probes of the given source addresses in
// [from, to) (zero bounds do not filter), each labelled with labelOf at its
// time: the traffic an explanation of those IPs rests on. The addresses
// are read in one query per loadIPsChunk of them, every service at once.
func LoadIPs(ctx context.Context, st store.Store, services []string, ips []netip.Addr, from, to time.Time, labelOf Labeler) (*Data, error) {
	d := &Data{series: map[string]*Series{}, tab: newTables()}
	for _, svc := range services {
		d.series[svc] = &Series{svc: svc, in: newInputs(svc, identityRules(svc)), tab: d.tab}
	}
	for lo := 0; lo < len(ips); lo += loadIPsChunk {
		chunk := ips[lo:min(lo+loadIPsChunk, len(ips))]
		for p, err := range st.Probes(ctx, store.ProbeQuery{SrcIPs: chunk, From: from, To: to, NoPayload: true, Brief: true}) {
			if err != nil {
				return nil, err
			}
			if s := d.series[p.Service]; s != nil {
				s.add(&p, labelOf(p.SrcIP, p.Time))
			}
		}
	}
	if len(ips) <= loadIPsChunk {
		return d, nil // one query: each service is in time order already
	}
	for _, s := range d.series {
		// one chunk after another: put each service back in time order, as
		// Load returns it and the window slicing expects
		sort.Stable(byTime{&s.recs})
	}
	return d, nil
}

// loadIPsChunk is how many addresses one query of LoadIPs names (SQLite
// and PostgreSQL take tens of thousands of parameters; the API asks for at
// most 1,000 IPs at once).
const loadIPsChunk = 1000
