package feature

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"codeberg.org/sbinet/npyio/npy"
)

func TestExportNPY(t *testing.T) {
	ps := httpFixture()
	labels := make([]string, len(ps))
	labels[0], labels[5] = "censys", "shodan"
	l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: httpFixtureFields, MinCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ExportNPY(dir, l, ps, labels); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ExportImages))
	if err != nil {
		t.Fatal(err)
	}
	// Format 1.0: magic, version, little-endian header length, header
	// ending in '\n', data aligned to 64 bytes.
	hlen := int(raw[8]) | int(raw[9])<<8
	if string(raw[:8]) != "\x93NUMPY\x01\x00" || (10+hlen)%64 != 0 || raw[10+hlen-1] != '\n' ||
		len(raw) != 10+hlen+len(ps)*l.Pixels() {
		t.Fatalf("images.npy preamble %q, header length %d, size %d", raw[:10], hlen, len(raw))
	}
	f, err := os.Open(filepath.Join(dir, ExportImages))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{len(ps), l.Side, l.Side}; !slices.Equal(r.Header.Descr.Shape, want) || r.Header.Descr.Type != "'|u1'" {
		t.Fatalf("images.npy is %s %v, want |u1 %v", r.Header.Descr.Type, r.Header.Descr.Shape, want)
	}
	var flat []uint8
	if err := r.Read(&flat); err != nil {
		t.Fatal(err)
	}
	want := bytes.Join(l.EncodeAll(ps), nil)
	if !bytes.Equal(flat, want) {
		t.Error("images.npy differs from the encoder's images")
	}

	var ips, gotLabels []string
	var ns []int64
	for name, dst := range map[string]any{ExportIP: &ips, ExportLabel: &gotLabels, ExportTimeNS: &ns} {
		g, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := npy.Read(g, dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g.Close()
	}
	if len(ips) != len(ps) || ips[3] != ps[3].SrcIP.String() || gotLabels[5] != "shodan" || gotLabels[1] != "" ||
		ns[2] != ps[2].Time.UnixNano() {
		t.Errorf("metadata arrays: ips %v labels %v ns %v", ips, gotLabels, ns)
	}
	meta, err := os.ReadFile(filepath.Join(dir, ExportMetaCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(meta)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(ps)+1 || strings.Join(rows[0], ",") != "row,ip,time,service,label" ||
		strings.Join(rows[1], ",") != "0,192.0.2.0,2024-04-12T16:00:00Z,http,censys" {
		t.Errorf("meta.csv starts %q", rows[:2])
	}
	back, err := LoadFile(filepath.Join(dir, ExportLayout))
	if err != nil || back.Used != l.Used {
		t.Errorf("layout.json: %v", err)
	}
}

func TestLabelProbes(t *testing.T) {
	ps := httpFixture()[:2]
	var asked []time.Time
	got := LabelProbes(ps, func(a netip.Addr, at time.Time) string {
		asked = append(asked, at)
		if a == ps[1].SrcIP.Unmap() {
			return "shodan"
		}
		return ""
	})
	if got[0] != "" || got[1] != "shodan" {
		t.Errorf("LabelProbes = %q", got)
	}
	if len(asked) != 2 || !asked[1].Equal(ps[1].Time) {
		t.Errorf("labels must be asked at the probe's time: %v", asked)
	}
}
