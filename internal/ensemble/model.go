package ensemble

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Config sets up Fit. The zero value of every field but Unknown is a
// working default (sklearn's: C = 1, fitted to convergence).
type Config struct {
	// Unknown is K, the unknown class index; known classes are 0..K-1.
	Unknown int
	// C is the inverse L2 strength (sklearn's C); 0 means 1.0.
	C float64
	// MaxIter bounds L-BFGS iterations per binary fit; 0 means 10000, the
	// artifact's full-mode setting (its incremental mode used 100).
	MaxIter int
	// Tol is the largest gradient infinity norm of the normalised objective
	// at which a fit counts as converged; 0 means 1e-9, far tighter than
	// sklearn's 1e-4 so that results do not depend on the optimiser's path.
	Tol float64
	// Services fixes the feature columns' order; nil means the sorted
	// services seen in the fitting rows.
	Services []string
	// ClassNames, when given, names classes 0..K and is saved with the
	// model (org names live with the labels, not here).
	ClassNames []string
	// Window is saved with the model so identification cuts time the same.
	Window WindowConfig
	// Workers fits that many binary problems at once; 0 means GOMAXPROCS.
	// The result does not depend on it.
	Workers int
	// FitUnknown makes the unknown class a class of its own in the
	// one-vs-rest regression, learnt from the rows labelled Unknown, instead
	// of only a threshold on the known classes (the artifact). Vote patterns
	// that mostly belong to scanners of no known organisation are then
	// called unknown outright, whatever θ says.
	FitUnknown bool
	// Unweighted fits every row with weight 1 instead of sklearn's
	// class_weight='balanced' (the artifact). Balancing inflates small
	// classes, so a vote pattern shared by a few labelled scanners and many
	// unattributed ones goes to the org; unweighted, the regression follows
	// how often the pattern really belongs to each class.
	Unweighted bool
	// MultiHot encodes every value a service predicted for the row's
	// probes (IPRow.Seen) instead of the vote alone: an IP that sends a
	// tool everybody uses and a payload only one organisation sends shows
	// both.
	MultiHot bool
}

// ServiceFeatures is one service's block of the one-hot layout: one
// indicator per predicted class seen in the fitting rows (ascending), then
// one for "service absent" when some fitting row lacked the service. This
// is sklearn's OneHotEncoder(handle_unknown='infrequent_if_exist') with NaN
// as the absent category: values or absence never seen at fit time encode
// as all zeros.
type ServiceFeatures struct {
	Service string `json:"service"`
	Values  []int  `json:"values"`
	Absent  bool   `json:"absent"`
}

// Attribution is the ensemble's decision for one IP row.
type Attribution struct {
	// Class is a known class, or the unknown index when the largest
	// normalised probability is below θ.
	Class int
	// Prob is the largest normalised probability (also when unknown).
	Prob float64
}

// Model is a fitted ensemble; it comes from Fit or Load. Predictions only
// read it, so one Model serves concurrent callers.
type Model struct {
	Unknown    int
	Classes    []int    // known classes with a binary model, ascending
	ClassNames []string // optional names of classes 0..K
	Features   []ServiceFeatures
	// Coef and Intercept hold one binary classifier per class, or a single
	// one for Classes[1] when there are exactly two classes (sklearn's
	// binary case).
	Coef      [][]float64
	Intercept []float64
	C         float64
	Theta     float64
	// ThetaF1 is the weighted F1 on the rows θ was tuned on.
	ThetaF1 float64
	Window  WindowConfig
	Fits    []FitInfo
	// MultiHot: see Config.MultiHot.
	MultiHot bool

	index        []map[int]int // per service block: class value → feature index
	absentIndex  []int         // per service block: feature index of absent, or -1
	serviceBlock map[string]int
	width        int
}

func (cfg *Config) defaults() {
	if cfg.C == 0 {
		cfg.C = 1
	}
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 10000
	}
	if cfg.Tol == 0 {
		cfg.Tol = 1e-9
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
}

