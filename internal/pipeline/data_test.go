package pipeline

import (
	"net/netip"
	"reflect"
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
	for i, r := range s.recs {
		if r.in != want[i] {
			t.Errorf("probe %d has input %d, want %d", i, r.in, want[i])
		}
	}
	if got := s.Probe(1).DstIP; got != netip.MustParseAddr("100.64.0.2") {
		t.Errorf("probe 1 keeps destination %v, want its own", got)
	}
}

// TestCompactDataTrainsAsEveryProbe guards the compact form against the
// per-probe one it replaced, on the tiny world: every probe's own
// encoding equals its input's image, and the field statistics, layouts
// and training rows computed once per distinct input are those of every
// probe expanded.
func TestCompactDataTrainsAsEveryProbe(t *testing.T) {
	opts := Default(1)
	data, fullyDisclosed := loadWorld(t, tinyWorld(t), &opts)
	classes := NewClasses(data, fullyDisclosed)
	checked := 0
	for _, svc := range Services {
		s := data.S(svc)
		if !s.hasKnownLabel(classes) {
			continue
		}
		probes, orgs := s.Probes(), s.Orgs()
		want, err := feature.FieldStatistics(svc, probes, orgs)
		if err != nil {
			t.Fatal(err)
		}
		rows, rowOrgs, counts := s.distinctRows()
		got, err := feature.FieldStatisticsWeighted(svc, rows, rowOrgs, counts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Fields, want.Fields) || got.Probes != want.Probes || got.Labelled != want.Labelled || got.Orgs != want.Orgs {
			t.Errorf("%s: field statistics over %d distinct rows differ from those over %d probes:\n%+v\nwant\n%+v", svc, rows.N, len(probes), got, want)
		}
		fields, err := want.Select(opts.Select)
		if err != nil {
			t.Fatal(err)
		}
		cfg := feature.LayoutConfig{Fields: fields, Mode: feature.ModeFull}
		wantLayout, err := feature.BuildLayout(svc, probes, cfg)
		if err != nil {
			t.Fatal(err)
		}
		inputs, weights := s.distinctInputs()
		layout, err := feature.BuildLayoutWeighted(svc, inputs, weights, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(layout, wantLayout) {
			t.Fatalf("%s: the layout of %d distinct inputs differs from that of %d probes", svc, inputs.N, len(probes))
		}
		enc := encodeSeries(layout, s)
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
		checked++
		t.Logf("%s: %d probes, %d distinct inputs, %d distinct rows", svc, len(probes), inputs.N, rows.N)
	}
	if checked == 0 {
		t.Fatal("no service with labelled probes")
	}
}
