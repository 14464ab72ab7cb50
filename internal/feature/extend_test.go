package feature

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func TestLayoutSaveLoad(t *testing.T) {
	for _, tc := range []struct {
		svc    string
		probes []probe.Probe
	}{{ServiceHTTP, httpFixture()}, {ServiceTLS, tlsFixture()}, {ServiceDNS, dnsFixture()}} {
		l, err := BuildLayout(tc.svc, tc.probes, LayoutConfig{MinCount: 2, Mode: ModeIncremental})
		if err != nil {
			t.Fatal(err)
		}
		l.Extend(httpFixture()) // give some options a generation > 0
		saved := layoutJSON(t, l)
		back, err := Load(bytes.NewReader(saved))
		if err != nil {
			t.Fatalf("%s: %v", tc.svc, err)
		}
		if again := layoutJSON(t, back); !bytes.Equal(saved, again) {
			t.Errorf("%s: save/load/save changed the layout", tc.svc)
		}
		a, b := l.EncodeAll(tc.probes), back.EncodeAll(tc.probes)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: the loaded layout encodes differently", tc.svc)
		}
		path := t.TempDir() + "/layout.json"
		if err := l.SaveFile(path); err != nil {
			t.Fatal(err)
		}
		fromFile, err := LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromFile.Describe(), l.Describe()) {
			t.Errorf("%s: file round trip changed pixel meanings", tc.svc)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	l, err := BuildLayout(ServiceHTTP, httpFixture(), LayoutConfig{Fields: httpFixtureFields, MinCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := string(layoutJSON(t, l))
	cases := map[string]string{
		"newer format":        strings.Replace(good, `"format_version": 2`, `"format_version": 3`, 1),
		"side too big":        strings.Replace(good, `"side": 7`, `"side": 100000`, 1),
		"side zero":           strings.Replace(good, `"side": 7`, `"side": 0`, 1),
		"used past canvas":    strings.Replace(good, `"used": 47`, `"used": 50`, 1),
		"pixel twice":         strings.Replace(good, `"pixel": 1,`, `"pixel": 0,`, 1),
		"pixel out of used":   strings.Replace(good, `"used": 47`, `"used": 30`, 1),
		"bad kind":            strings.Replace(good, `"kind": "string"`, `"kind": "blob"`, 1),
		"bad tokenizer":       strings.Replace(good, `"tokenizer": "product"`, `"tokenizer": "magic"`, 1),
		"bad mode":            strings.Replace(good, `"mode": "full"`, `"mode": "weekly"`, 1),
		"not json":            good[:len(good)/2],
		"pending of no field": strings.Replace(good, `"field": "User-Agent"`, `"field": "Nope"`, 1),
		"pending of a string": strings.Replace(good, `"field": "User-Agent"`, `"field": "Url"`, 1),
	}
	for name, text := range cases {
		if text == good {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := Load(strings.NewReader(text)); err == nil {
			t.Errorf("%s: Load accepted a broken layout", name)
		}
	}
}

// weekOfTraffic draws probes of a few stable scanner families plus new
// tooling that appears later, so each week brings new option values.
func weekOfTraffic(rng *rand.Rand, week, n int) []probe.Probe {
	uas := []string{"Mozilla/5.0 zgrab/0.x", "curl/7.88.1", "Go-http-client/1.1", probe.NotAvailable,
		"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)"}
	for k := range week * 3 {
		uas = append(uas, fmt.Sprintf("Tool%d/%d.0 (week %d)", k, week, week))
	}
	accepts := []string{"*/*", "text/html", probe.NotAvailable, fmt.Sprintf("application/x-week%d", week)}
	var ps []probe.Probe
	for i := range n {
		fs := probe.Fields{f("Method", "GET"), f("Url", fmt.Sprintf("/p%d", rng.IntN(50))), f("Version", "HTTP/1.1")}
		if ua := uas[rng.IntN(len(uas))]; ua != probe.NotAvailable {
			fs = append(fs, f("User-Agent", ua))
		}
		if a := accepts[rng.IntN(len(accepts))]; a != probe.NotAvailable {
			fs = append(fs, f("Accept", a))
		}
		if rng.IntN(3) == 0 {
			fs = append(fs, f("Accept-Encoding", []string{"gzip", "gzip, deflate", "br", fmt.Sprintf("x-w%d", week)}[rng.IntN(4)]))
		}
		ps = append(ps, mkProbe("http", i, fs...))
	}
	return ps
}

// TestExtendKeepsMeaning is the append-only property: over random sequences
// of weeks, every pixel keeps its meaning, pixels of week-1 images in the
// old region never change, and new pixels come after the last used one.
func TestExtendKeepsMeaning(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	for seed := range runs {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		week1 := weekOfTraffic(rng, 1, 400)
		l, err := BuildLayout(ServiceHTTP, week1, LayoutConfig{
			Fields: []string{"Accept", "Accept-Encoding", "Url", "User-Agent", "Version"}, Mode: ModeIncremental})
		if err != nil {
			t.Fatal(err)
		}
		before := l.Describe()
		oldUsed := l.Used
		oldImages := l.EncodeAll(week1)
		for week := 2; week <= 6; week++ {
			prevUsed := l.Used
			prevGen := l.Generation
			added := l.Extend(weekOfTraffic(rng, week, 300+rng.IntN(300)))
			if l.Used != prevUsed+added {
				t.Fatalf("seed %d week %d: used %d → %d with %d added", seed, week, prevUsed, l.Used, added)
			}
			if added > 0 && l.Generation != prevGen+1 {
				t.Errorf("seed %d week %d: generation %d after an extension from %d", seed, week, l.Generation, prevGen)
			}
			after := l.Describe()
			for px := range oldUsed {
				if before[px] != after[px] {
					t.Fatalf("seed %d week %d: pixel %d was %v, now %v", seed, week, px, before[px], after[px])
				}
			}
			for px := prevUsed; px < l.Used; px++ {
				if after[px].Kind != probe.KindOption.String() {
					t.Errorf("seed %d week %d: new pixel %d is %v, want an option", seed, week, px, after[px])
				}
			}
			// Round trip through JSON between weeks, as a weekly job would.
			back, err := Load(bytes.NewReader(layoutJSON(t, l)))
			if err != nil {
				t.Fatal(err)
			}
			l = back
		}
		if l.Used == oldUsed {
			t.Fatalf("seed %d: five weeks of new tooling added no pixel; the property was not exercised", seed)
		}
		for i, img := range l.EncodeAll(week1) {
			if !bytes.Equal(img[:oldUsed], oldImages[i][:oldUsed]) {
				t.Fatalf("seed %d: week-1 probe %d encodes differently in the old region after extension", seed, i)
			}
		}
	}
}

func TestExtendFullCanvas(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	l, err := BuildLayout(ServiceHTTP, weekOfTraffic(rng, 1, 400), LayoutConfig{Fields: []string{"User-Agent"}})
	if err != nil {
		t.Fatal(err)
	}
	room := l.Side*l.Side - l.Used
	added := l.Extend(weekOfTraffic(rng, 9, 2000)) // 27 new tools, well over 10 probes each
	if added != room || l.Used != l.Side*l.Side {
		t.Errorf("added %d with room %d (used %d of %d)", added, room, l.Used, l.Side*l.Side)
	}
	if l.Overflow == 0 {
		t.Error("values that found no room were not counted in Overflow")
	}
	if l.Extend(weekOfTraffic(rng, 10, 2000)) != 0 {
		t.Error("a full canvas grew")
	}
}

func TestBuildLayoutCap(t *testing.T) {
	// 300 UA values each seen 10+ times under a cap of 110 pixels, 10 of
	// them for Version: 100 options fit.
	var ps []probe.Probe
	for v := range 300 {
		for range 10 + v%7 {
			ps = append(ps, mkProbe("http", v, f("User-Agent", fmt.Sprintf("T%d/1", v)), f("Version", "HTTP/1.1")))
		}
	}
	l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: []string{"User-Agent", "Version"}, MaxPixels: 110})
	if err != nil {
		t.Fatal(err)
	}
	if l.Used != 110 || l.Overflow != 200 || l.Side != 11 {
		t.Fatalf("used %d overflow %d side %d, want 110, 200, 11", l.Used, l.Overflow, l.Side)
	}
	// The kept options are the most frequent: every kept value is seen at
	// least as often as every dropped one (counts are 10 + v%7).
	kept := map[string]bool{}
	minKept := 1 << 30
	for _, o := range l.Fields[0].Options {
		kept[o.Value] = true
		minKept = min(minKept, o.Count)
	}
	for v := range 300 {
		if !kept[fmt.Sprintf("T%d/1", v)] && 10+v%7 > minKept {
			t.Errorf("dropped T%d/1 seen %d times, kept one seen %d times", v, 10+v%7, minKept)
		}
	}
	if _, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: []string{"Url", "Version"}, MaxPixels: 15}); err == nil {
		t.Error("20 fixed pixels were accepted under a cap of 15")
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	ps := httpFixture()
	l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: httpFixtureFields, MinCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]uint8, l.Pixels())
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range ps {
			l.Encode(p, img)
		}
	})
	if allocs != 0 {
		t.Errorf("Encode allocates %.1f times per run", allocs)
	}
}

