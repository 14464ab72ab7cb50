package analysis

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
)

// ViewPoint is one probe placed in 2-D, with the group it is coloured by. Highlight marks the
// paper's star points: unknown-class probes that the system attributed to the group's org.
type ViewPoint struct {
	X, Y      float64
	Group     string
	Highlight bool
}

// PlotStyle sizes a figure.
type PlotStyle struct {
	Width, Height vg.Length // default 20 cm × 14 cm
	DPI           int       // PNG resolution, default 110
	PointRadius   vg.Length // default 1.6 pt
	HighlightNote string    // legend suffix of highlighted points, default "(unknown → org)"
}

func (s PlotStyle) withDefaults() PlotStyle {
	if s.Width <= 0 {
		s.Width = 20 * vg.Centimeter
	}
	if s.Height <= 0 {
		s.Height = 14 * vg.Centimeter
	}
	if s.DPI <= 0 {
		s.DPI = 110
	}
	if s.PointRadius <= 0 {
		s.PointRadius = 1.6
	}
	if s.HighlightNote == "" {
		s.HighlightNote = "(unknown → org)"
	}
	return s
}

// palette is Tableau 10: distinguishable, and readable by most colour-blind viewers.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// After ten groups colours repeat, so the glyph changes instead.
var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}}

// GroupOrder lists the groups of pts by decreasing size, ties by name; this is the legend order
// and decides each group's colour.
func GroupOrder(pts []ViewPoint) []string {
	count := map[string]int{}
	for _, p := range pts {
		count[p.Group]++
	}
	groups := make([]string, 0, len(count))
	for g := range count {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b string) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return groups
}

// RenderScatter draws pts coloured by group, with a title and a legend to the right of the data,
// as "png" or "svg" bytes.
func RenderScatter(title string, pts []ViewPoint, style PlotStyle, format string) ([]byte, error) {
	style = style.withDefaults()
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "t-SNE 1"
	p.Y.Label.Text = "t-SNE 2"
	// The legend is drawn beside the data, not over it, so it is kept out of p.
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.ThumbnailWidth = 0.4 * vg.Centimeter

	for gi, g := range GroupOrder(pts) {
		col := palette[gi%len(palette)]
		shape := shapes[(gi/len(palette))%len(shapes)]
		var plain, starred plotter.XYs
		for _, pt := range pts {
			if pt.Group != g {
				continue
			}
			if pt.Highlight {
				starred = append(starred, plotter.XY{X: pt.X, Y: pt.Y})
			} else {
				plain = append(plain, plotter.XY{X: pt.X, Y: pt.Y})
			}
		}
		if len(plain) > 0 {
			s, err := plotter.NewScatter(plain)
			if err != nil {
				return nil, fmt.Errorf("analysis: plotting group %q: %w", g, err)
			}
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: style.PointRadius, Shape: shape}
			p.Add(s)
			legend.Add(g, s)
		}
		if len(starred) > 0 {
			s, err := plotter.NewScatter(starred)
			if err != nil {
				return nil, fmt.Errorf("analysis: plotting group %q: %w", g, err)
			}
			// Drawn larger and outlined so they stand out on top of the org's own points.
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: 2.6 * style.PointRadius, Shape: draw.PyramidGlyph{}}
			outline := *s
			outline.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: 3.4 * style.PointRadius, Shape: draw.TriangleGlyph{}}
			p.Add(&outline, s)
			legend.Add(g+" "+style.HighlightNote, &outline, s)
		}
	}

	var canvas interface {
		vg.CanvasWriterTo
	}
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(style.Width, style.Height), vgimg.UseDPI(style.DPI))}
	case "svg":
		canvas = vgsvg.New(style.Width, style.Height)
	default:
		return nil, fmt.Errorf("analysis: unknown figure format %q", format)
	}
	dc := draw.New(canvas)
	legendWidth := legend.Rectangle(dc).Size().X + 0.7*vg.Centimeter
	if legendWidth > style.Width/2 {
		legendWidth = style.Width / 2
	}
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legendArea := draw.Crop(dc, style.Width-legendWidth+0.2*vg.Centimeter, 0, 0, -0.3*vg.Centimeter-p.Title.TextStyle.Height(p.Title.Text))
	legend.Draw(legendArea)
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("analysis: encoding %s: %w", format, err)
	}
	return buf.Bytes(), nil
}

// WriteScatter renders pts to dir/base.png and dir/base.svg.
func WriteScatter(dir, base, title string, pts []ViewPoint, style PlotStyle) error {
	for _, format := range []string{"png", "svg"} {
		b, err := RenderScatter(title, pts, style, format)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, base+"."+format), b); err != nil {
			return err
		}
	}
	return nil
}
