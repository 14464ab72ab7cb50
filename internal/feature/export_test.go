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

	"codeberg.org/sbinet/npyio/npy"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
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

func TestReadOrgLabels(t *testing.T) {
	good := "IP,Label\n1.2.3.4,webRay\n::ffff:5.6.7.8, Censys \n2001:db8::1,unknown\n"
	m, err := ReadOrgLabels(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if m[netip.MustParseAddr("1.2.3.4")] != "webray" || m[netip.MustParseAddr("5.6.7.8")] != "censys" ||
		m[netip.MustParseAddr("2001:db8::1")] != "unknown" || len(m) != 3 {
		t.Errorf("labels %v", m)
	}
	for name, bad := range map[string]string{
		"no org column": "ip,name\n1.2.3.4,x\n",
		"bad ip":        "ip,org\n1.2.3.999,x\n",
		"conflict":      "ip,org\n1.2.3.4,a\n1.2.3.4,b\n",
		"short row":     "ip,org\n1.2.3.4\n",
		"empty":         "",
	} {
		if _, err := ReadOrgLabels(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ps := httpFixture()[:2]
	got := LabelProbes(ps, map[netip.Addr]string{ps[1].SrcIP: "shodan"})
	if got[0] != "" || got[1] != "shodan" {
		t.Errorf("LabelProbes = %q", got)
	}
}

// TestReadOrgLabelsReal reads the artifact's SD24 label file.
func TestReadOrgLabelsReal(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "reference", "labels_SelfDeploy24.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ReadOrgLabels(f)
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for _, org := range m {
		if Unattributed(org) {
			unknown++
		}
	}
	// reference-impl §1.3: 33,387 IPs, 29,205 unknown.
	if len(m) != 33387 || unknown != 29205 {
		t.Errorf("%d IPs, %d unknown; want 33387 and 29205", len(m), unknown)
	}
}
