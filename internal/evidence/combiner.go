package evidence

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/optimize"

	"github.com/scannergrouper/scannergrouper/internal/eval"
)

// Example is a row whose answer is known: Label is the class 0..K-1 of a
// known organisation, K for a labelled scanner of no known organisation,
// or Unattributed.
type Example struct {
	Row   Row
	Label int
}

// Combiner turns an IP's evidence into probabilities: a candidate
// organisation c gets the utility W·F(c), "unknown" the utility V·G, and
// the probabilities are the softmax over the candidates and unknown.
type Combiner struct {
	K int                         `json:"k"`
	W [NumClassFeatures]float64   `json:"class_weights"`
	V [NumUnknownFeatures]float64 `json:"unknown_weights"`
	// Theta is the decision threshold: the most probable organisation is
	// named when its probability reaches Theta, otherwise "unknown".
	Theta float64 `json:"theta"`
	// Curve is the validation slice's operating curve behind Theta.
	Curve []CurvePoint `json:"curve,omitempty"`
}

// FitConfig sets the fit.
type FitConfig struct {
	// L2 is the penalty on the squared weights (default 1): with a dozen
	// weights and hundreds of rows it only keeps a feature that separates
	// the validation rows perfectly (label memory) from a runaway weight.
	L2 float64
	// UnattributedWeight is the weight of a row nobody labelled, fitted as
	// "unknown" (default 1: every scanner counts once; most unattributed
	// scanners belong to no known organisation, and the few hidden members
	// among them make the probabilities honest about how often a payload
	// an organisation sends comes from somebody else).
	UnattributedWeight float64
}

func (c FitConfig) withDefaults() FitConfig {
	if c.L2 <= 0 {
		c.L2 = 1
	}
	if c.UnattributedWeight <= 0 {
		c.UnattributedWeight = 1
	}
	return c
}

// nparams is the number of weights.
const nparams = NumClassFeatures + NumUnknownFeatures

// Fit learns the weights from examples. Rows whose known organisation has
// no evidence at all cannot be explained by any weight and are left out
// of the fit (they stay in the operating curve: they are errors).
func Fit(k int, ex []Example, cfg FitConfig) (*Combiner, error) {
	cfg = cfg.withDefaults()
	type fitRow struct {
		row    *Row
		target int // index into candidates, or -1 for unknown
		weight float64
	}
	var rows []fitRow
	known, unknown := 0, 0
	for i := range ex {
		e := &ex[i]
		fr := fitRow{row: &e.Row, target: -1, weight: 1}
		switch {
		case e.Label == Unattributed:
			if e.Row.orgDominated() {
				// presumed an unlisted member: neither evidence for
				// unknown nor a label
				continue
			}
			fr.weight = cfg.UnattributedWeight
			unknown++
		case e.Label >= k:
			unknown++
		default:
			fr.target = candidateIndex(&e.Row, e.Label)
			if fr.target < 0 {
				continue
			}
			known++
		}
		rows = append(rows, fr)
	}
	if known == 0 {
		return nil, errors.New("no validation scanner of a known organisation has any evidence for it")
	}
	if unknown == 0 {
		return nil, errors.New("no validation scanner is unknown or unattributed, so unknown cannot be calibrated")
	}
	var u []float64
	objective := func(x []float64, grad []float64) float64 {
		w, v := x[:NumClassFeatures], x[NumClassFeatures:]
		if grad != nil {
			for i := range grad {
				grad[i] = 0
			}
		}
		loss := 0.0
		for _, fr := range rows {
			r := fr.row
			u = u[:0]
			for _, c := range r.Candidates {
				u = append(u, dot(w, c.F[:]))
			}
			uu := dot(v, r.Unknown[:])
			m := uu
			for _, x := range u {
				m = max(m, x)
			}
			z := math.Exp(uu - m)
			for i := range u {
				u[i] = math.Exp(u[i] - m)
				z += u[i]
			}
			var ty float64
			if fr.target >= 0 {
				ty = math.Log(u[fr.target] / z)
			} else {
				ty = (uu - m) - math.Log(z)
			}
			loss -= fr.weight * ty
			if grad == nil {
				continue
			}
			// d(-log p_y)/du_j = p_j - [j == y]
			for i, c := range r.Candidates {
				g := u[i] / z
				if i == fr.target {
					g--
				}
				g *= fr.weight
				for f := range NumClassFeatures {
					grad[f] += g * c.F[f]
				}
			}
			g := math.Exp(uu-m) / z
			if fr.target < 0 {
				g--
			}
			g *= fr.weight
			for f := range NumUnknownFeatures {
				grad[NumClassFeatures+f] += g * r.Unknown[f]
			}
		}
		for i, xi := range x {
			loss += 0.5 * cfg.L2 * xi * xi
			if grad != nil {
				grad[i] += cfg.L2 * xi
			}
		}
		return loss
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 { return objective(x, nil) },
		Grad: func(grad, x []float64) { objective(x, grad) },
	}
	x0 := make([]float64, nparams)
	res, err := optimize.Minimize(p, x0, &optimize.Settings{GradientThreshold: 1e-6, MajorIterations: 500}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("fitting the evidence weights: %w", err)
	}
	cmb := &Combiner{K: k, Theta: 0.5}
	copy(cmb.W[:], res.X[:NumClassFeatures])
	copy(cmb.V[:], res.X[NumClassFeatures:])
	return cmb, nil
}

