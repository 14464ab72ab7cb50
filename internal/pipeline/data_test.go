package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// TestInputsShareOnlyEqualEncodings: two probes share a distinct input
// only when their fields are equal and their encodings cannot differ. The
// same Host sent to another sensor shares the input when it is a name, and
// not when it is the first sensor's address, which is encoded as the sensor
// itself for one and as another address for the other.
func TestInputsShareOnlyEqualEncodings(t *testing.T) {
	d := &Data{series: map[string]*Series{}, tab: newTables()}
	s := d.S("http")
	at := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	host := func(h, dst string) *probe.Probe {
		return &probe.Probe{Time: at, Service: "http", SrcIP: netip.MustParseAddr("192.0.2.9"), DstIP: netip.MustParseAddr(dst),
			Fields: probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Host", Value: h}}}
	}
	s.add(host("example.com", "100.64.0.1"), "")
	s.add(host("example.com", "100.64.0.2"), "") // a name to another sensor: shares
	s.add(host("100.64.0.1", "100.64.0.1"), "")
	s.add(host("100.64.0.1", "100.64.0.2"), "")  // the first sensor's address sent to another: new
	s.add(host("100.64.0.1", "100.64.0.1"), "")  // as the third: shares
	s.add(host("example.org", "100.64.0.1"), "") // another value: new
	want := []uint32{0, 0, 1, 2, 1, 3}
	for i, r := range s.recs.all() {
		if r.in != want[i] {
			t.Errorf("probe %d has input %d, want %d", i, r.in, want[i])
		}
	}
	if got := s.Probe(1).DstIP; got != netip.MustParseAddr("100.64.0.2") {
		t.Errorf("probe 1 keeps destination %v, want its own", got)
	}
}

// TestSharedFieldsKeepInputs: a load from the store looks inputs up by the
// fields slice a payload row's probes share, with the destination; the
// inputs are those interning each probe gives.
func TestSharedFieldsKeepInputs(t *testing.T) {
	at := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	byName := probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Host", Value: "example.com"}}
	byAddr := probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Host", Value: "100.64.0.1"}}
	sameAsByAddr := slices.Clone(byAddr)
	type sent struct {
		fields probe.Fields
		dst    string
	}
	order := []sent{{byName, "100.64.0.1"}, {byAddr, "100.64.0.1"}, {byName, "100.64.0.2"}, {byAddr, "100.64.0.2"},
		{byAddr, "100.64.0.1"}, {sameAsByAddr, "100.64.0.2"}, {byName[:1], "100.64.0.1"}, {byAddr, "100.64.0.2"}}
	load := func(memo bool) []uint32 {
		d := &Data{series: map[string]*Series{}, tab: newTables()}
		s := d.S("http")
		if memo {
			s.in.shared = map[sharedFields]uint32{}
		}
		for _, o := range order {
			s.add(&probe.Probe{Time: at, Service: "http", SrcIP: netip.MustParseAddr("192.0.2.9"), DstIP: netip.MustParseAddr(o.dst), Fields: o.fields}, "")
		}
		var ins []uint32
		for _, r := range s.recs.all() {
			ins = append(ins, r.in)
		}
		return ins
	}
	want, got := load(false), load(true)
	if !slices.Equal(got, want) {
		t.Errorf("inputs %v looked up by shared fields, %v interned one by one", got, want)
	}
	if want[1] == want[3] || want[0] != want[2] || want[3] != want[5] {
		t.Errorf("inputs %v: the Host's identity view is not in them", want)
	}
}

// TestCompactDataTrainsAsEveryProbe guards the compact form against the
// per-probe one it replaced, on the tiny world: every probe's own
// encoding equals its input's image, and the field statistics, layouts
// and training rows computed once per distinct input (the per-connection
// values from their columns) are those of every probe expanded, in both
// field selections (the paper's picks per-connection fields, which then
// are read again).
func TestCompactDataTrainsAsEveryProbe(t *testing.T) {
	ctx := context.Background()
	opts := Default(1)
	st, labelOf, fullyDisclosed := openWorld(t, tinyWorld(t), &opts)
	for _, sel := range []feature.SelectMode{feature.SelectDefault, feature.SelectPaper} {
		opts.Select = sel
		data, err := Load(ctx, st, Services, time.Time{}, time.Time{}, labelOf)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := Load(ctx, st, Services, time.Time{}, time.Time{}, labelOf)
		if err != nil {
			t.Fatal(err)
		}
		classes := NewClasses(data, fullyDisclosed)
		checked := 0
		for _, svc := range Services {
			s := data.S(svc)
			if !s.hasKnownLabel(classes) {
				continue
			}
			ref := whole.S(svc)
			if err := ref.in.reveal(); err != nil {
				t.Fatal(err)
			}
			probes, orgs := ref.Probes(), ref.Orgs()
			cut := s.in.cut != nil
			checkCompactSeries(t, svc, s, probes, orgs, classes, opts)
			checked++
			t.Logf("%s (%s): %d probes, %d distinct inputs (%d whole), per-connection values cut %v, read again %v",
				svc, sel, len(probes), len(s.in.list), len(ref.in.list), cut, cut && s.in.cut == nil)
		}
		if checked == 0 {
			t.Fatal("no service with labelled probes")
		}
	}
}

// checkCompactSeries checks s, which holds probes labelled orgs, against
// the per-probe forms: statistics, selection, the layout buildServiceModel
// makes, encodings and training rows.
func checkCompactSeries(t *testing.T, svc string, s *Series, probes []probe.Probe, orgs []string, classes *Classes, opts Options) {
	t.Helper()
	want, err := feature.FieldStatistics(svc, probes, orgs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.fieldStatistics()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Fields, want.Fields) || got.Probes != want.Probes || got.Labelled != want.Labelled || got.Orgs != want.Orgs {
		t.Errorf("%s: field statistics over %d distinct inputs differ from those over %d probes:\n%+v\nwant\n%+v", svc, len(s.in.list), len(probes), got, want)
	}
	fields, err := want.Select(opts.Select)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s (%s): selects %v", svc, opts.Select, fields)
	if gotFields, err := got.Select(opts.Select); err != nil || !slices.Equal(gotFields, fields) {
		t.Errorf("%s: selected %v (%v), want %v", svc, gotFields, err, fields)
	}
	wantLayout, err := feature.BuildLayout(svc, probes, feature.LayoutConfig{Fields: fields, Mode: feature.ModeFull})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := buildServiceModel(svc, &Data{series: map[string]*Series{svc: s}, tab: s.tab}, classes, opts, feature.ModeFull)
	if err != nil {
		t.Fatal(err)
	}
	layout := sm.Layout
	if !reflect.DeepEqual(layout, wantLayout) {
		t.Fatalf("%s: the layout of %d distinct inputs differs from that of %d probes", svc, len(s.in.list), len(probes))
	}
	enc, err := encodeSeries(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	own := layout.EncodeAll(probes)
	for i := range probes {
		if !reflect.DeepEqual(own[i], enc.img(i)) {
			t.Fatalf("%s probe %d (to %v) encodes unlike its input (first sent to %v)", svc, i, probes[i].DstIP, s.Input(i).DstIP)
		}
	}
	// The training rows of every probe's own image, as before.
	type row struct {
		image feature.ImageKey
		label int
	}
	index := map[row]int{}
	var wantCounts, wantLabels []int
	var wantImages [][]uint8
	for i, img := range own {
		k := row{feature.KeyOf(img), classes.TrainLabel(orgs[i])}
		if j, ok := index[k]; ok {
			wantCounts[j]++
			continue
		}
		index[k] = len(wantCounts)
		wantCounts, wantLabels, wantImages = append(wantCounts, 1), append(wantLabels, k.label), append(wantImages, img)
	}
	ds := datasetOf(layout, enc, classes)
	if !reflect.DeepEqual(ds.Counts, wantCounts) || !reflect.DeepEqual(ds.Labels, wantLabels) || !reflect.DeepEqual(ds.Images, wantImages) {
		t.Errorf("%s: %d training rows, want %d (or other counts, labels or images)", svc, len(ds.Counts), len(wantCounts))
	}
}

// tlsProbe is a TLS probe from org's tool: its version and ciphers, and
// per-connection values (random, session id, time; "" leaves one out).
func tlsProbe(i int, version, random, session, clock string) probe.Probe {
	fs := probe.Fields{{Name: "tls_version", Value: version}, {Name: "handshake_ciphersuites", Value: "c02f,c030", Items: []string{"c02f", "c030"}}}
	for _, f := range []probe.Field{{Name: "handshake_random_bytes", Value: random}, {Name: "handshake_sessionid", Value: session}, {Name: "handshake_time", Value: clock}} {
		if f.Value != "" {
			fs = append(fs, f)
		}
	}
	return probe.Probe{Time: time.Date(2024, 2, 1, 0, i, 0, 0, time.UTC), Service: "tls", SrcIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
		DstIP: netip.MustParseAddr("100.64.0.1"), DstPort: 443, Fields: fs}
}

// cutSeries loads probes labelled orgs as a training load does: the
// per-connection values cut, and read again from probes when needed.
func cutSeries(svc string, probes []probe.Probe, orgs []string) *Series {
	s := &Series{svc: svc, in: newInputs(svc, identityRules(svc)), tab: newTables()}
	s.in.cutPerProbe(func(yield func(*probe.Probe) error) error {
		for i := range probes {
			p := probes[i]
			if err := yield(&p); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range probes {
		p := probes[i]
		s.add(&p, orgs[i])
	}
	s.in.loaded = s.with(s.recs)
	return s
}

// TestPerConnectionValuesCut: TLS probes that differ only in their random
// bytes and session id share one input; the per-connection fields count
// from their columns exactly as from the probes (absent, N/A, a value
// longer than its width whose encoder view repeats, a clock that is a
// relabelling of the version, which the default selection must see as
// redundant); a layout that encodes a per-connection field gets its bytes.
func TestPerConnectionValuesCut(t *testing.T) {
	var probes []probe.Probe
	var orgs []string
	for i := range 24 {
		org, version, clock := "alpha", "0303", "1700000000"
		if i%3 == 0 {
			org, version, clock = "beta", "0301", "1600000000"
		}
		random := fmt.Sprintf("%064x", i*7919)
		session := fmt.Sprintf("5e55%060x", i) // one 10-byte view for all
		switch i % 8 {
		case 5:
			session = ""
		case 6:
			session = probe.NotAvailable
		}
		if i == 23 {
			org = ""
		}
		probes = append(probes, tlsProbe(i, version, random, session, clock))
		orgs = append(orgs, org)
	}
	s := cutSeries("tls", probes, orgs)
	if s.recs.at(1).in != s.recs.at(2).in {
		t.Errorf("two probes that differ only in per-connection values have inputs %d and %d", s.recs.at(1).in, s.recs.at(2).in)
	}
	if len(s.in.list) > 4 {
		t.Errorf("%d distinct inputs, want at most 4 (version × session id present)", len(s.in.list))
	}
	if f := s.Input(1).Fields; f[2].Value != PerProbeHole {
		t.Errorf("the input keeps %s = %q", f[2].Name, f[2].Value)
	}
	classes := newClasses([]string{"alpha", "beta"}, func(string) bool { return false })
	for _, sel := range []feature.SelectMode{feature.SelectDefault, feature.SelectPaper} {
		opts := Default(1)
		opts.Select = sel
		s := cutSeries("tls", probes, orgs)
		checkCompactSeries(t, "tls", s, probes, orgs, classes, opts)
		if sel == feature.SelectPaper && s.in.cut != nil {
			t.Error("the paper's selection encodes the random bytes, yet they were not read again")
		}
	}

	// No probe has a session id: the tables have no such field either.
	bare := make([]probe.Probe, len(probes))
	for i, p := range probes {
		p.Fields = slices.DeleteFunc(slices.Clone(p.Fields), func(f probe.Field) bool { return f.Name == "handshake_sessionid" })
		bare[i] = p
	}
	checkCompactSeries(t, "tls", cutSeries("tls", bare, orgs), bare, orgs, classes, Default(1))

	// Any layout that encodes a per-connection field reads it back.
	s = cutSeries("tls", probes, orgs)
	l, err := feature.BuildLayout("tls", probes, feature.LayoutConfig{Fields: []string{"handshake_sessionid", "tls_version"}, MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encodeSeries(l, s)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range l.EncodeAll(probes) {
		if !slices.Equal(enc.img(i), want) {
			t.Fatalf("probe %d encodes unlike itself", i)
		}
	}
	// The store changed under the data: reading again says so.
	s = cutSeries("tls", probes, orgs)
	probes[4].Fields[2].Value = "tampered"
	if _, err := encodeSeries(l, s); err == nil {
		t.Error("per-connection values read again from a changed store were taken")
	}
}
