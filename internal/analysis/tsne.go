package analysis

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// TSNEConfig controls the 2-D embedding. Defaults follow scikit-learn's TSNE as the artifact ran
// it (perplexity 30, PCA initialisation, learning rate "auto", 1000 iterations, early exaggeration
// 12 for 250 iterations).
type TSNEConfig struct {
	Perplexity   float64 // default 30 (lowered automatically for tiny sets)
	Iterations   int     // default 1000
	Theta        float64 // Barnes–Hut opening angle, default 0.5
	ExactMax     int     // sets of at most this many points use exact gradients (default 1000)
	PCADims      int     // project the input on this many principal components first (default 50; <0: never)
	LearningRate float64 // 0: max(N/12/4, 50)
	RandomInit   bool    // seeded Gaussian start instead of the PCA start
	Seed         uint64
	Workers      int // 0 = GOMAXPROCS; results do not depend on it
}

func (c TSNEConfig) withDefaults(n int) TSNEConfig {
	if c.Perplexity <= 0 {
		c.Perplexity = 30
	}
	// The binary search needs more neighbours than the perplexity asks for.
	c.Perplexity = min(c.Perplexity, float64(n-1)/3)
	if c.Iterations <= 0 {
		c.Iterations = 1000
	}
	if c.Theta <= 0 {
		c.Theta = 0.5
	}
	if c.ExactMax == 0 {
		c.ExactMax = 1000
	}
	if c.PCADims == 0 {
		c.PCADims = 50
	}
	if c.LearningRate <= 0 {
		c.LearningRate = max(float64(n)/earlyExaggeration/4, 50)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

const (
	maxExact          = 5000
	earlyExaggeration = 12.0
	exaggerationIters = 250
	minGain           = 0.01
)

// TSNE embeds p in 2-D: exact gradients up to cfg.ExactMax points, Barnes–Hut (sparse
// 3·perplexity-nearest-neighbour affinities, quadtree repulsion) above. Deterministic for a seed.
func TSNE(p *Points, cfg TSNEConfig) ([][2]float64, error) {
	if p == nil || p.N == 0 {
		return nil, errors.New("analysis: t-SNE on no points")
	}
	n := p.N
	if n < 4 {
		return nil, fmt.Errorf("analysis: t-SNE needs at least 4 points, got %d", n)
	}
	cfg = cfg.withDefaults(n)
	x := p
	if cfg.PCADims > 0 && p.D > cfg.PCADims {
		x = pcaProject(p, cfg.PCADims)
	}
	var y []float64
	if cfg.RandomInit {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x74736e65))
		y = make([]float64, 2*n)
		for i := range y {
			y[i] = 1e-4 * rng.NormFloat64()
		}
	} else {
		y = pcaProject(x, 2).X
		// scikit-learn scales the PCA start so the first axis has standard deviation 1e-4.
		sd := 0.0
		for i := range n {
			sd += y[2*i] * y[2*i]
		}
		sd = math.Sqrt(sd / float64(n))
		if sd == 0 {
			sd = 1
		}
		for i := range y {
			y[i] *= 1e-4 / sd
		}
	}
	var grad func(y, g []float64, exag float64)
	// The exact gradient keeps an N×N matrix; above maxExact it would not fit comfortably.
	if n <= min(cfg.ExactMax, maxExact) {
		pm := exactAffinities(x, cfg.Perplexity, cfg.Workers)
		grad = func(y, g []float64, exag float64) { exactGradient(pm, y, g, exag, cfg.Workers) }
	} else {
		sp := sparseAffinities(x, cfg.Perplexity, cfg.Workers)
		tree := &quadtree{}
		fx := make([]float64, 2*n)
		zs := make([]float64, n)
		grad = func(y, g []float64, exag float64) { bhGradient(sp, tree, y, g, fx, zs, exag, cfg.Theta, cfg.Workers) }
	}
	optimise(y, grad, cfg)
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{y[2*i], y[2*i+1]}
	}
	return out, nil
}

// optimise is gradient descent with momentum and per-coordinate gains (delta-bar-delta), as in
// the reference implementations.
func optimise(y []float64, grad func(y, g []float64, exag float64), cfg TSNEConfig) {
	n := len(y) / 2
	g := make([]float64, len(y))
	update := make([]float64, len(y))
	gains := make([]float64, len(y))
	for i := range gains {
		gains[i] = 1
	}
	for it := range cfg.Iterations {
		exag, momentum := 1.0, 0.8
		if it < exaggerationIters {
			exag, momentum = earlyExaggeration, 0.5
		}
		grad(y, g, exag)
		for i := range y {
			if update[i]*g[i] < 0 {
				gains[i] += 0.2
			} else {
				gains[i] = max(gains[i]*0.8, minGain)
			}
			update[i] = momentum*update[i] - cfg.LearningRate*gains[i]*g[i]
			y[i] += update[i]
		}
		// Keep the layout centred so the quadtree's box stays put.
		var mx, my float64
		for i := range n {
			mx += y[2*i]
			my += y[2*i+1]
		}
		mx /= float64(n)
		my /= float64(n)
		for i := range n {
			y[2*i] -= mx
			y[2*i+1] -= my
		}
	}
}

