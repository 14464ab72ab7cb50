package ensemble

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/eval"
	"gonum.org/v1/gonum/mat"
)

// newtonOvR solves each one-vs-rest binary problem on the dense, ungrouped
// design with Newton's method: an independent reference for the L-BFGS
// solver over grouped patterns. Objective per class:
// Σ_i w_i·logloss_i + ||w||²/(2C), intercept unpenalised, w_i balanced per
// binary problem (n/(2·n_pos) and n/(2·n_neg)).
func newtonOvR(t *testing.T, x [][]float64, y []int, classes []int, c float64) [][]float64 {
	t.Helper()
	n, d := len(x), len(x[0])
	var sols [][]float64
	targets := classes
	if len(classes) == 2 {
		targets = classes[1:]
	}
	for _, cls := range targets {
		nPos := 0.0
		for _, l := range y {
			if l == cls {
				nPos++
			}
		}
		wPos, wNeg := float64(n)/(2*nPos), float64(n)/(2*(float64(n)-nPos))
		beta := make([]float64, d+1) // weights then intercept
		for iter := 0; iter < 100; iter++ {
			grad := mat.NewVecDense(d+1, nil)
			hess := mat.NewSymDense(d+1, nil)
			for j := 0; j < d; j++ {
				grad.SetVec(j, beta[j]/c)
				hess.SetSym(j, j, 1/c)
			}
			for i := 0; i < n; i++ {
				xi := append(append([]float64{}, x[i]...), 1)
				z := 0.0
				for j := range xi {
					z += xi[j] * beta[j]
				}
				p := 1 / (1 + math.Exp(-z))
				yi, wi := 0.0, wNeg
				if y[i] == cls {
					yi, wi = 1, wPos
				}
				for j := range xi {
					grad.SetVec(j, grad.AtVec(j)+wi*(p-yi)*xi[j])
					for k := j; k < len(xi); k++ {
						hess.SetSym(j, k, hess.At(j, k)+wi*p*(1-p)*xi[j]*xi[k])
					}
				}
			}
			var chol mat.Cholesky
			if !chol.Factorize(hess) {
				t.Fatal("Newton: Hessian not positive definite")
			}
			var step mat.VecDense
			if err := chol.SolveVecTo(&step, grad); err != nil {
				t.Fatal(err)
			}
			maxStep := 0.0
			for j := range beta {
				beta[j] -= step.AtVec(j)
				maxStep = math.Max(maxStep, math.Abs(step.AtVec(j)))
			}
			if maxStep < 1e-13 {
				break
			}
		}
		sols = append(sols, beta)
	}
	return sols
}

// dense one-hot encoding of rows with the model's layout.
func denseDesign(m *Model, rows []IPRow) [][]float64 {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		out[i] = make([]float64, m.Width())
		for _, j := range m.encode(nil, r) {
			out[i][j] = 1
		}
	}
	return out
}

// synthRows makes a noisy world: each IP's service votes agree with its
// label with some probability, services go missing at random.
func synthRows(seed uint64, n, known int, agree float64) ([]IPRow, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	unknown := known
	rows := make([]IPRow, n)
	labels := make([]int, n)
	for i := range rows {
		label := rng.IntN(known + 1) // known classes and the unknown class
		if rng.Float64() < 0.1 {
			label = -1 // unattributed
		}
		votes := map[string]int{}
		for _, svc := range []string{"http", "tls", "dns"} {
			if rng.Float64() < 0.3 {
				continue
			}
			v := rng.IntN(known + 1)
			if label >= 0 && rng.Float64() < agree {
				v = label
			}
			if label == unknown && rng.Float64() < 0.5 {
				v = unknown
			}
			votes[svc] = v
		}
		if len(votes) == 0 {
			votes["http"] = unknown
		}
		rows[i] = IPRow{IP: "10.0.0." + string(rune('a'+i%26)), Window: i / 26, Votes: votes}
		labels[i] = label
	}
	return rows, labels
}

