package simulate_test

import (
	"context"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	type truthRow struct {
		time               time.Time
		dst                string
		dport              uint16
		transport, service string
		ja3                string
	}
	want := map[string]truthRow{}
	for _, r := range rows[1:] {
		ts, err := time.Parse(simulate.TimeFormat, r[0])
		if err != nil {
			t.Fatal(err)
		}
		dport, _ := strconv.Atoi(r[4])
		want[r[1]+":"+r[2]] = truthRow{ts, r[3], uint16(dport), r[5], r[6], r[10]}
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
			t.Errorf("session %s (%s): no probe extracted", key, tr.service)
			bad++
		} else {
			ja3 := ""
			if p.Service == simulate.ServiceTLS {
				ja3 = p.Fields.Value("ja3_md5")
			}
			if p.Service != tr.service || string(p.Transport) != tr.transport || p.DstIP.String() != tr.dst ||
				p.DstPort != tr.dport || !p.Time.Equal(tr.time) || ja3 != tr.ja3 || p.ParseError != "" {
				t.Errorf("session %s: extracted %s/%s %s:%d at %s ja3=%q err=%q; truth %s/%s %s:%d at %s ja3=%q",
					key, p.Transport, p.Service, p.DstIP, p.DstPort, p.Time.Format(simulate.TimeFormat), ja3, p.ParseError,
					tr.transport, tr.service, tr.dst, tr.dport, tr.time.Format(simulate.TimeFormat), tr.ja3)
				bad++
			}
		}
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
}
