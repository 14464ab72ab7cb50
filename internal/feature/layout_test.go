package feature

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/dns"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run go test -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// imagesText renders each image as its lit pixels with their meaning.
func imagesText(l *Layout, probes []probe.Probe) []byte {
	desc := l.Describe()
	var b strings.Builder
	img := make([]uint8, l.Pixels())
	for i, p := range probes {
		l.Encode(p, img)
		fmt.Fprintf(&b, "probe %d:", i)
		for px, v := range img {
			if v != 0 {
				fmt.Fprintf(&b, " %d=%d", px, v)
			}
		}
		b.WriteString("\n")
		for px, v := range img {
			if v != 0 {
				fmt.Fprintf(&b, "    %4d %3d %s\n", px, v, desc[px])
			}
		}
	}
	return []byte(b.String())
}

func layoutJSON(t *testing.T, l *Layout) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := l.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGoldenHTTP(t *testing.T) {
	ps := httpFixture()
	l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: httpFixtureFields, MinCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.FieldNames(), httpFixtureFields) {
		t.Errorf("field order %q, want alphabetical %q", l.FieldNames(), httpFixtureFields)
	}
	golden(t, "http_layout.json", layoutJSON(t, l))
	golden(t, "http_images.txt", imagesText(l, ps))
}

func TestGoldenTLS(t *testing.T) {
	ps := tlsFixture()
	l, err := BuildLayout(ServiceTLS, ps, LayoutConfig{MinCount: 2, Mode: ModeIncremental})
	if err != nil {
		t.Fatal(err)
	}
	if l.Side != IncrementalSide {
		t.Errorf("incremental side %d, want %d", l.Side, IncrementalSide)
	}
	golden(t, "tls_layout.json", layoutJSON(t, l))
	golden(t, "tls_images.txt", imagesText(l, ps))
}

func TestGoldenDNS(t *testing.T) {
	ps := dnsFixture()
	l, err := BuildLayout(ServiceDNS, ps, LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Side != dns.CanvasSide || l.Used != 161 {
		t.Errorf("DNS canvas %d×%d with %d used pixels, want 16×16 with 161", l.Side, l.Side, l.Used)
	}
	golden(t, "dns_layout.json", layoutJSON(t, l))
	golden(t, "dns_images.txt", imagesText(l, ps))
}
