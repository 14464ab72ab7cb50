package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// fakeService is a protocol that exists only in this test: a one-line
// request "FAKE/<ver> <cmd> target=<host> opts=<a,b>\n". It declares its
// field rules the way the real protocol folders do, and nothing else in the
// code base knows it: registering it must be enough for the pipeline to
// learn it.
type fakeService struct{}

const fakeName = "fakeproto"

func (fakeService) Name() string { return fakeName }

func (fakeService) Detect(payload []byte, _ probe.Transport, _ uint16) probe.Confidence {
	if bytes.HasPrefix(payload, []byte("FAKE/")) {
		return probe.Certain
	}
	return probe.NotMine
}

func (fakeService) Complete(payload []byte, _ probe.Transport) bool {
	return bytes.IndexByte(payload, '\n') >= 0
}

func (fakeService) Parse(payload []byte, _ probe.Transport) (probe.Fields, error) {
	line, _, ok := strings.Cut(string(payload), "\n")
	parts := strings.Fields(line)
	if !ok || len(parts) != 4 || !strings.HasPrefix(parts[0], "FAKE/") {
		return nil, errors.New("fakeproto: not a request line")
	}
	fs := probe.Fields{{Name: "ver", Value: strings.TrimPrefix(parts[0], "FAKE/")}, {Name: "cmd", Value: parts[1]}}
	for _, kv := range parts[2:] {
		k, v, _ := strings.Cut(kv, "=")
		fs = append(fs, probe.Field{Name: k, Value: v})
	}
	return fs, nil
}

func (s fakeService) Kind(field string) probe.Kind { return s.Encoding().RuleFor(field).Kind }

func (fakeService) Encoding() probe.Encoding {
	return probe.Encoding{
		Rule: func(field string) (probe.FieldRule, bool) {
			switch field {
			case "ver":
				return probe.FieldRule{Kind: probe.KindInt, Width: 8}, true
			case "cmd":
				return probe.FieldRule{Kind: probe.KindString, Width: 8}, true
			case "target":
				return probe.FieldRule{Kind: probe.KindString, Width: 12, Identity: probe.IdentityHost}, true
			case "opts":
				return probe.FieldRule{Kind: probe.KindOption, Tokenizer: probe.TokComma}, true
			}
			return probe.FieldRule{}, false
		},
		KeyFields: []string{"cmd", "opts"},
	}
}

var registerFake sync.Once

// fakeWorld is three weeks of fake-protocol probes, parsed from their bytes
// by the registered service: three organisations, each with its own
// request, and unattributed scanners sending a generic one. Every scanner
// probes both sensors and names the one it probes as target.
func fakeWorld(t *testing.T) (probes []probe.Probe, orgOf map[netip.Addr]string) {
	t.Helper()
	svc, ok := probe.Lookup(fakeName)
	if !ok {
		t.Fatal("fake service not registered")
	}
	sensors := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.20")}
	tools := []struct{ org, request string }{
		// No single field but opts tells every tool apart.
		{"alpha", "FAKE/1 SCAN opts=fast,deep"},
		{"beta", "FAKE/2 SCAN opts=slow"},
		{"gamma", "FAKE/1 HELLO opts=fast,tls,ipv6"},
		{"", "FAKE/2 HELLO opts=none"},
	}
	orgOf = map[netip.Addr]string{}
	start := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	for ti, tool := range tools {
		for s := range 8 {
			src := netip.AddrFrom4([4]byte{192, 0, 2, byte(ti*16 + s)})
			orgOf[src] = tool.org
			for k := range 6 {
				dst := sensors[(s+k)%len(sensors)]
				// Spread every scanner over the three weeks, so each is
				// seen before and after the time cut.
				at := start.Add(time.Duration(k)*84*time.Hour + time.Duration(ti*8+s)*time.Minute)
				parts := strings.SplitN(tool.request, " ", 3)
				payload := []byte(parts[0] + " " + parts[1] + " target=" + dst.String() + ":8080 " + parts[2] + "\n")
				if !svc.Complete(payload, probe.TCP) || probe.Classify(payload, probe.TCP, 7777) != svc {
					t.Fatalf("%q not recognised as %s", payload, fakeName)
				}
				fields, err := svc.Parse(payload, probe.TCP)
				if err != nil {
					t.Fatal(err)
				}
				probes = append(probes, probe.Probe{Time: at, SrcIP: src, SrcPort: uint16(40000 + k), DstIP: dst, DstPort: 7777,
					Transport: probe.TCP, Service: fakeName, Payload: payload, Fields: fields})
			}
		}
	}
	return probes, orgOf
}

