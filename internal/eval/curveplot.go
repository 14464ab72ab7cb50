package eval

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CurvePNG draws the operating curve: every score against the decision
// threshold, with the chosen θ as a vertical line, so an operator sees
// what a stricter or looser threshold would trade.
func CurvePNG(curve []CurvePoint, theta float64, title string) ([]byte, error) {
	if len(curve) == 0 {
		return nil, errors.New("no operating curve to draw")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "decision threshold θ (probability an org needs)"
	p.Y.Label.Text = "share"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	// The legend sits left, above the low over-attribution lines and
	// below the high F1 ones.
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Centimeter, 2.5*vg.Centimeter
	p.Add(plotter.NewGrid())
	series := []struct {
		name  string
		get   func(CurvePoint) (float64, bool)
		color color.RGBA
		dash  bool
	}{
		{"weighted F1", func(c CurvePoint) (float64, bool) { return c.WeightedF1, true }, color.RGBA{31, 119, 180, 255}, false},
		{"F1, IPs new in the test", func(c CurvePoint) (float64, bool) { return c.NewIPF1, true }, color.RGBA{44, 160, 44, 255}, false},
		{"unattributed IPs given an org", func(c CurvePoint) (float64, bool) { return c.UnattributedAttributed, true }, color.RGBA{127, 127, 127, 255}, true},
		{"over-attribution (truth)", func(c CurvePoint) (float64, bool) {
			if c.OverAttribution == nil {
				return 0, false
			}
			return *c.OverAttribution, true
		}, color.RGBA{214, 39, 40, 255}, false},
		{"hidden-member recall (truth)", func(c CurvePoint) (float64, bool) {
			if c.HiddenRecall == nil {
				return 0, false
			}
			return *c.HiddenRecall, true
		}, color.RGBA{255, 127, 14, 255}, false},
	}
	for _, s := range series {
		var xy plotter.XYs
		for _, c := range curve {
			if y, ok := s.get(c); ok {
				xy = append(xy, plotter.XY{X: c.Theta, Y: y})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = s.color, vg.Points(1.5)
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	chosen, err := plotter.NewLine(plotter.XYs{{X: theta, Y: 0}, {X: theta, Y: 1}})
	if err != nil {
		return nil, err
	}
	chosen.Color, chosen.Dashes = color.RGBA{0, 0, 0, 255}, []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(chosen)
	p.Legend.Add(fmt.Sprintf("chosen θ = %.2f", theta), chosen)
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(18*vg.Centimeter, 12*vg.Centimeter), vgimg.UseDPI(110))}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
