package pipeline

import (
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func httpProbe(ua string) probe.Probe {
	return probe.Probe{Service: "http", Fields: probe.Fields{{Name: "Method", Value: "GET"}, {Name: "Url", Value: "/"}, {Name: "User-Agent", Value: ua}}}
}

// TestBackgroundOnlyNeverLabelledImages: a tool seen often and never from a
// labelled scanner is background; a payload also sent by a labelled
// scanner is not, however often unlabelled scanners send it; a rare one
// is not either.
func TestBackgroundOnlyNeverLabelledImages(t *testing.T) {
	var probes []probe.Probe
	var orgs []string
	add := func(n int, ua, org string) {
		for i := 0; i < n; i++ {
			probes = append(probes, httpProbe(ua))
			orgs = append(orgs, org)
		}
	}
	add(50, "masscan/1.3", "")
	add(40, "Mozilla/5.0 zgrab/0.x", "")
	add(12, "Mozilla/5.0 zgrab/0.x", "shadowserver") // shared with a known org
	add(5, "rare-bot", "")
	add(30, "CensysInspect/1.1", "censys") // fully disclosed: unlabelled in training
	layout, err := feature.BuildLayout("http", probes, feature.LayoutConfig{Fields: []string{"User-Agent"}, MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	classes := newClasses([]string{"shadowserver"}, func(o string) bool { return o == "censys" })
	sm := &ServiceModel{Service: "http", Layout: layout}
	bg := NewBackground(10)
	bg.Add(sm, probes, orgs, classes)
	img := func(ua string) []uint8 {
		buf := make([]uint8, layout.Pixels())
		layout.Encode(httpProbe(ua), buf)
		return buf
	}
	for ua, want := range map[string]bool{"masscan/1.3": true, "Mozilla/5.0 zgrab/0.x": false, "rare-bot": false, "CensysInspect/1.1": true} {
		if got := bg.Contains(img(ua)); got != want {
			t.Errorf("%s: background %v, want %v", ua, got, want)
		}
	}
	if bg.Len() != 2 {
		t.Errorf("Len %d, want 2", bg.Len())
	}
	// A saved and reloaded set answers the same.
	back := backgroundFrom(10, bg.digests())
	if !back.Contains(img("masscan/1.3")) || back.Contains(img("rare-bot")) {
		t.Error("reloaded background differs")
	}
	if NewBackground(0).Contains(img("masscan/1.3")) {
		t.Error("a disabled background must contain nothing")
	}
}
