package abuse

import (
	"bytes"
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
)

// FigureBase is the file name (without extension) of WriteFigure.
const FigureBase = "abuse_by_org"

// RenderFigure draws the statistics as stacked bars, two per organisation
// (listed, attributed IPs), each split into abusive, not abusive and not
// checked IPs, as "png" or "svg".
func RenderFigure(stats []OrgStats, abusive int, format string) ([]byte, error) {
	if len(stats) == 0 {
		return nil, fmt.Errorf("abuse: no organisation with an IP to draw")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Abusive scanner IPs per organisation (AbuseIPDB score ≥ %d)", abusive)
	p.Y.Label.Text = "IPs"
	p.Legend.Top = true
	names := make([]string, len(stats))
	for i, s := range stats {
		names[i] = s.Org
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	width := vg.Length(9)
	if n := len(stats); n > 20 {
		width = vg.Length(180 / n)
	}
	for k, kind := range []string{Listed, Attributed} {
		var ab, ok, unchecked plotter.Values
		for _, s := range stats {
			g := s.Listed
			if kind == Attributed {
				g = s.Attributed
			}
			ab = append(ab, float64(g.Abusive))
			ok = append(ok, float64(g.Checked-g.Abusive))
			unchecked = append(unchecked, float64(g.IPs-g.Checked))
		}
		offset := -width / 2
		if k == 1 {
			offset = width / 2
		}
		var below *plotter.BarChart
		for i, part := range []struct {
			v     plotter.Values
			label string
		}{{ab, "abusive"}, {ok, "not abusive"}, {unchecked, "not checked"}} {
			bc, err := plotter.NewBarChart(part.v, width)
			if err != nil {
				return nil, fmt.Errorf("abuse: figure: %w", err)
			}
			bc.Offset = offset
			bc.Color = figureColors[k][i]
			bc.LineStyle.Width = 0.3
			if below != nil {
				bc.StackOn(below)
			}
			below = bc
			p.Add(bc)
			p.Legend.Add(kind+" IPs: "+part.label, bc)
		}
	}
	w, h := 22*vg.Centimeter, 14*vg.Centimeter
	var canvas vg.CanvasWriterTo
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
	case "svg":
		canvas = vgsvg.New(w, h)
	default:
		return nil, fmt.Errorf("abuse: unknown figure format %q", format)
	}
	p.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("abuse: encoding %s: %w", format, err)
	}
	return buf.Bytes(), nil
}

// figureColors: listed IPs in strong colours, attributed in light ones;
// abusive red, not abusive blue, not checked grey.
var figureColors = [2][3]color.Color{
	{color.RGBA{214, 39, 40, 255}, color.RGBA{31, 119, 180, 255}, color.RGBA{127, 127, 127, 255}},
	{color.RGBA{255, 152, 150, 255}, color.RGBA{174, 199, 232, 255}, color.RGBA{199, 199, 199, 255}},
}

// WriteFigure writes dir/abuse_by_org.png and .svg and returns their paths.
func WriteFigure(dir string, stats []OrgStats, abusive int) ([]string, error) {
	var paths []string
	for _, format := range []string{"png", "svg"} {
		b, err := RenderFigure(stats, abusive, format)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, FigureBase+"."+format)
		if err := atomicfile.WriteBytes(path, b); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
