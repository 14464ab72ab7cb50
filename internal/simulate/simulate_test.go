package simulate

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// generateTiny writes the tiny world of seed into a fresh folder.
func generateTiny(t *testing.T, seed uint64) (string, *World) {
	t.Helper()
	cfg, err := PresetConfig("tiny", seed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, w
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// worldFiles returns every file of a world, relative path -> bytes.
func worldFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSameSeedSameBytes(t *testing.T) {
	dirA, _ := generateTiny(t, 7)
	dirB, _ := generateTiny(t, 7)
	a, b := worldFiles(t, dirA), worldFiles(t, dirB)
	if len(a) != len(b) || len(a) != 7+3 {
		t.Fatalf("file sets differ or wrong size: %d vs %d (want 10)", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	dirC, _ := generateTiny(t, 8)
	if bytes.Equal(a["truth.csv"], worldFiles(t, dirC)["truth.csv"]) {
		t.Error("seeds 7 and 8 gave the same truth.csv")
	}
}

func TestTinyWorldTruthAndLabels(t *testing.T) {
	dir, w := generateTiny(t, 1)
	truth := readCSV(t, filepath.Join(dir, "truth.csv"))
	if !slices.Equal(truth[0], truthHeader) {
		t.Fatalf("truth header %v", truth[0])
	}
	rows := truth[1:]
	if n := w.Counts.Probes.Total(); n != len(rows) || n < 200 || n > 1000 {
		t.Fatalf("tiny world: %d truth rows, world says %d; want a few hundred", len(rows), n)
	}
	labels := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(dir, "labels.csv"))[1:] {
		labels[r[0]] = r[1]
	}
	start, end := w.Start, w.End
	sessions := map[string]bool{}
	orgsSeen := map[string]bool{}
	var hiddenIPs, unlabelledKnown int
	prev := time.Time{}
	for i, r := range rows {
		ts, err := time.Parse(TimeFormat, r[0])
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if ts.Before(start) || !ts.Before(end) || ts.Before(prev) {
			t.Fatalf("row %d: time %s outside the span or out of order", i, r[0])
		}
		prev = ts
		key := r[1] + ":" + r[2] + ">" + r[3]
		if sessions[key] {
			t.Fatalf("row %d: session %s twice: source ports must be unique per session", i, key)
		}
		sessions[key] = true
		ip, org, hidden := r[1], r[7], r[9] == "true"
		orgsSeen[org] = true
		switch {
		case hidden:
			hiddenIPs++
			if _, ok := labels[ip]; ok {
				t.Errorf("hidden member %s is in labels.csv", ip)
			}
			if slices.Contains(FullyDisclosed, org) || org == unknownOrg {
				t.Errorf("hidden member %s of %q", ip, org)
			}
		case org == unknownOrg:
			if _, ok := labels[ip]; ok {
				t.Errorf("unattributed %s is in labels.csv", ip)
			}
		default:
			if labels[ip] != org {
				unlabelledKnown++
			}
		}
		if (r[6] == "tls") != (r[10] != "") {
			t.Errorf("row %d: ja3 %q for service %s", i, r[10], r[6])
		}
		if !strings.HasPrefix(r[8], org+"/") {
			t.Errorf("row %d: profile %q does not belong to org %q", i, r[8], org)
		}
	}
	if unlabelledKnown > 0 {
		t.Errorf("%d probes of labelled orgs whose IP is not labelled with that org", unlabelledKnown)
	}
	if hiddenIPs == 0 {
		t.Error("no hidden members in the tiny world")
	}
	for _, org := range append([]string{"censys", "driftnet", "shodan", "stretchoid", "binaryedge", "tum", "cybergreen"}, unknownOrg) {
		if !orgsSeen[org] {
			t.Errorf("org %s missing from the tiny world", org)
		}
	}
	if w.Counts.Retransmitted == 0 || w.Counts.SplitHellos == 0 {
		t.Errorf("no retransmissions or split hellos in the tiny world: %+v", w.Counts)
	}
	if len(w.Counts.Weekly) != 1 || w.Counts.Weekly[0] != w.Counts.Probes {
		t.Errorf("weekly counts %+v do not add up to %+v", w.Counts.Weekly, w.Counts.Probes)
	}
	if w.Counts.TrainProbes == 0 || w.Counts.TestProbes == 0 {
		t.Errorf("train/test split empty: %+v", w.Counts)
	}
}

// TestCorpusStacksKeepTheirJA3 rebuilds every real tool's ClientHello from
// its lists and checks the JA3 the real tool produced.
func TestCorpusStacksKeepTheirJA3(t *testing.T) {
	n := 0
	for name, st := range testStacks(t) {
		if st.CorpusJA3MD5 == "" {
			continue
		}
		n++
		if _, got := st.JA3(); got != st.CorpusJA3MD5 {
			t.Errorf("%s: ja3 %s, the real tool's is %s", name, got, st.CorpusJA3MD5)
		}
	}
	if n < 50 {
		t.Fatalf("only %d corpus stacks", n)
	}
}

// TestClientHellosParseWithGoTLS hands every stack's ClientHello to Go's
// TLS server, an independent parser, and compares what it read.
func TestClientHellosParseWithGoTLS(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p := newPlanner(Config{Seed: 3, Weeks: 1, TrainShare: 0.8}, cat)
	stacks := testStacks(t)
	names := make([]string, 0, len(stacks))
	for name, st := range stacks {
		// crypto/tls reads only TLS 1.0+ hellos.
		if st.ClientVersion >= 0x0301 && st.RecordVersion >= 0x0301 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		st := stacks[name]
		hello := st.ClientHello(p.rng, "")
		info := serverSeenHello(t, hello)
		if info == nil {
			t.Errorf("%s: Go's TLS server did not parse the hello", name)
			continue
		}
		var want []uint16
		for _, c := range st.Ciphers {
			want = append(want, c)
		}
		if !slices.Equal(info.CipherSuites, want) {
			t.Errorf("%s: server read suites %x, want %x", name, info.CipherSuites, want)
		}
		if slices.Contains(st.Extensions, stls.ExtSupportedVersions) && !slices.Equal(info.SupportedVersions, st.Versions) {
			t.Errorf("%s: versions %x, want %x", name, info.SupportedVersions, st.Versions)
		}
		if slices.Contains(st.Extensions, stls.ExtALPN) && !slices.Equal(info.SupportedProtos, st.ALPN) {
			t.Errorf("%s: alpn %v, want %v", name, info.SupportedProtos, st.ALPN)
		}
	}
}

func serverSeenHello(t *testing.T, hello []byte) *tls.ClientHelloInfo {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	seen := make(chan *tls.ClientHelloInfo, 1)
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		seen <- h
		return nil, errors.New("stop after the hello")
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv := tls.Server(server, cfg)
		_ = srv.Handshake()
		server.Close()
	}()
	go func() {
		_, _ = client.Write(hello)
	}()
	// net.Pipe is unbuffered: drain the server's alert so it can finish.
	go func() { _, _ = io.Copy(io.Discard, client) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("TLS server hung")
	}
	client.Close()
	select {
	case info := <-seen:
		return info
	default:
		return nil // the server gave up before it had read a hello
	}
}

func TestPresetConfig(t *testing.T) {
	for _, name := range Presets {
		cfg, err := PresetConfig(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := PresetConfig("huge", 1); err == nil {
		t.Error("unknown preset accepted")
	}
	cfg, _ := PresetConfig("sd24", 1)
	if s, e := cfg.Span(); !s.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) || e.Sub(s) != 91*24*time.Hour {
		t.Errorf("sd24 span %s .. %s", s, e)
	}
	bad := cfg
	bad.Weeks = 0
	if _, err := Generate(context.Background(), bad, t.TempDir()); err == nil {
		t.Error("0 weeks accepted")
	}
}

func TestSmallPresetSize(t *testing.T) {
	if testing.Short() {
		t.Skip("small world takes a few seconds")
	}
	cfg, _ := PresetConfig("small", 1)
	w, err := Generate(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if n := w.Counts.Probes.Total(); n < 10000 || n > 20000 {
		t.Errorf("small world has %d probes, want 10k-20k", n)
	}
	if s := w.Counts.UnattributedProbeShare; s < 0.7 || s > 0.92 {
		t.Errorf("unattributed probe share %.2f", s)
	}
	if len(w.PcapFiles) != 21 {
		t.Errorf("%d pcap files for 3 weeks", len(w.PcapFiles))
	}
	// Scanners come and go, but no week may be starved or flooded: a
	// honeypot sees roughly steady traffic.
	mean := float64(w.Counts.Probes.Total()) / float64(len(w.Counts.Weekly))
	for i, c := range w.Counts.Weekly {
		if r := float64(c.Total()) / mean; r < 0.6 || r > 1.4 {
			t.Errorf("week %d has %d probes, %.0f%% of the weekly mean", i, c.Total(), 100*r)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, preset := range []string{"tiny", "small"} {
		b.Run(preset, func(b *testing.B) {
			cfg, _ := PresetConfig(preset, 1)
			for b.Loop() {
				if _, err := Generate(context.Background(), cfg, b.TempDir()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestGenerateRefusesAnotherWorldsFolder(t *testing.T) {
	dir, _ := generateTiny(t, 1)
	cfg, _ := PresetConfig("tiny", 1)
	if _, err := Generate(context.Background(), cfg, dir); err != nil {
		t.Fatalf("re-generating the same world over itself: %v", err)
	}
	cfg.Start = cfg.Start.AddDate(0, 0, 7)
	_, err := Generate(context.Background(), cfg, dir)
	if err == nil || !strings.Contains(err.Error(), "another world") {
		t.Fatalf("a different world into the same folder: err = %v", err)
	}
}

func TestReadTruth(t *testing.T) {
	dir, w := generateTiny(t, 2)
	rows, err := ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != w.Counts.Probes.Total() {
		t.Fatalf("%d rows, world has %d probes", len(rows), w.Counts.Probes.Total())
	}
	head := strings.Join(truthHeader, ",") + "\n"
	good := "2024-02-01T00:00:01.000002Z,1.2.3.4,40000,198.51.100.11,443,tcp,tls,censys,censys/censys-zgrab2,false,35fa0a83e466acbec1cfbb9016d550ab\n"
	for name, tc := range map[string]struct {
		body, err string
	}{
		"good":        {head + good, ""},
		"bad header":  {"ip,org\n", "wrong number of fields"},
		"other names": {strings.Replace(head, "ja3", "ja4", 1), "header"},
		"bad port":    {head + strings.Replace(good, "40000", "70000", 1), "src_port"},
		"bad time":    {head + strings.Replace(good, "T00:", " 00:", 1), "parsing time"},
		"bad hidden":  {head + strings.Replace(good, "false", "maybe", 1), "hidden"},
		"short row":   {head + "2024-02-01T00:00:01.000002Z,1.2.3.4\n", "wrong number of fields"},
	} {
		path := filepath.Join(t.TempDir(), "truth.csv")
		if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := ReadTruth(path)
		switch {
		case tc.err == "" && (err != nil || len(rows) != 1 || rows[0].SrcPort != 40000 || rows[0].Org != "censys"):
			t.Errorf("%s: rows %+v, err %v", name, rows, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err %v, want it to mention %q", name, err, tc.err)
		}
	}
}

// TestRealScannersAreDistinct guards the embedded SelfDeploy-24 table: one
// row per IP, so no address is both labelled and unattributed.
func TestRealScannersAreDistinct(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, s := range cat.scanners {
		if prev, dup := seen[s.IP.String()]; dup {
			t.Errorf("%s is both %s and %s", s.IP, prev, s.Org)
		}
		seen[s.IP.String()] = s.Org
	}
	if len(seen) < 7000 {
		t.Errorf("only %d real scanners", len(seen))
	}
}