// pcaProject returns the centred data projected on its top `dims` principal components, each
// component's sign fixed so that its largest loading is positive (eigenvectors are only defined up
// to sign).
func pcaProject(p *Points, dims int) *Points {
	d := p.D
	dims = min(dims, d)
	mean := make([]float64, d)
	for i := range p.N {
		for j, v := range p.Row(i) {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(p.N)
	}
	centred := make([]float64, len(p.X))
	for i := range p.N {
		r := p.Row(i)
		for j := range d {
			centred[i*d+j] = r[j] - mean[j]
		}
	}
	cm := mat.NewDense(p.N, d, centred)
	var cov mat.SymDense
	cov.SymOuterK(1, cm.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		// Cannot happen for a real symmetric matrix; fall back to the leading raw coordinates.
		out := &Points{N: p.N, D: dims, X: make([]float64, p.N*dims)}
		for i := range p.N {
			copy(out.X[i*dims:(i+1)*dims], centred[i*d:i*d+dims])
		}
		return out
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	vals := eig.Values(nil) // ascending
	comps := make([][]float64, dims)
	for c := range dims {
		col := len(vals) - 1 - c
		v := make([]float64, d)
		big := 0
		for j := range d {
			v[j] = vec.At(j, col)
			if math.Abs(v[j]) > math.Abs(v[big]) {
				big = j
			}
		}
		if v[big] < 0 {
			for j := range v {
				v[j] = -v[j]
			}
		}
		comps[c] = v
	}
	out := &Points{N: p.N, D: dims, X: make([]float64, p.N*dims)}
	for i := range p.N {
		r := centred[i*d : (i+1)*d]
		for c, v := range comps {
			s := 0.0
			for j := range d {
				s += r[j] * v[j]
			}
			out.X[i*dims+c] = s
		}
	}
	return out
}

// conditionalRow turns squared distances to candidate neighbours into p_{j|i} with the Gaussian
// bandwidth found by bisection so that the row's entropy is log(perplexity).
func conditionalRow(dist2 []float64, perplexity float64, out []float64) {
	target := math.Log(perplexity)
	minD := math.Inf(1)
	for _, d := range dist2 {
		minD = min(minD, d)
	}
	beta, lo, hi := 1.0, 0.0, math.Inf(1)
	for range 200 {
		sum, sumDP := 0.0, 0.0
		for j, d := range dist2 {
			w := math.Exp(-(d - minD) * beta)
			out[j] = w
			sum += w
			sumDP += (d - minD) * w
		}
		h := math.Log(sum) + beta*sumDP/sum
		diff := h - target
		if math.Abs(diff) < 1e-5 {
			break
		}
		if diff > 0 {
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			beta = (beta + lo) / 2
		}
	}
	sum := 0.0
	for _, w := range out[:len(dist2)] {
		sum += w
	}
	for j := range dist2 {
		out[j] /= sum
	}
}

// exactAffinities is the dense symmetric P (sum 1).
func exactAffinities(x *Points, perplexity float64, workers int) []float64 {
	n := x.N
	pm := make([]float64, n*n)
	parallelFor(n, workers, func(lo, hi int) {
		d2 := make([]float64, n-1)
		row := make([]float64, n-1)
		for i := lo; i < hi; i++ {
			k := 0
			for j := range n {
				if j != i {
					d2[k] = sqDist(x.Row(i), x.Row(j))
					k++
				}
			}
			conditionalRow(d2, perplexity, row)
			k = 0
			for j := range n {
				if j != i {
					pm[i*n+j] = row[k]
					k++
				}
			}
		}
	})
	for i := range n {
		for j := i + 1; j < n; j++ {
			v := (pm[i*n+j] + pm[j*n+i]) / (2 * float64(n))
			v = max(v, 1e-12)
			pm[i*n+j], pm[j*n+i] = v, v
		}
	}
	return pm
}

func exactGradient(pm, y, g []float64, exag float64, workers int) {
	n := len(y) / 2
	zPart := make([]float64, n)
	parallelFor(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := 0.0
			for j := range n {
				if j != i {
					dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
					s += 1 / (1 + dx*dx + dy*dy)
				}
			}
			zPart[i] = s
		}
	})
	z := 0.0
	for _, v := range zPart {
		z += v
	}
	parallelFor(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var gx, gy float64
			for j := range n {
				if j == i {
					continue
				}
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				m := (exag*pm[i*n+j] - q/z) * q
				gx += m * dx
				gy += m * dy
			}
			g[2*i], g[2*i+1] = 4*gx, 4*gy
		}
	})
}