func TestDedup(t *testing.T) {
	rows := [][]uint8{{1, 2}, {3, 4}, {1, 2}, {0, 0}, {3, 4}, {1, 2}}
	unique, counts, index := Dedup(rows)
	want := [][]uint8{{1, 2}, {3, 4}, {0, 0}}
	if !reflect.DeepEqual(unique, want) || !reflect.DeepEqual(counts, []int{3, 2, 1}) ||
		!reflect.DeepEqual(index, []int{0, 1, 0, 2, 1, 0}) {
		t.Errorf("Dedup = %v %v %v", unique, counts, index)
	}
	for i := range rows {
		if !bytes.Equal(unique[index[i]], rows[i]) {
			t.Errorf("row %d maps to a different unique row", i)
		}
	}
	if u, c, x := Dedup(nil); len(u)+len(c)+len(x) != 0 {
		t.Error("Dedup(nil) returned rows")
	}
}

// TestExtendCountsAcrossWeeks: a value seen 6 times a week reaches the
// frequency filter in its second week instead of being dropped forever.
func TestExtendCountsAcrossWeeks(t *testing.T) {
	base := repeat(20, "http", f("User-Agent", "curl/7.88.1"))
	l, err := BuildLayout(ServiceHTTP, base, LayoutConfig{Fields: []string{"User-Agent"}, Mode: ModeIncremental})
	if err != nil {
		t.Fatal(err)
	}
	week := append(repeat(6, "http", f("User-Agent", "rare/1.0")), base...)
	if added := l.Extend(week); added != 0 {
		t.Fatalf("week 2 added %d values; rare/1.0 has only 6 sightings", added)
	}
	if len(l.Pending) != 1 || l.Pending[0] != (PendingOption{Field: "User-Agent", Value: "rare/1.0", Count: 6}) {
		t.Fatalf("pending after week 2: %+v", l.Pending)
	}
	back, err := Load(bytes.NewReader(layoutJSON(t, l)))
	if err != nil {
		t.Fatal(err)
	}
	if added := back.Extend(week); added != 1 {
		t.Fatalf("week 3 added %d, want rare/1.0 with 12 sightings", added)
	}
	opts := back.Fields[0].Options
	if last := opts[len(opts)-1]; last.Value != "rare/1.0" || last.Count != 12 || last.Generation != 1 || back.Pending != nil {
		t.Errorf("last option %+v, pending %+v", last, back.Pending)
	}
	// Pending stays bounded: 5000 one-off values keep the MaxPending most frequent.
	var flood []probe.Probe
	for i := range 5000 {
		flood = append(flood, mkProbe("http", i, f("User-Agent", fmt.Sprintf("bot%04d/1", i))))
	}
	flood = append(flood, repeat(3, "http", f("User-Agent", "bot4999/1"))...)
	back.Extend(flood)
	if len(back.Pending) != MaxPending || !slices.ContainsFunc(back.Pending, func(p PendingOption) bool {
		return p.Value == "bot4999/1" && p.Count == 4
	}) {
		t.Errorf("%d pending after a flood of one-off values; the most frequent must stay", len(back.Pending))
	}
}