// TestFakeProtocolEndToEnd registers a protocol the code base has never
// heard of and runs the whole pipeline on it: field statistics and
// selection, layout and encoding, training, the ensemble's vote, the report,
// saved models and identification from them. Only the registration is
// test-specific: Services is recomputed exactly as data.go computes it,
// because the fake is registered after package initialisation.
func TestFakeProtocolEndToEnd(t *testing.T) {
	// Until the fake joins (a -count=2 rerun finds it registered), the
	// pipeline's services are exactly the registered ones.
	if reg := probe.ServiceNames(); !slices.Contains(reg, fakeName) && !slices.Equal(Services, reg) {
		t.Fatalf("Services %v, registry %v: the pipeline's services must be the registered ones", Services, reg)
	}
	registerFake.Do(func() { probe.Register(fakeService{}) })
	saved := Services
	Services = probe.ServiceNames()
	t.Cleanup(func() { Services = saved })
	if Services[len(Services)-1] != fakeName {
		t.Fatalf("registry order %v: a new service comes after those of internal/service/all", Services)
	}

	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "fake.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	probes, orgOf := fakeWorld(t)
	if n, err := st.InsertProbes(ctx, probes); err != nil || n != len(probes) {
		t.Fatalf("stored %d of %d probes: %v", n, len(probes), err)
	}
	data, err := Load(ctx, st, Services, time.Time{}, time.Time{}, func(a netip.Addr, _ time.Time) string { return orgOf[a] })
	if err != nil {
		t.Fatal(err)
	}
	if data.S(fakeName).Len() != len(probes) {
		t.Fatalf("loaded %d fake probes, stored %d", data.S(fakeName).Len(), len(probes))
	}

	// Fields: the statistics see the fake fields with the service's kinds.
	table, err := feature.FieldStatistics(fakeName, data.S(fakeName).Probes(), data.S(fakeName).Orgs())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, f := range table.Fields {
		kinds[f.Field] = f.Kind
	}
	if want := map[string]string{"ver": "int", "cmd": "string", "target": "string", "opts": "option"}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("field kinds %v, want %v", kinds, want)
	}

	opts := Default(1)
	opts.Iterations = 300
	res, err := TrainFull(ctx, data, func(string) bool { return false }, opts)
	if err != nil {
		t.Fatal(err)
	}
	sm := res.Models[fakeName]
	if sm == nil {
		t.Fatalf("no model for %s; models: %v", fakeName, res.Models)
	}
	if !slices.Contains(sm.Layout.FieldNames(), "opts") {
		t.Errorf("layout fields %v lack opts, the one field that tells every tool apart", sm.Layout.FieldNames())
	}
	pl, ok := res.Report.ProbeLevel[fakeName]
	if !ok || pl.Support == 0 || pl.WeightedF1 < 0.99 {
		t.Errorf("probe-level score of %s: %+v (present %v), want near-perfect", fakeName, pl, ok)
	}
	check := func(what string, atts []Attribution) {
		t.Helper()
		if len(atts) == 0 {
			t.Fatalf("%s: no attribution", what)
		}
		for _, a := range atts {
			want := orgOf[netip.MustParseAddr(a.IP)]
			if want == "" {
				want = "unknown"
			}
			if a.Org != want || !slices.Equal(a.Services, []string{fakeName}) {
				t.Errorf("%s: %s attributed to %s via %v, want %s via [%s]", what, a.IP, a.Org, a.Services, want, fakeName)
			}
		}
	}
	check("test part", res.Test)
	if res.Report.WeightedAvg.F1 < 0.99 {
		t.Errorf("scanner-level weighted F1 %.3f, want 1", res.Report.WeightedAvg.F1)
	}

	// Saved models name the service and identify from disk alike.
	modelDir := filepath.Join(dir, "models")
	man, err := res.Save(modelDir, "full", res.Cut)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(man.Services, fakeName) {
		t.Fatalf("manifest services %v", man.Services)
	}
	loaded, err := LoadModels(modelDir, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	atts, err := loaded.Identify(res.TestData)
	if err != nil {
		t.Fatal(err)
	}
	check("loaded models", atts)

	// The analysis shows the key fields the service declared.
	in, err := AnalysisInput("fake", res.Models, res.TestData, res.Test, res.Classes)
	if err != nil {
		t.Fatal(err)
	}
	for _, si := range in.Services {
		if si.Service == fakeName && !slices.Equal(si.KeyFields, []string{"cmd", "opts"}) {
			t.Errorf("analysis key fields %v", si.KeyFields)
		}
	}
}