// sparseP is a symmetric affinity matrix in compressed rows.
type sparseP struct {
	rowStart []int
	col      []int32
	val      []float64
}

type neighbour struct {
	d2 float64
	j  int32
}

// sparseAffinities computes p_{j|i} over each point's 3·perplexity nearest neighbours (exact
// brute-force search; ties go to the lower index) and symmetrises.
func sparseAffinities(x *Points, perplexity float64, workers int) *sparseP {
	n := x.N
	k := min(n-1, int(3*perplexity))
	nbr := make([]int32, n*k)
	cond := make([]float64, n*k)
	parallelFor(n, workers, func(lo, hi int) {
		heap := make([]neighbour, 0, k)
		d2 := make([]float64, k)
		row := make([]float64, k)
		for i := lo; i < hi; i++ {
			heap = heap[:0]
			ri := x.Row(i)
			for j := range n {
				if j == i {
					continue
				}
				d := sqDist(ri, x.Row(j))
				if len(heap) < k {
					heap = append(heap, neighbour{d, int32(j)})
					siftUp(heap, len(heap)-1)
				} else if d < heap[0].d2 {
					// Scanning j upwards, an equal distance never displaces a lower index.
					heap[0] = neighbour{d, int32(j)}
					siftDown(heap, 0)
				}
			}
			slices.SortFunc(heap, func(a, b neighbour) int {
				if c := cmp.Compare(a.d2, b.d2); c != 0 {
					return c
				}
				return cmp.Compare(a.j, b.j)
			})
			for t, nb := range heap {
				d2[t] = nb.d2
				nbr[i*k+t] = nb.j
			}
			conditionalRow(d2, perplexity, row)
			copy(cond[i*k:(i+1)*k], row)
		}
	})
	type entry struct {
		i, j int32
		v    float64
	}
	entries := make([]entry, 0, 2*n*k)
	for i := range n {
		for t := range k {
			j := nbr[i*k+t]
			v := cond[i*k+t]
			entries = append(entries, entry{int32(i), j, v}, entry{j, int32(i), v})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.i, b.i); c != 0 {
			return c
		}
		return cmp.Compare(a.j, b.j)
	})
	sp := &sparseP{rowStart: make([]int, n+1)}
	norm := 1 / (2 * float64(n))
	for e := 0; e < len(entries); {
		cur := entries[e]
		v := 0.0
		for e < len(entries) && entries[e].i == cur.i && entries[e].j == cur.j {
			v += entries[e].v
			e++
		}
		sp.col = append(sp.col, cur.j)
		sp.val = append(sp.val, v*norm)
		sp.rowStart[cur.i+1] = len(sp.col)
	}
	for i := 1; i <= n; i++ {
		sp.rowStart[i] = max(sp.rowStart[i], sp.rowStart[i-1])
	}
	return sp
}

// A max-heap on distance; among equal distances the higher index is on top, so it leaves first.
func heapLess(a, b neighbour) bool {
	if a.d2 != b.d2 {
		return a.d2 > b.d2
	}
	return a.j > b.j
}

