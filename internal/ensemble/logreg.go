package ensemble

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

// patterns holds the distinct sparse binary feature vectors of a data set.
// Every row of the ensemble is one-hot per service, so a few hundred
// patterns stand for tens of thousands of IP rows; the weighted logistic
// loss over patterns equals the loss over rows, so fitting on patterns
// gives exactly the same optimum at a fraction of the cost.
type patterns struct {
	width  int
	active [][]int // per pattern, the indices of its 1-valued features
}

// binaryProblem is one weighted L2-regularised logistic regression over
// patterns: pattern p carries weight pos[p] as a positive sample and
// neg[p] as a negative one.
type binaryProblem struct {
	pat      *patterns
	pos, neg []float64
	c        float64
	total    float64 // Σ pos + neg, the normaliser sklearn's lbfgs path uses
	// cache of the last evaluated point
	z, sig []float64
	lastX  []float64
	loss   float64
	valid  bool
}

// params: x[0:width] are the feature weights, x[width] the intercept
// (unpenalised, as in sklearn).
func (b *binaryProblem) margins(x []float64) {
	w := b.pat.width
	for p, act := range b.pat.active {
		z := x[w]
		for _, j := range act {
			z += x[j]
		}
		b.z[p] = z
	}
}

// evaluate computes the margins, the loss and σ(z) per pattern at x, once
// per point: gonum asks for the function and the gradient at the same x.
func (b *binaryProblem) evaluate(x []float64) {
	if b.valid && floats.Equal(x, b.lastX) {
		return
	}
	b.margins(x)
	loss := 0.0
	for p, z := range b.z {
		// softplus(z) = max(z, 0) + log1p(e^-|z|), and softplus(-z) =
		// softplus(z) - z, so one exp and one log1p serve both terms.
		e := math.Exp(-math.Abs(z))
		sp := math.Log1p(e)
		if z > 0 {
			sp += z
			b.sig[p] = 1 / (1 + e)
		} else {
			b.sig[p] = e / (1 + e)
		}
		loss += b.pos[p]*(sp-z) + b.neg[p]*sp
	}
	w := x[:b.pat.width]
	b.loss = (loss + floats.Dot(w, w)/(2*b.c)) / b.total
	b.lastX = append(b.lastX[:0], x...)
	b.valid = true
}

// objective is (Σ_p pos·log(1+e^-z) + neg·log(1+e^z) + ||w||²/(2C)) / total,
// sklearn's lbfgs objective for LogisticRegression with sample weights.
func (b *binaryProblem) objective(x []float64) float64 {
	b.evaluate(x)
	return b.loss
}

func (b *binaryProblem) gradient(grad, x []float64) {
	b.evaluate(x)
	width := b.pat.width
	for j := range grad {
		grad[j] = 0
	}
	for p, s := range b.sig {
		g := (b.pos[p]+b.neg[p])*s - b.pos[p]
		for _, j := range b.pat.active[p] {
			grad[j] += g
		}
		grad[width] += g
	}
	for j := 0; j < width; j++ {
		grad[j] += x[j] / b.c
	}
	floats.Scale(1/b.total, grad)
}

// solverSettings bound one binary fit.
type solverSettings struct {
	maxIter int
	// gradTol is the infinity norm of the normalised objective's gradient
	// at which the fit counts as converged.
	gradTol float64
}

// FitInfo tells how one binary L-BFGS fit ended (saved with the model).
type FitInfo struct {
	Iterations int     `json:"iterations"`
	GradNorm   float64 `json:"grad_norm"`
	Converged  bool    `json:"converged"`
}

// fit minimises the objective with gonum's L-BFGS from zero (sklearn's
// start). Like sklearn, running out of iterations is not an error (the
// caller sees Converged false); a NaN is.
func (b *binaryProblem) fit(s solverSettings) ([]float64, FitInfo, error) {
	if b.total <= 0 {
		return nil, FitInfo{}, errors.New("ensemble: binary problem without samples")
	}
	b.z = make([]float64, len(b.pat.active))
	b.sig = make([]float64, len(b.pat.active))
	dim := b.pat.width + 1
	x0 := make([]float64, dim)
	settings := &optimize.Settings{
		GradientThreshold: s.gradTol,
		MajorIterations:   s.maxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-16, Relative: 1e-16, Iterations: 50},
	}
	res, err := optimize.Minimize(optimize.Problem{Func: b.objective, Grad: b.gradient}, x0, settings, &optimize.LBFGS{})
	if res == nil {
		return nil, FitInfo{}, fmt.Errorf("ensemble: L-BFGS: %w", err)
	}
	grad := make([]float64, dim)
	b.gradient(grad, res.X)
	st := FitInfo{Iterations: res.Stats.MajorIterations, GradNorm: floats.Norm(grad, math.Inf(1))}
	if math.IsNaN(st.GradNorm) || floats.HasNaN(res.X) {
		return nil, st, errors.New("ensemble: L-BFGS diverged (NaN)")
	}
	// gonum ends with a line-search error when no step improves any more,
	// which near the optimum just means it has converged.
	st.Converged = st.GradNorm <= 10*s.gradTol
	return res.X, st, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