// orgDominated reports evidence that an unattributed IP may well be an
// unlisted member of an organisation: most of its probes carry payloads
// that organisation owns (sent by more of its scanners than by everybody
// else together), most of its remembered neighbours are that
// organisation's, or a listed network of it covers the IP. Fitting such
// IPs as "unknown" would teach the combiner that an organisation's own
// payload or network says nothing, and lose every unlisted member; they
// are left out of the fit instead. Innocent scanners that send a payload
// an organisation owns are by definition fewer than its scanners, and
// those in shared hosting networks are outnumbered there, so they stay in.
func (r *Row) orgDominated() bool {
	for _, c := range r.Candidates {
		if c.F[fPayOwn] >= 0.5 || c.F[fNb24All] > 0.5 || c.F[fCIDR] > 0 {
			return true
		}
	}
	return false
}

func candidateIndex(r *Row, class int) int {
	for i, c := range r.Candidates {
		if c.Class == class {
			return i
		}
	}
	return -1
}

func dot(w []float64, f []float64) float64 {
	s := 0.0
	for i, x := range f {
		s += w[i] * x
	}
	return s
}

// Proba returns the probability of each candidate (parallel to
// r.Candidates) and of unknown.
func (m *Combiner) Proba(r *Row) (cand []float64, unknown float64) {
	cand = make([]float64, len(r.Candidates))
	uu := dot(m.V[:], r.Unknown[:])
	mx := uu
	for i, c := range r.Candidates {
		cand[i] = dot(m.W[:], c.F[:])
		mx = max(mx, cand[i])
	}
	z := math.Exp(uu - mx)
	for i := range cand {
		cand[i] = math.Exp(cand[i] - mx)
		z += cand[i]
	}
	for i := range cand {
		cand[i] /= z
	}
	return cand, math.Exp(uu-mx) / z
}

// Verdict is the combiner's answer about one IP.
type Verdict struct {
	// Class is the organisation named (0..K-1) or K for unknown.
	Class int
	// Prob is the probability of Class (for unknown: one minus the best
	// organisation's probability).
	Prob float64
	// Best is the most probable organisation (-1: no candidate) and
	// BestProb its probability, whatever the threshold decided.
	Best     int
	BestProb float64
	// Evidence names what spoke for Class: listed, neighbourhood, payload,
	// joined with "+" ("" for unknown).
	Evidence string
}

// Decide names the most probable organisation when its probability
// reaches theta.
func (m *Combiner) Decide(r *Row, theta float64) Verdict {
	p, _ := m.Proba(r)
	v := Verdict{Class: m.K, Best: -1}
	for i, c := range r.Candidates {
		if v.Best < 0 || p[i] > v.BestProb {
			v.Best, v.BestProb = c.Class, p[i]
		}
	}
	if v.Best >= 0 && v.BestProb >= theta {
		v.Class, v.Prob = v.Best, v.BestProb
		v.Evidence = evidenceOf(r, v.Best)
		return v
	}
	v.Prob = 1 - max(v.BestProb, 0)
	return v
}

