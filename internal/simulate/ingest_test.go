package simulate_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// TestCaptureFindsExactlyTheTruth runs the project's own extractor over a
// generated world: it must emit one probe per truth.csv row, with the same
// session, service, time and (for TLS) JA3, and nothing else.
func TestCaptureFindsExactlyTheTruth(t *testing.T) {
	// small takes about a second and has ~14k sessions: worth it even in -short.
	for _, preset := range []string{"tiny", "small"} {
		t.Run(preset, func(t *testing.T) {
			cfg, err := simulate.PresetConfig(preset, 11)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			w, err := simulate.Generate(context.Background(), cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			checkCapture(t, dir, w)
		})
	}
}

func checkCapture(t *testing.T, dir string, w *simulate.World) {
	rows, err := simulate.ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]simulate.TruthRow{}
	for _, r := range rows {
		want[r.SrcIP.String()+":"+strconv.Itoa(int(r.SrcPort))] = r
	}
	var honeypots []netip.Prefix
	for _, h := range w.Honeypots {
		honeypots = append(honeypots, netip.PrefixFrom(netip.MustParseAddr(h), 32))
	}
	got := map[string]probe.Probe{}
	stats, err := capture.Extract(context.Background(), []string{filepath.Join(dir, "pcap")},
		capture.Options{Honeypots: honeypots}, func(p probe.Probe) error {
			key := p.SrcIP.String() + ":" + strconv.Itoa(int(p.SrcPort))
			if _, dup := got[key]; dup {
				t.Errorf("two probes for session %s", key)
			}
			got[key] = p
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || int(stats.Probes) != len(want) {
		t.Errorf("extractor found %d probes (stats %d), truth.csv has %d", len(got), stats.Probes, len(want))
	}
	bad := 0
	for key, tr := range want {
		p, ok := got[key]
		if !ok {
			t.Errorf("session %s (%s): no probe extracted", key, tr.Service)
			bad++
		} else {
			ja3 := ""
			if p.Service == "tls" {
				ja3 = p.Fields.Value("ja3")
			}
			if p.Service != tr.Service || string(p.Transport) != tr.Transport || p.DstIP != tr.DstIP ||
				p.DstPort != tr.DstPort || !p.Time.Equal(tr.Time) || ja3 != tr.JA3 || p.ParseError != "" {
				t.Errorf("session %s: extracted %s/%s %s:%d at %s ja3=%q err=%q; truth %s/%s %s:%d at %s ja3=%q",
					key, p.Transport, p.Service, p.DstIP, p.DstPort, p.Time.Format(simulate.TimeFormat), ja3, p.ParseError,
					tr.Transport, tr.Service, tr.DstIP, tr.DstPort, tr.Time.Format(simulate.TimeFormat), tr.JA3)
				bad++
			}
		}
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
}