func compareToNewton(t *testing.T, m *Model, rows []IPRow, labels []int) {
	t.Helper()
	var fitRows []IPRow
	var y []int
	for i, l := range labels {
		if l >= 0 && l < m.Unknown {
			fitRows = append(fitRows, rows[i])
			y = append(y, l)
		}
	}
	ref := newtonOvR(t, denseDesign(m, fitRows), y, m.Classes, m.C)
	if len(ref) != len(m.Coef) {
		t.Fatalf("%d classifiers, reference has %d", len(m.Coef), len(ref))
	}
	worst := 0.0
	for k := range ref {
		for j, w := range m.Coef[k] {
			worst = math.Max(worst, math.Abs(w-ref[k][j]))
		}
		worst = math.Max(worst, math.Abs(m.Intercept[k]-ref[k][m.Width()]))
		if !m.Fits[k].Converged {
			t.Errorf("classifier %d did not converge: %+v", k, m.Fits[k])
		}
	}
	if worst > 1e-5 {
		t.Errorf("largest coefficient difference to Newton = %.3g, want ≤ 1e-5", worst)
	}
	t.Logf("largest coefficient difference to Newton: %.3g", worst)
}

func TestFitMatchesNewtonMulticlass(t *testing.T) {
	rows, labels := synthRows(7, 400, 4, 0.6)
	m, err := Fit(rows, labels, Config{Unknown: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Classes) != 4 || len(m.Coef) != 4 {
		t.Fatalf("classes %v, %d classifiers", m.Classes, len(m.Coef))
	}
	compareToNewton(t, m, rows, labels)
}

func TestFitMatchesNewtonStrongPenalty(t *testing.T) {
	rows, labels := synthRows(8, 150, 3, 0.8)
	m, err := Fit(rows, labels, Config{Unknown: 3, C: 0.05, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	compareToNewton(t, m, rows, labels)
}

func TestFitMatchesNewtonBinary(t *testing.T) {
	rows, labels := synthRows(9, 300, 2, 0.5)
	m, err := Fit(rows, labels, Config{Unknown: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Coef) != 1 {
		t.Fatalf("binary case fitted %d classifiers, sklearn fits 1", len(m.Coef))
	}
	compareToNewton(t, m, rows, labels)
	// predict_proba of a binary model is [1-σ(z), σ(z)].
	for _, p := range m.Proba(rows[:20]) {
		if math.Abs(p[0]+p[1]-1) > 1e-15 {
			t.Errorf("binary probabilities %v do not sum to 1", p)
		}
	}
}

// With no features carrying information, the balanced weights make both
// sides of every binary problem weigh n/2, so the unpenalised intercept
// solves σ(b) = 1/2: b = 0, whatever the class sizes.
func TestFitBalancedInterceptClosedForm(t *testing.T) {
	var rows []IPRow
	var labels []int
	for i, n := range []int{5, 20, 75} {
		for range n {
			rows = append(rows, IPRow{IP: "x", Votes: map[string]int{"http": 9}})
			labels = append(labels, i)
		}
	}
	m, err := Fit(rows, labels, Config{Unknown: 3})
	if err != nil {
		t.Fatal(err)
	}
	// The one feature (http=9) is always on, so it and the intercept share
	// the margin: b + w = 0 with w penalised → w = 0 and b = 0.
	for k := range m.Coef {
		if math.Abs(m.Intercept[k]) > 1e-7 || math.Abs(m.Coef[k][0]) > 1e-7 {
			t.Errorf("classifier %d: intercept %g, weight %g; want 0", k, m.Intercept[k], m.Coef[k][0])
		}
	}
}

func TestLayoutAndEncoding(t *testing.T) {
	rows := []IPRow{
		{IP: "a", Votes: map[string]int{"http": 3, "tls": 1}},
		{IP: "b", Votes: map[string]int{"http": 1}},
		{IP: "c", Votes: map[string]int{"http": 3, "tls": 25, "dns": 0}},
		{IP: "d", Votes: map[string]int{"dns": 7}}, // unknown-class row: not in the layout
	}
	m, err := Fit(rows, []int{0, 1, 0, 25}, Config{Unknown: 25, Services: []string{"http", "tls", "dns"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []ServiceFeatures{
		{Service: "http", Values: []int{1, 3}, Absent: false},
		{Service: "tls", Values: []int{1, 25}, Absent: true},
		{Service: "dns", Values: []int{0}, Absent: true},
	}
	for i, f := range m.Features {
		if f.Service != want[i].Service || f.Absent != want[i].Absent || len(f.Values) != len(want[i].Values) {
			t.Fatalf("features = %+v, want %+v", m.Features, want)
		}
		for j := range f.Values {
			if f.Values[j] != want[i].Values[j] {
				t.Fatalf("features = %+v, want %+v", m.Features, want)
			}
		}
	}
	// Layout: http=1 http=3 | tls=1 tls=25 tls-absent | dns=0 dns-absent.
	if m.Width() != 7 {
		t.Fatalf("width %d, want 7", m.Width())
	}
	for _, c := range []struct {
		row  IPRow
		want []int
	}{
		{rows[0], []int{1, 2, 6}},
		{rows[1], []int{0, 4, 6}},
		{rows[2], []int{1, 3, 5}},
		// http absent was never seen: zeros; dns=7 unseen: zeros.
		{rows[3], []int{4}},
		{IPRow{Votes: map[string]int{"http": 2, "tls": 1, "ftp": 0}}, []int{2, 6}},
	} {
		got := m.encode(nil, c.row)
		if len(got) != len(c.want) {
			t.Errorf("encode(%v) = %v, want %v", c.row.Votes, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("encode(%v) = %v, want %v", c.row.Votes, got, c.want)
				break
			}
		}
	}
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// handModel builds a binary model whose probability of class 1 for the
// http vote v is sig1[v].
func handModel(sig1 []float64) *Model {
	m := &Model{Unknown: 2, Classes: []int{0, 1}, C: 1,
		Features: []ServiceFeatures{{Service: "http"}}}
	coef := make([]float64, len(sig1))
	for v, s := range sig1 {
		m.Features[0].Values = append(m.Features[0].Values, v)
		coef[v] = logit(s)
	}
	m.Coef = [][]float64{coef}
	m.Intercept = []float64{0}
	m.buildIndex()
	return m
}

// Four rows whose largest probabilities are 0.905 (class 0, truth 0),
// 0.805 (class 1, truth 1), 0.605 (class 0, truth unknown) and 0.555
// (class 1, truth 0). Weighted F1 by hand over θ:
//
//	θ ≤ 0.55:        preds 0 1 0 1 → (2·1/2 + 1·2/3 + 1·0)/4 = 0.41667
//	0.555 < θ ≤ 0.60: preds 0 1 0 2 → (2·1/2 + 1·1 + 1·0)/4   = 0.5
//	0.605 < θ ≤ 0.80: preds 0 1 2 2 → (2·2/3 + 1·1 + 1·2/3)/4 = 0.75
//	0.805 < θ ≤ 0.90: preds 0 2 2 2 → (2·2/3 + 0 + 1·1/2)/4   = 0.45833
//
// The maximum 0.75 holds for θ = 0.61 … 0.80; the smallest, 0.61, wins.
func TestTuneThetaByHand(t *testing.T) {
	m := handModel([]float64{0.095, 0.805, 0.395, 0.555})
	rows := []IPRow{
		{IP: "a", Votes: map[string]int{"http": 0}},
		{IP: "b", Votes: map[string]int{"http": 1}},
		{IP: "c", Votes: map[string]int{"http": 2}},
		{IP: "d", Votes: map[string]int{"http": 3}},
		{IP: "e", Votes: map[string]int{"http": 3}}, // unattributed: ignored
	}
	f1, err := m.TuneTheta(rows, []int{0, 1, 2, 0, -1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Theta-0.61) > 1e-12 || math.Abs(f1-0.75) > 1e-12 || m.ThetaF1 != f1 {
		t.Errorf("θ = %v, F1 = %v; want 0.61, 0.75", m.Theta, f1)
	}
	atts := m.Predict(rows)
	wantClass := []int{0, 1, 2, 2, 2}
	wantProb := []float64{0.905, 0.805, 0.605, 0.555, 0.555}
	for i, a := range atts {
		if a.Class != wantClass[i] || math.Abs(a.Prob-wantProb[i]) > 1e-12 {
			t.Errorf("row %d: %+v, want class %d prob %v", i, a, wantClass[i], wantProb[i])
		}
	}
	if _, err := m.TuneTheta(rows, []int{0, 3, 0, 0, 0}); err == nil {
		t.Error("label above the unknown class accepted")
	}
	if _, err := m.TuneTheta(rows[:1], []int{-1}); err == nil {
		t.Error("θ tuned on no labelled rows")
	}
}

// OvR normalisation by hand: three classifiers with margins 0, ln 3 and
// −ln 3 give sigmoids 1/2, 3/4, 1/4 (sum 3/2) → probabilities 1/3, 1/2, 1/6.
func TestProbaNormalisedOvR(t *testing.T) {
	m := &Model{Unknown: 5, Classes: []int{1, 3, 4}, C: 1,
		Features:  []ServiceFeatures{{Service: "tls", Values: []int{2}}},
		Coef:      [][]float64{{0}, {math.Log(3)}, {-math.Log(3)}},
		Intercept: []float64{0, 0, 0}, Theta: 0.5}
	m.buildIndex()
	p := m.Proba([]IPRow{{Votes: map[string]int{"tls": 2}}})[0]
	want := []float64{1.0 / 3, 0.5, 1.0 / 6}
	for k := range want {
		if math.Abs(p[k]-want[k]) > 1e-15 {
			t.Errorf("P = %v, want %v", p, want)
		}
	}
	// max P = 1/2 is not below θ = 0.49: class 3; below 0.51: unknown.
	m.Theta = 0.49
	if a := m.Predict([]IPRow{{Votes: map[string]int{"tls": 2}}})[0]; a.Class != 3 || math.Abs(a.Prob-0.5) > 1e-15 {
		t.Errorf("Predict = %+v, want class 3 at 0.5", a)
	}
	if a := m.PredictTheta([]IPRow{{Votes: map[string]int{"tls": 2}}}, 0.51)[0]; a.Class != 5 {
		t.Errorf("PredictTheta(0.51) = %+v, want unknown (5)", a)
	}
	// Equal probabilities: the first class wins, as numpy's argmax.
	m.Coef = [][]float64{{0}, {0}, {0}}
	if a := m.PredictTheta([]IPRow{{}}, 0)[0]; a.Class != 1 || math.Abs(a.Prob-1.0/3) > 1e-15 {
		t.Errorf("tie: %+v, want class 1 at 1/3", a)
	}
}

func TestDenseWeightedF1MatchesEval(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var c f1Counter
	for trial := range 20 {
		n := 1 + rng.IntN(200)
		truth, pred := make([]int, n), make([]int, n)
		for i := range truth {
			truth[i], pred[i] = rng.IntN(6), rng.IntN(6)
			if rng.Float64() < 0.5 {
				pred[i] = truth[i]
			}
		}
		want, err := eval.WeightedF1(truth, pred)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.weightedF1(truth, pred, 6); math.Abs(got-want) > 1e-12 {
			t.Errorf("trial %d: %v, eval says %v", trial, got, want)
		}
	}
}

func TestFitIgnoresUnattributedAndUnknownForCoefficients(t *testing.T) {
	rows, labels := synthRows(11, 300, 3, 0.7)
	base, err := Fit(rows, labels, Config{Unknown: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Relabel every unknown-class row as unattributed: the regression (fit
	// on known rows only) must not move; θ may.
	relabelled := append([]int(nil), labels...)
	for i, l := range relabelled {
		if l == 3 {
			relabelled[i] = -1
		}
	}
	other, err := Fit(rows, relabelled, Config{Unknown: 3})
	if err != nil {
		t.Fatal(err)
	}
	for k := range base.Coef {
		for j := range base.Coef[k] {
			if base.Coef[k][j] != other.Coef[k][j] {
				t.Fatalf("coefficients changed with unknown-class rows: %v vs %v", base.Coef[k], other.Coef[k])
			}
		}
	}
	// The votes carry the label often enough for the ensemble to beat
	// chance clearly on its own training rows, and θ is inside the grid.
	if base.ThetaF1 < 0.6 || base.Theta < 0 || base.Theta > 1 {
		t.Errorf("θ = %v, training weighted F1 = %v", base.Theta, base.ThetaF1)
	}
}

func TestFitErrors(t *testing.T) {
	rows := []IPRow{{IP: "a", Votes: map[string]int{"http": 1}}, {IP: "b", Votes: map[string]int{"http": 2}}}
	for _, c := range []struct {
		name   string
		labels []int
		cfg    Config
	}{
		{"length", []int{0}, Config{Unknown: 3}},
		{"no unknown index", []int{0, 1}, Config{}},
		{"one class", []int{0, 0}, Config{Unknown: 3}},
		{"label above unknown", []int{0, 4}, Config{Unknown: 3}},
		{"class names", []int{0, 1}, Config{Unknown: 3, ClassNames: []string{"a"}}},
		{"window", []int{0, 1}, Config{Unknown: 3, Window: WindowConfig{Length: Week}}},
	} {
		if _, err := Fit(rows, c.labels, c.cfg); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	bad := []IPRow{{IP: "a", Votes: map[string]int{"http": -1}}, rows[1]}
	if _, err := Fit(bad, []int{0, 1}, Config{Unknown: 3}); err == nil {
		t.Error("negative vote accepted")
	}
	bad = []IPRow{{IP: "a", Votes: map[string]int{"http": 1}, Seen: map[string][]int{"http": {-2, 1}}}, rows[1]}
	if _, err := Fit(bad, []int{0, 1}, Config{Unknown: 3, MultiHot: true}); err == nil {
		t.Error("negative multi-hot value accepted")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	rows, labels := synthRows(12, 200, 3, 0.7)
	names := []string{"shodan", "stretchoid", "onyphe", "unknown"}
	m, err := Fit(rows, labels, Config{Unknown: 3, ClassNames: names, Window: Weekly(t0, at(70))})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()
	back, err := Load(strings.NewReader(saved))
	if err != nil {
		t.Fatal(err)
	}
	if back.Theta != m.Theta || !back.Window.Origin.Equal(m.Window.Origin) || back.Window.Length != Week || back.ClassNames[1] != "stretchoid" {
		t.Errorf("loaded model differs: θ %v/%v window %+v", back.Theta, m.Theta, back.Window)
	}
	a, b := m.Predict(rows), back.Predict(rows)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d: %+v before saving, %+v after", i, a[i], b[i])
		}
	}
	path := t.TempDir() + "/ensemble.json"
	if err := m.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err != nil {
		t.Fatal(err)
	}

	// A version-1 file (before multi-hot features) still loads.
	if _, err := Load(strings.NewReader(strings.Replace(saved, `"version": 2`, `"version": 1`, 1))); err != nil {
		t.Errorf("version 1 refused: %v", err)
	}
	for name, edit := range map[string]func(string) string{
		"format":    func(s string) string { return strings.Replace(s, Format, "other", 1) },
		"newer":     func(s string) string { return strings.Replace(s, `"version": 2`, `"version": 3`, 1) },
		"version 0": func(s string) string { return strings.Replace(s, `"version": 2`, `"version": 0`, 1) },
		"theta":     func(s string) string { return strings.Replace(s, `"theta": `, `"theta": 7`, 1) },
		"truncated": func(s string) string { return s[:len(s)/2] },
		"classes":   func(s string) string { return strings.Replace(s, `"classes": [`, `"classes": [2,`, 1) },
		"unknown":   func(s string) string { return strings.Replace(s, `"unknown": 3`, `"unknown": 1`, 1) },
		"width": func(s string) string {
			return strings.Replace(s, `"absent": true`, `"absent": false`, 1)
		},
	} {
		if _, err := Load(strings.NewReader(edit(saved))); err == nil {
			t.Errorf("%s: corrupted model accepted", name)
		}
	}
}

func FuzzLoad(f *testing.F) {
	rows, labels := synthRows(13, 60, 2, 0.8)
	m, err := Fit(rows, labels, Config{Unknown: 2})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"scannergrouper-ensemble","version":1,"unknown":2,"classes":[0,1],"coef":[[]],"intercept":[0]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A model that loads must predict without panicking.
		m.Predict(rows)
	})
}

// TestFitUnknownLearnsUnknownPatterns: a vote pattern seen only for
// unknown-class rows is attributed to a known org by the artifact's
// regression (it never saw unknown rows) but called unknown with FitUnknown.
func TestFitUnknownLearnsUnknownPatterns(t *testing.T) {
	var rows []IPRow
	var labels []int
	add := func(n int, http, tls, label int) {
		for i := 0; i < n; i++ {
			rows = append(rows, IPRow{IP: fmt.Sprintf("ip%d-%d-%d-%d", http, tls, label, i), Votes: map[string]int{"http": http, "tls": tls}})
			labels = append(labels, label)
		}
	}
	add(30, 0, 0, 0) // org 0 votes 0 in both services
	add(30, 1, 1, 1) // org 1 votes 1 in both
	add(40, 0, 1, 2) // scanners of no known org: a mix that resembles both
	probe := []IPRow{{IP: "x", Votes: map[string]int{"http": 0, "tls": 1}}}
	for _, c := range []struct {
		fitUnknown bool
		want       int
	}{{false, -1}, {true, 2}} {
		m, err := Fit(rows, labels, Config{Unknown: 2, Services: []string{"http", "tls"}, FitUnknown: c.fitUnknown})
		if err != nil {
			t.Fatal(err)
		}
		got := m.PredictTheta(probe, 0)[0].Class
		if c.want >= 0 && got != c.want || c.want < 0 && got == 2 {
			t.Errorf("FitUnknown=%v: mixed pattern attributed to %d", c.fitUnknown, got)
		}
	}
}

func TestFitUnknownModelSavesAndLoads(t *testing.T) {
	rows := []IPRow{{IP: "a", Votes: map[string]int{"http": 0}}, {IP: "b", Votes: map[string]int{"http": 1}}, {IP: "c", Votes: map[string]int{"http": 2}}}
	m, err := Fit(rows, []int{0, 1, 2}, Config{Unknown: 2, Services: []string{"http"}, FitUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(&buf)
	if err != nil {
		t.Fatalf("a model with a fitted unknown class must load: %v", err)
	}
	if got := back.PredictTheta(rows[2:], 0)[0].Class; got != 2 {
		t.Errorf("loaded model predicts %d for the unknown pattern", got)
	}
}

// TestMultiHotSeesEveryPrediction: two orgs whose IPs vote the same class
// (the payload both send) but differ in a second payload only one of them
// sends. The vote alone cannot tell them apart; the multi-hot features can.
func TestMultiHotSeesEveryPrediction(t *testing.T) {
	var rows []IPRow
	var labels []int
	add := func(n int, seen []int, label int) {
		for i := 0; i < n; i++ {
			rows = append(rows, IPRow{IP: fmt.Sprintf("%v-%d-%d", seen, label, i),
				Votes: map[string]int{"http": 0}, Seen: map[string][]int{"http": seen}})
			labels = append(labels, label)
		}
	}
	add(30, []int{0}, 0)    // org 0: only the shared payload (predicted 0)
	add(20, []int{0, 1}, 1) // org 1: the shared payload and its own (predicted 1)
	cfg := Config{Unknown: 2, Services: []string{"http"}}
	voteOnly, err := Fit(rows, labels, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MultiHot = true
	multi, err := Fit(rows, labels, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Layout: http=0 http=1 (no absent: every row has http).
	if voteOnly.Width() != 1 || multi.Width() != 2 {
		t.Fatalf("widths %d and %d, want 1 and 2", voteOnly.Width(), multi.Width())
	}
	if got := multi.encode(nil, rows[len(rows)-1]); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("multi-hot encoding of an org-1 row = %v, want [0 1]", got)
	}
	// A row saved without Seen (older incremental state) encodes its vote.
	if got := multi.encode(nil, IPRow{Votes: map[string]int{"http": 1}}); len(got) != 1 || got[0] != 1 {
		t.Errorf("vote-only row under multi-hot = %v, want [1]", got)
	}
	org1 := rows[len(rows)-1:]
	if got := voteOnly.PredictTheta(org1, 0)[0].Class; got != 0 {
		t.Errorf("vote-only model: org-1 row → %d; with identical features the larger org 0 should win", got)
	}
	if got := multi.PredictTheta(org1, 0)[0].Class; got != 1 {
		t.Errorf("multi-hot model: org-1 row → %d, want 1", got)
	}
	if got := multi.PredictTheta(rows[:1], 0)[0].Class; got != 0 {
		t.Errorf("multi-hot model: org-0 row → %d, want 0", got)
	}
	var buf bytes.Buffer
	if err := multi.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !back.MultiHot || back.PredictTheta(org1, 0)[0].Class != 1 {
		t.Error("a loaded multi-hot model must keep encoding every prediction")
	}
}