// Evidence kinds, as written in predictions and attributions.
const (
	EvidenceListed        = "listed"
	EvidenceNeighbourhood = "neighbourhood"
	EvidencePayload       = "payload"
)

func evidenceOf(r *Row, class int) string {
	i := candidateIndex(r, class)
	if i < 0 {
		return ""
	}
	f := r.Candidates[i].F
	s := ""
	add := func(k string) {
		if s != "" {
			s += "+"
		}
		s += k
	}
	if f[fListed] > 0 {
		add(EvidenceListed)
	}
	if f[fPayMean] > 0 || f[fNNTop] > 0 {
		add(EvidencePayload)
	}
	if f[fCIDR] > 0 || f[fNb24Lab] > 0 || f[fNb16Lab] > 0 {
		add(EvidenceNeighbourhood)
	}
	return s
}

// CurvePoint is one threshold of the operating curve.
type CurvePoint struct {
	Theta float64 `json:"theta"`
	// WeightedF1 over labelled rows (known organisations and labelled
	// no-org scanners as unknown) and unattributed rows presumed innocent
	// (as unknown; see orgDominated).
	WeightedF1 float64 `json:"weighted_f1"`
	// UnattributedAttributed is the share of unattributed rows given an
	// organisation: innocent scanners and unlisted members together.
	UnattributedAttributed float64 `json:"unattributed_attributed"`
}

// OperatingCurve scores the examples at thresholds 0.01..0.99.
func (m *Combiner) OperatingCurve(ex []Example) []CurvePoint {
	type scored struct {
		label, best int
		p           float64
		innocent    bool
	}
	rows := make([]scored, len(ex))
	for i := range ex {
		v := m.Decide(&ex[i].Row, 2) // no threshold reaches 2: best only
		rows[i] = scored{ex[i].Label, v.Best, v.BestProb, ex[i].Label == Unattributed && !ex[i].Row.orgDominated()}
	}
	var out []CurvePoint
	for t := 1; t <= 99; t++ {
		theta := float64(t) / 100
		var truth, pred []int
		unattr, attributed := 0, 0
		for _, r := range rows {
			c := m.K
			if r.best >= 0 && r.p >= theta {
				c = r.best
			}
			if r.label == Unattributed {
				unattr++
				if c != m.K {
					attributed++
				}
				if !r.innocent {
					continue
				}
			}
			// presumed-innocent scanners count as unknown, as in the fit
			truth = append(truth, min(max(r.label, m.K*boolInt(r.label < 0)), m.K))
			pred = append(pred, c)
		}
		f1, _ := eval.WeightedF1(truth, pred) // equal lengths by construction
		pt := CurvePoint{Theta: theta, WeightedF1: f1}
		if unattr > 0 {
			pt.UnattributedAttributed = float64(attributed) / float64(unattr)
		}
		out = append(out, pt)
	}
	return out
}

// ChooseTheta picks the threshold of best weighted F1 on the curve among
// those that attribute at most maxExtra more of the unattributed rows than
// the "more likely than not" rule (θ = 0.5) does. Unattributed scanners
// that the probabilities already give an organisation at 0.5 are mostly
// unlisted members; every one a lower threshold adds may be an innocent
// scanner, so maxExtra bounds over-attribution from above. When several
// thresholds tie on F1 (a validation slice the evidence separates
// perfectly), the middle one of them is taken: the one furthest from
// either kind of error.
func ChooseTheta(curve []CurvePoint, maxExtra float64) float64 {
	if len(curve) == 0 {
		return 0.5
	}
	base := 0.0
	for _, p := range curve {
		if math.Abs(p.Theta-0.5) < 1e-9 {
			base = p.UnattributedAttributed
		}
	}
	var ok []CurvePoint
	best := math.Inf(-1)
	for _, p := range curve {
		if p.UnattributedAttributed > base+maxExtra+1e-12 {
			continue
		}
		ok = append(ok, p)
		best = max(best, p.WeightedF1)
	}
	var top []float64
	for _, p := range ok {
		if p.WeightedF1 >= best-1e-12 {
			top = append(top, p.Theta)
		}
	}
	if len(top) == 0 {
		return 0.5
	}
	sort.Float64s(top)
	return top[len(top)/2]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
