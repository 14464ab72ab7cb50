package analysis

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func samplePoints() []ViewPoint {
	var pts []ViewPoint
	for g, name := range []string{"cluster 0", "cluster 1", "cluster 2"} {
		for i := range 60 {
			pts = append(pts, ViewPoint{X: float64(g*10) + float64(i%8), Y: float64(g*5) + float64(i/8), Group: name, Highlight: g == 2 && i < 5})
		}
	}
	return pts
}

func TestRenderScatterPNG(t *testing.T) {
	b, err := RenderScatter("Still-unknown HTTP probes", samplePoints(), PlotStyle{}, "png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != 866 || bounds.Dy() != 606 { // 20 cm × 14 cm at 110 dpi
		t.Fatalf("image %v, want 866×606", bounds.Size())
	}
	colours, nonWhite := pixelStats(img)
	if frac := float64(nonWhite) / float64(bounds.Dx()*bounds.Dy()); frac < 0.01 {
		t.Fatalf("only %.4f of the pixels are drawn", frac)
	}
	for gi := range 3 {
		c := palette[gi]
		if colours[c] < 50 {
			t.Errorf("group %d colour %v has %d pixels", gi, c, colours[c])
		}
	}
	if colours[palette[3]] != 0 {
		t.Error("a fourth group colour appears with three groups")
	}
	t.Logf("%d bytes, %d distinct colours, %d non-white pixels", len(b), len(colours), nonWhite)
}

func pixelStats(img image.Image) (map[color.RGBA]int, int) {
	colours := map[color.RGBA]int{}
	nonWhite := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
			colours[c]++
			if c != (color.RGBA{255, 255, 255, 255}) {
				nonWhite++
			}
		}
	}
	return colours, nonWhite
}

func TestRenderScatterSVG(t *testing.T) {
	b, err := RenderScatter("Known-class view", samplePoints(), PlotStyle{}, "svg")
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with the title and every legend entry as text.
	dec := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	paths := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		switch tk := tok.(type) {
		case xml.CharData:
			text.Write(tk)
		case xml.StartElement:
			if tk.Name.Local == "path" {
				paths++
			}
		}
	}
	for _, want := range []string{"Known-class view", "cluster 0", "cluster 1", "cluster 2", "cluster 2 (unknown → org)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("SVG lacks text %q", want)
		}
	}
	if paths < 180 {
		t.Errorf("SVG has %d paths for 180 points", paths)
	}
	if _, err := RenderScatter("x", samplePoints(), PlotStyle{}, "gif"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestWriteScatterFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteScatter(dir, "fig", "t", samplePoints(), PlotStyle{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fig.png", "fig.svg"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v size %v", name, err, st)
		}
	}
	if os.Getenv("ANALYSIS_KEEP_FIGURES") != "" {
		b, _ := os.ReadFile(filepath.Join(dir, "fig.png"))
		os.WriteFile(filepath.Join(os.TempDir(), "analysis_fig.png"), b, 0o644)
	}
}