func siftUp(h []neighbour, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !heapLess(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []neighbour, i int) {
	for {
		l, top := 2*i+1, i
		if l < len(h) && heapLess(h[l], h[top]) {
			top = l
		}
		if r := l + 1; r < len(h) && heapLess(h[r], h[top]) {
			top = r
		}
		if top == i {
			return
		}
		h[i], h[top] = h[top], h[i]
		i = top
	}
}

// quadtree over the current layout. Nodes live in one slice, the children of a node next to each
// other, and hold only what the force walk reads, so the walk stays in cache.
type quadtree struct {
	nodes  []qnode
	perm   []int32
	tmp    []int32
	leafOf []int32 // leaf node of each point
	y      []float64
}

type qnode struct {
	comX, comY float64 // centre of mass
	hw2        float64 // squared half width of the cell
	mass       float64 // number of points
	firstChild int32
	children   int32 // 0 for a leaf
}

const maxTreeDepth = 40

func (t *quadtree) build(y []float64) {
	n := len(y) / 2
	t.y = y
	t.nodes = t.nodes[:0]
	if cap(t.perm) < n {
		t.perm = make([]int32, n)
		t.tmp = make([]int32, n)
		t.leafOf = make([]int32, n)
	}
	t.perm = t.perm[:n]
	for i := range t.perm {
		t.perm[i] = int32(i)
	}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range n {
		minX, maxX = min(minX, y[2*i]), max(maxX, y[2*i])
		minY, maxY = min(minY, y[2*i+1]), max(maxY, y[2*i+1])
	}
	hw := max(maxX-minX, maxY-minY)/2 + 1e-5
	t.nodes = append(t.nodes, qnode{})
	t.fill(0, 0, int32(n), (minX+maxX)/2, (minY+maxY)/2, hw, 0)
}

func (t *quadtree) fill(id, start, end int32, cx, cy, hw float64, depth int) {
	var sx, sy float64
	for _, i := range t.perm[start:end] {
		sx += t.y[2*i]
		sy += t.y[2*i+1]
	}
	cnt := float64(end - start)
	t.nodes[id] = qnode{comX: sx / cnt, comY: sy / cnt, hw2: hw * hw, mass: cnt}
	if end-start <= 1 || depth >= maxTreeDepth {
		for _, i := range t.perm[start:end] {
			t.leafOf[i] = id
		}
		return
	}
	// Counting sort of the range into the four quadrants (keeps the original order inside each).
	var counts [4]int32
	quad := func(i int32) int {
		q := 0
		if t.y[2*i] >= cx {
			q |= 1
		}
		if t.y[2*i+1] >= cy {
			q |= 2
		}
		return q
	}
	for _, i := range t.perm[start:end] {
		counts[quad(i)]++
	}
	var offs [4]int32
	offs[0] = start
	for q := 1; q < 4; q++ {
		offs[q] = offs[q-1] + counts[q-1]
	}
	bounds := offs
	for _, i := range t.perm[start:end] {
		q := quad(i)
		t.tmp[offs[q]] = i
		offs[q]++
	}
	copy(t.perm[start:end], t.tmp[start:end])
	first := int32(len(t.nodes))
	for q := range 4 {
		if counts[q] > 0 {
			t.nodes = append(t.nodes, qnode{})
		}
	}
	t.nodes[id].firstChild, t.nodes[id].children = first, int32(len(t.nodes))-first
	h := hw / 2
	child := first
	for q := range 4 {
		if counts[q] == 0 {
			continue
		}
		ncx, ncy := cx-h, cy-h
		if q&1 != 0 {
			ncx = cx + h
		}
		if q&2 != 0 {
			ncy = cy + h
		}
		t.fill(child, bounds[q], bounds[q]+counts[q], ncx, ncy, h, depth+1)
		child++
	}
}

// repulsion returns the unnormalised repulsive force on point i and its share of Z.
func (t *quadtree) repulsion(i int32, theta2 float64, stack []int32) (fx, fy, z float64, _ []int32) {
	xi, yi := t.y[2*i], t.y[2*i+1]
	self := t.leafOf[i]
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := t.nodes[id]
		dx, dy := xi-nd.comX, yi-nd.comY
		d2 := dx*dx + dy*dy
		// A leaf holds one point or, below the depth limit, points that coincide (identical
		// payloads project identically), which act as one mass. An inner cell is summarised by
		// van der Maaten's criterion: half its width over the distance below θ.
		if nd.children == 0 || nd.hw2 < theta2*d2 {
			m := nd.mass
			if id == self {
				m--
			}
			if m == 0 {
				continue
			}
			q := 1 / (1 + d2)
			z += m * q
			fx += m * q * q * dx
			fy += m * q * q * dy
			continue
		}
		for c := nd.firstChild; c < nd.firstChild+nd.children; c++ {
			stack = append(stack, c)
		}
	}
	return fx, fy, z, stack
}

func bhGradient(sp *sparseP, t *quadtree, y, g, rep, zs []float64, exag, theta float64, workers int) {
	n := len(y) / 2
	t.build(y)
	theta2 := theta * theta
	parallelFor(n, workers, func(lo, hi int) {
		stack := make([]int32, 0, 256)
		for i := lo; i < hi; i++ {
			var fx, fy, z float64
			fx, fy, z, stack = t.repulsion(int32(i), theta2, stack)
			rep[2*i], rep[2*i+1], zs[i] = fx, fy, z
		}
	})
	z := 0.0
	for _, v := range zs {
		z += v
	}
	parallelFor(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var ax, ay float64
			for e := sp.rowStart[i]; e < sp.rowStart[i+1]; e++ {
				j := sp.col[e]
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				m := exag * sp.val[e] * q
				ax += m * dx
				ay += m * dy
			}
			g[2*i] = 4 * (ax - rep[2*i]/z)
			g[2*i+1] = 4 * (ay - rep[2*i+1]/z)
		}
	})
}