// Fit fits the ensemble. labels[i] is the true class of rows[i]: 0..K-1 a
// known org, K (Config.Unknown) an unknown-class scanner (the artifact's
// fully-disclosed censys/driftnet), negative an unattributed IP, which is
// ignored. The logistic regression is fitted on known-class rows only
// (with Config.FitUnknown, on the unknown-class rows too, as a class);
// θ is then tuned on the known and unknown-class rows (TuneTheta), as the
// artifact's full mode does; its incremental mode tunes θ on the latest
// week's rows only, which a caller gets by calling TuneTheta on them.
func Fit(rows []IPRow, labels []int, cfg Config) (*Model, error) {
	cfg.defaults()
	if len(rows) != len(labels) {
		return nil, fmt.Errorf("ensemble: %d rows but %d labels", len(rows), len(labels))
	}
	if cfg.Unknown <= 0 {
		return nil, fmt.Errorf("ensemble: unknown class index %d must be positive", cfg.Unknown)
	}
	if cfg.C < 0 || cfg.Tol < 0 || cfg.MaxIter < 0 {
		return nil, errors.New("ensemble: negative C, tolerance or iteration limit")
	}
	if err := cfg.Window.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClassNames != nil && len(cfg.ClassNames) != cfg.Unknown+1 {
		return nil, fmt.Errorf("ensemble: %d class names for %d classes", len(cfg.ClassNames), cfg.Unknown+1)
	}
	var fitRows []IPRow
	var fitLabels []int
	for i, l := range labels {
		if l > cfg.Unknown {
			return nil, fmt.Errorf("ensemble: row %d has label %d above the unknown class %d", i, l, cfg.Unknown)
		}
		if err := checkVotes(rows[i]); err != nil {
			return nil, err
		}
		if l >= 0 && (l < cfg.Unknown || cfg.FitUnknown) {
			fitRows = append(fitRows, rows[i])
			fitLabels = append(fitLabels, l)
		}
	}
	m := &Model{Unknown: cfg.Unknown, C: cfg.C, Window: cfg.Window, ClassNames: slices.Clone(cfg.ClassNames), MultiHot: cfg.MultiHot}
	for _, l := range fitLabels {
		if _, found := slices.BinarySearch(m.Classes, l); !found {
			m.Classes = append(m.Classes, l)
			slices.Sort(m.Classes)
		}
	}
	if len(m.Classes) < 2 {
		return nil, fmt.Errorf("ensemble: need known-class rows of at least 2 classes, got %d", len(m.Classes))
	}
	m.Features = layout(fitRows, cfg.Services, m.values)
	m.buildIndex()

	pat, classCounts := m.groupPatterns(fitRows, fitLabels)
	targets := m.Classes
	if len(m.Classes) == 2 {
		targets = m.Classes[1:]
	}
	m.Coef = make([][]float64, len(targets))
	m.Intercept = make([]float64, len(targets))
	m.Fits = make([]FitInfo, len(targets))
	errs := make([]error, len(targets))
	n := float64(len(fitLabels))
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range min(cfg.Workers, len(targets)) {
		wg.Go(func() {
			for t := range jobs {
				ci, _ := slices.BinarySearch(m.Classes, targets[t])
				nPos := 0.0
				for _, cc := range classCounts {
					nPos += cc[ci]
				}
				// sklearn's class_weight='balanced' applied to each OvR
				// binary problem: n / (2·count) for both sides.
				wPos, wNeg := n/(2*nPos), n/(2*(n-nPos))
				if cfg.Unweighted {
					wPos, wNeg = 1, 1
				}
				prob := &binaryProblem{pat: pat, c: cfg.C, total: n,
					pos: make([]float64, len(classCounts)), neg: make([]float64, len(classCounts))}
				for p, cc := range classCounts {
					all := 0.0
					for _, v := range cc {
						all += v
					}
					prob.pos[p] = cc[ci] * wPos
					prob.neg[p] = (all - cc[ci]) * wNeg
				}
				x, st, err := prob.fit(solverSettings{maxIter: cfg.MaxIter, gradTol: cfg.Tol})
				if err != nil {
					errs[t] = fmt.Errorf("class %d: %w", targets[t], err)
					continue
				}
				m.Coef[t] = x[:pat.width:pat.width]
				m.Intercept[t] = x[pat.width]
				m.Fits[t] = st
			}
		})
	}
	for t := range targets {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, err := m.TuneTheta(rows, labels); err != nil {
		return nil, err
	}
	return m, nil
}

func checkVotes(r IPRow) error {
	for svc, v := range r.Votes {
		if v < 0 {
			return fmt.Errorf("ensemble: IP %s window %d: negative %s vote %d", r.IP, r.Window, svc, v)
		}
	}
	for svc, seen := range r.Seen {
		if slices.ContainsFunc(seen, func(v int) bool { return v < 0 }) {
			return fmt.Errorf("ensemble: IP %s window %d: negative %s value in %v", r.IP, r.Window, svc, seen)
		}
	}
	return nil
}

// values returns the encoded values of a row's service: its vote, or with
// MultiHot every value seen (the vote alone for rows saved without Seen).
func (m *Model) values(r IPRow, svc string) ([]int, bool) {
	v, ok := r.Votes[svc]
	if !ok {
		return nil, false
	}
	if m.MultiHot {
		if seen := r.Seen[svc]; len(seen) > 0 {
			return seen, true
		}
	}
	return []int{v}, true
}

// layout derives the one-hot blocks from the fitting rows.
func layout(rows []IPRow, services []string, values func(IPRow, string) ([]int, bool)) []ServiceFeatures {
	if services == nil {
		seen := map[string]bool{}
		for _, r := range rows {
			for svc := range r.Votes {
				if !seen[svc] {
					seen[svc] = true
					services = append(services, svc)
				}
			}
		}
		slices.Sort(services)
	}
	out := make([]ServiceFeatures, 0, len(services))
	for _, svc := range services {
		f := ServiceFeatures{Service: svc}
		seen := map[int]bool{}
		for _, r := range rows {
			if vs, ok := values(r, svc); ok {
				for _, v := range vs {
					seen[v] = true
				}
			} else {
				f.Absent = true
			}
		}
		for v := range seen {
			f.Values = append(f.Values, v)
		}
		slices.Sort(f.Values)
		out = append(out, f)
	}
	return out
}

func (m *Model) buildIndex() {
	m.index = make([]map[int]int, len(m.Features))
	m.absentIndex = make([]int, len(m.Features))
	m.serviceBlock = make(map[string]int, len(m.Features))
	next := 0
	for b, f := range m.Features {
		m.serviceBlock[f.Service] = b
		m.index[b] = make(map[int]int, len(f.Values))
		for _, v := range f.Values {
			m.index[b][v] = next
			next++
		}
		m.absentIndex[b] = -1
		if f.Absent {
			m.absentIndex[b] = next
			next++
		}
	}
	m.width = next
}

// Width is the number of one-hot features.
func (m *Model) Width() int { return m.width }

// encode appends the active feature indices of a row to dst.
func (m *Model) encode(dst []int, r IPRow) []int {
	for b, f := range m.Features {
		if vs, ok := m.values(r, f.Service); ok {
			for _, v := range vs {
				if j, ok := m.index[b][v]; ok {
					dst = append(dst, j)
				}
			}
		} else if m.absentIndex[b] >= 0 {
			dst = append(dst, m.absentIndex[b])
		}
	}
	return dst
}

// groupPatterns collapses rows with the same features; classCounts[p][i]
// counts rows of pattern p labelled m.Classes[i].
func (m *Model) groupPatterns(rows []IPRow, labels []int) (*patterns, [][]float64) {
	pat := &patterns{width: m.width}
	var counts [][]float64
	ids := map[string]int{}
	var act []int
	var key strings.Builder
	for i, r := range rows {
		act = m.encode(act[:0], r)
		key.Reset()
		for _, j := range act {
			key.WriteString(strconv.Itoa(j))
			key.WriteByte(',')
		}
		id, ok := ids[key.String()]
		if !ok {
			id = len(pat.active)
			ids[key.String()] = id
			pat.active = append(pat.active, slices.Clone(act))
			counts = append(counts, make([]float64, len(m.Classes)))
		}
		ci, _ := slices.BinarySearch(m.Classes, labels[i])
		counts[id][ci]++
	}
	return pat, counts
}

// Proba returns, per row, the OvR probabilities of m.Classes normalised to
// sum 1 (sklearn's predict_proba for multi_class='ovr'; with two classes
// it is [1-σ, σ]).
func (m *Model) Proba(rows []IPRow) [][]float64 {
	out := make([][]float64, len(rows))
	var act []int
	for i, r := range rows {
		act = m.encode(act[:0], r)
		p := make([]float64, len(m.Classes))
		if len(m.Coef) == 1 {
			s := sigmoid(m.margin(0, act))
			p[0], p[1] = 1-s, s
		} else {
			sum := 0.0
			for k := range m.Coef {
				p[k] = sigmoid(m.margin(k, act))
				sum += p[k]
			}
			for k := range p {
				p[k] /= sum
			}
		}
		out[i] = p
	}
	return out
}

func (m *Model) margin(k int, active []int) float64 {
	z := m.Intercept[k]
	for _, j := range active {
		z += m.Coef[k][j]
	}
	return z
}

// Predict attributes each row with the model's θ.
func (m *Model) Predict(rows []IPRow) []Attribution {
	return m.PredictTheta(rows, m.Theta)
}

// PredictTheta attributes each row: the class with the largest normalised
// probability (the first one on ties, as numpy's argmax), or the unknown
// class when that probability is below theta.
func (m *Model) PredictTheta(rows []IPRow, theta float64) []Attribution {
	out := make([]Attribution, len(rows))
	for i, p := range m.Proba(rows) {
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		a := Attribution{Class: m.Classes[best], Prob: p[best]}
		if a.Prob < theta {
			a.Class = m.Unknown
		}
		out[i] = a
	}
	return out
}

// ThetaSteps is the θ grid: θ_i = i·0.01 for i = 0..100. The artifact's
// np.arange(0, 1.1, 0.01) also tries 1.01..1.09, which label every row
// unknown like 1.00 does (a normalised probability never exceeds 1), so
// under its first-strict-maximum rule they can never be chosen except when
// some probability is exactly 1.
const ThetaSteps = 100

// TuneTheta sets θ to the grid value that maximises weighted F1 over the
// rows with a label ≥ 0 (known classes and the unknown class; unattributed
// rows excluded), keeping the smallest θ among equal maxima (the
// artifact's "strictly greater" update). It returns the weighted F1 there.
func (m *Model) TuneTheta(rows []IPRow, labels []int) (float64, error) {
	if len(rows) != len(labels) {
		return 0, fmt.Errorf("ensemble: %d rows but %d labels", len(rows), len(labels))
	}
	var scored []IPRow
	var truth []int
	for i, l := range labels {
		if l > m.Unknown {
			return 0, fmt.Errorf("ensemble: row %d has label %d above the unknown class %d", i, l, m.Unknown)
		}
		if l >= 0 {
			scored = append(scored, rows[i])
			truth = append(truth, l)
		}
	}
	if len(scored) == 0 {
		return 0, errors.New("ensemble: no labelled rows to tune θ on")
	}
	atts := m.PredictTheta(scored, 0)
	pred := make([]int, len(atts))
	var counts f1Counter
	bestTheta, bestF1 := 0.0, -1.0
	for i := 0; i <= ThetaSteps; i++ {
		theta := float64(i) * 0.01
		for r, a := range atts {
			pred[r] = a.Class
			if a.Prob < theta {
				pred[r] = m.Unknown
			}
		}
		f1 := counts.weightedF1(truth, pred, m.Unknown+1)
		if f1 > bestF1 {
			bestTheta, bestF1 = theta, f1
		}
	}
	m.Theta, m.ThetaF1 = bestTheta, bestF1
	return bestF1, nil
}

// f1Counter is eval.WeightedF1 for class indices in [0, n) with reusable
// dense counts: the θ search scores a hundred thresholds.
type f1Counter struct{ support, predicted, correct []int }

func (c *f1Counter) weightedF1(truth, pred []int, n int) float64 {
	if len(truth) == 0 {
		return 0
	}
	for _, s := range []*[]int{&c.support, &c.predicted, &c.correct} {
		*s = slices.Grow((*s)[:0], n)[:n]
		clear(*s)
	}
	for i, t := range truth {
		p := pred[i]
		c.support[t]++
		c.predicted[p]++
		if t == p {
			c.correct[t]++
		}
	}
	sum := 0.0
	for k, s := range c.support {
		if s > 0 {
			// F1 = 2·tp / (support + predicted), sklearn's zero_division=0.
			sum += float64(s) * float64(2*c.correct[k]) / float64(s+c.predicted[k])
		}
	}
	return sum / float64(len(truth))
}
