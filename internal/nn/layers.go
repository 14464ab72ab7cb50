package nn

import (
	"fmt"
	"math"
)

// Dense is a fully connected layer y = x·Wᵀ + b with W of shape [Out, In]
// (PyTorch nn.Linear). Any input whose rows have In elements is accepted.
type Dense struct {
	In, Out int
	W       *Param
	B       *Param // nil without bias
	x       *Tensor
}

// NewDense returns a zero-initialised dense layer; use an Init function.
func NewDense(name string, in, out int, bias bool) *Dense {
	d := &Dense{In: in, Out: out, W: newParam(name+".weight", out, in)}
	if bias {
		d.B = newParam(name+".bias", out)
	}
	return d
}

// Forward computes x·Wᵀ + b.
func (d *Dense) Forward(x *Tensor, _ *Pass) *Tensor {
	n := x.Rows()
	if x.RowLen() != d.In && n > 0 {
		panic(fmt.Sprintf("nn: %s expects %d inputs, got %d", d.W.Name, d.In, x.RowLen()))
	}
	d.x = x
	y := NewTensor(n, d.Out)
	if d.B != nil {
		for i := 0; i < n; i++ {
			copy(y.Data[i*d.Out:(i+1)*d.Out], d.B.Data)
		}
	}
	beta := float32(0)
	if d.B != nil {
		beta = 1
	}
	gemm(false, true, n, d.Out, d.In, 1, x.Data, d.In, d.W.Data, d.In, beta, y.Data, d.Out)
	return y
}

// Backward accumulates dW = dyᵀ·x, db = Σ dy and returns dy·W.
func (d *Dense) Backward(dy *Tensor) *Tensor {
	n := dy.Rows()
	gemm(true, false, d.Out, d.In, n, 1, dy.Data, d.Out, d.x.Data, d.In, 1, d.W.Grad, d.In)
	if d.B != nil {
		for i := 0; i < n; i++ {
			row := dy.Data[i*d.Out : (i+1)*d.Out]
			for j, v := range row {
				d.B.Grad[j] += v
			}
		}
	}
	dx := &Tensor{Shape: append([]int(nil), d.x.Shape...), Data: make([]float32, len(d.x.Data))}
	gemm(false, false, n, d.In, d.Out, 1, dy.Data, d.Out, d.W.Data, d.In, 0, dx.Data, d.In)
	return dx
}

// Params returns W (and b).
func (d *Dense) Params() []*Param {
	if d.B == nil {
		return []*Param{d.W}
	}
	return []*Param{d.W, d.B}
}

// Buffers returns nothing.
func (d *Dense) Buffers() []*Buffer { return nil }

// LeakyReLU is max(x, slope·x); slope 0 is ReLU. The derivative at exactly 0
// is taken as slope, as PyTorch does.
type LeakyReLU struct {
	Slope float32
	x     *Tensor
}

// Forward applies the activation.
func (a *LeakyReLU) Forward(x *Tensor, _ *Pass) *Tensor {
	a.x = x
	y := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	parallelBlocks(len(x.Data), elementGrain, func(_, lo, hi int) {
		for i, v := range x.Data[lo:hi] {
			if v > 0 {
				y.Data[lo+i] = v
			} else {
				y.Data[lo+i] = v * a.Slope
			}
		}
	})
	return y
}

// Backward passes dy where x > 0 and slope·dy elsewhere.
func (a *LeakyReLU) Backward(dy *Tensor) *Tensor {
	dx := &Tensor{Shape: append([]int(nil), dy.Shape...), Data: make([]float32, len(dy.Data))}
	parallelBlocks(len(dy.Data), elementGrain, func(_, lo, hi int) {
		for i, v := range a.x.Data[lo:hi] {
			if v > 0 {
				dx.Data[lo+i] = dy.Data[lo+i]
			} else {
				dx.Data[lo+i] = dy.Data[lo+i] * a.Slope
			}
		}
	})
	return dx
}

// Params returns nothing.
func (a *LeakyReLU) Params() []*Param { return nil }

// Buffers returns nothing.
func (a *LeakyReLU) Buffers() []*Buffer { return nil }

// GlobalAvgPool averages an NHWC tensor over H and W, giving [N, C]
// (adaptive_avg_pool2d to 1×1 followed by a flatten).
type GlobalAvgPool struct {
	shape []int
}

// Forward averages over the spatial positions.
func (g *GlobalAvgPool) Forward(x *Tensor, _ *Pass) *Tensor {
	if len(x.Shape) != 4 {
		panic("nn: GlobalAvgPool needs an NHWC tensor")
	}
	g.shape = append(g.shape[:0], x.Shape...)
	n, hw, c := x.Shape[0], x.Shape[1]*x.Shape[2], x.Shape[3]
	y := NewTensor(n, c)
	acc := make([]float64, c)
	for i := 0; i < n; i++ {
		clear(acc)
		base := x.Data[i*hw*c : (i+1)*hw*c]
		for p := 0; p < hw; p++ {
			for j, v := range base[p*c : (p+1)*c] {
				acc[j] += float64(v)
			}
		}
		for j := range acc {
			y.Data[i*c+j] = float32(acc[j] / float64(hw))
		}
	}
	return y
}

// Backward spreads dy/(H·W) over every position.
func (g *GlobalAvgPool) Backward(dy *Tensor) *Tensor {
	n, hw, c := g.shape[0], g.shape[1]*g.shape[2], g.shape[3]
	dx := NewTensor(g.shape...)
	inv := 1 / float32(hw)
	for i := 0; i < n; i++ {
		src := dy.Data[i*c : (i+1)*c]
		for p := 0; p < hw; p++ {
			dst := dx.Data[(i*hw+p)*c : (i*hw+p+1)*c]
			for j, v := range src {
				dst[j] = v * inv
			}
		}
	}
	return dx
}

// Params returns nothing.
func (g *GlobalAvgPool) Params() []*Param { return nil }

// Buffers returns nothing.
func (g *GlobalAvgPool) Buffers() []*Buffer { return nil }

// BatchNorm normalises the last dimension (channels) of its input over all
// other positions, as nn.BatchNorm1d/2d do for [N, C] and NCHW inputs.
// Training uses the (row-weighted) batch statistics and updates running
// statistics with PyTorch's convention running = (1−m)·running + m·batch,
// where the running variance takes the unbiased batch variance.
type BatchNorm struct {
	C        int
	Momentum float64
	Eps      float64
	Gamma    *Param
	Beta     *Param
	RunMean  *Buffer
	RunVar   *Buffer

	train     bool
	xhat      []float32
	invStd    []float64
	posWeight []float32 // weight of each normalised position (nil = 1)
	total     float64   // Σ weights over positions
}

// NewBatchNorm returns BN with γ = 1, β = 0, running mean 0, running var 1.
func NewBatchNorm(name string, c int, momentum, eps float64) *BatchNorm {
	b := &BatchNorm{C: c, Momentum: momentum, Eps: eps,
		Gamma: newParam(name+".weight", c), Beta: newParam(name+".bias", c),
		RunMean: &Buffer{Name: name + ".running_mean", Data: make([]float32, c)},
		RunVar:  &Buffer{Name: name + ".running_var", Data: make([]float32, c)},
	}
	for i := 0; i < c; i++ {
		b.Gamma.Data[i] = 1
		b.RunVar.Data[i] = 1
	}
	return b
}

// Forward normalises x.
func (b *BatchNorm) Forward(x *Tensor, p *Pass) *Tensor {
	c := b.C
	if x.Shape[len(x.Shape)-1] != c {
		panic(fmt.Sprintf("nn: %s expects %d channels, got shape %v", b.Gamma.Name, c, x.Shape))
	}
	positions := len(x.Data) / c
	grain := max(1, elementGrain/c)
	y := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	b.xhat = make([]float32, len(x.Data))
	b.invStd = make([]float64, c)
	// The per-element pass runs in float32 with per-channel constants; the
	// statistics themselves are accumulated in float64.
	normalise := func(mean []float64) {
		mu := make([]float32, c)
		inv := make([]float32, c)
		for j := range mu {
			mu[j], inv[j] = float32(mean[j]), float32(b.invStd[j])
		}
		gamma, beta := b.Gamma.Data[:c], b.Beta.Data[:c]
		parallelBlocks(positions, grain, func(_, lo, hi int) {
			for pos := lo; pos < hi; pos++ {
				xs := x.Data[pos*c : (pos+1)*c]
				xh := b.xhat[pos*c : (pos+1)*c]
				ys := y.Data[pos*c : (pos+1)*c]
				for j, v := range xs {
					h := (v - mu[j]) * inv[j]
					xh[j] = h
					ys[j] = gamma[j]*h + beta[j]
				}
			}
		})
	}
	b.train = p != nil && p.Train
	if !b.train {
		mean := make([]float64, c)
		for j := 0; j < c; j++ {
			mean[j] = float64(b.RunMean.Data[j])
			b.invStd[j] = 1 / math.Sqrt(float64(b.RunVar.Data[j])+b.Eps)
		}
		normalise(mean)
		return y
	}

	// Row weights are per batch entry; every spatial position of an entry
	// carries its entry's weight.
	perRow := 1
	if x.Rows() > 0 {
		perRow = positions / x.Rows()
	}
	b.posWeight = nil
	if p.Weights != nil {
		if len(p.Weights) != x.Rows() {
			panic("nn: Pass.Weights length differs from the batch size")
		}
		b.posWeight = make([]float32, 0, positions)
		for _, w := range p.Weights {
			for k := 0; k < perRow; k++ {
				b.posWeight = append(b.posWeight, w)
			}
		}
	}
	weight := func(pos int) float64 {
		if b.posWeight == nil {
			return 1
		}
		return float64(b.posWeight[pos])
	}

	// Two-pass weighted statistics with one partial sum per fixed block,
	// combined in block order (deterministic for any GOMAXPROCS).
	blocks := (positions + grain - 1) / grain
	part := make([]float64, blocks*(c+1))
	parallelBlocks(positions, grain, func(bk, lo, hi int) {
		acc := part[bk*(c+1) : (bk+1)*(c+1)]
		for pos := lo; pos < hi; pos++ {
			w := weight(pos)
			acc[c] += w
			for j, v := range x.Data[pos*c : (pos+1)*c] {
				acc[j] += w * float64(v)
			}
		}
	})
	mean := make([]float64, c)
	total := 0.0
	for bk := 0; bk < blocks; bk++ {
		for j := 0; j < c; j++ {
			mean[j] += part[bk*(c+1)+j]
		}
		total += part[bk*(c+1)+c]
	}
	b.total = total
	for j := range mean {
		mean[j] /= total
	}
	clear(part)
	parallelBlocks(positions, grain, func(bk, lo, hi int) {
		acc := part[bk*(c+1) : bk*(c+1)+c]
		for pos := lo; pos < hi; pos++ {
			w := weight(pos)
			for j, v := range x.Data[pos*c : (pos+1)*c] {
				d := float64(v) - mean[j]
				acc[j] += w * d * d
			}
		}
	})
	variance := make([]float64, c)
	for bk := 0; bk < blocks; bk++ {
		for j := 0; j < c; j++ {
			variance[j] += part[bk*(c+1)+j]
		}
	}
	for j := range variance {
		variance[j] /= total
		b.invStd[j] = 1 / math.Sqrt(variance[j]+b.Eps)
	}
	normalise(mean)
	m := b.Momentum
	unbias := 1.0
	if total > 1 {
		unbias = total / (total - 1)
	}
	for j := 0; j < c; j++ {
		b.RunMean.Data[j] = float32((1-m)*float64(b.RunMean.Data[j]) + m*mean[j])
		b.RunVar.Data[j] = float32((1-m)*float64(b.RunVar.Data[j]) + m*variance[j]*unbias)
	}
	return y
}

// Backward differentiates through the batch statistics. With weights w, dy
// of a row is the sum of the gradients of its w copies, and
// dx = γ/σ · (dy − w·(Σdy + x̂·Σdy·x̂)/Σw).
func (b *BatchNorm) Backward(dy *Tensor) *Tensor {
	c := b.C
	dx := &Tensor{Shape: append([]int(nil), dy.Shape...), Data: make([]float32, len(dy.Data))}
	positions := len(dy.Data) / c
	grain := max(1, elementGrain/c)
	blocks := (positions + grain - 1) / grain
	part := make([]float64, blocks*2*c)
	parallelBlocks(positions, grain, func(bk, lo, hi int) {
		acc := part[bk*2*c : bk*2*c+c]
		accX := part[bk*2*c+c : (bk+1)*2*c]
		for pos := lo; pos < hi; pos++ {
			xh := b.xhat[pos*c : (pos+1)*c]
			for j, v := range dy.Data[pos*c : (pos+1)*c] {
				g := float64(v)
				acc[j] += g
				accX[j] += g * float64(xh[j])
			}
		}
	})
	sdy := make([]float64, c)
	sdyx := make([]float64, c)
	for bk := 0; bk < blocks; bk++ {
		for j := 0; j < c; j++ {
			sdy[j] += part[bk*2*c+j]
			sdyx[j] += part[bk*2*c+c+j]
		}
	}
	for j := 0; j < c; j++ {
		b.Beta.Grad[j] += float32(sdy[j])
		b.Gamma.Grad[j] += float32(sdyx[j])
	}
	scale := make([]float32, c) // γ/σ
	meanDy := make([]float32, c)
	meanDyX := make([]float32, c)
	for j := 0; j < c; j++ {
		scale[j] = float32(float64(b.Gamma.Data[j]) * b.invStd[j])
		if b.train {
			meanDy[j] = float32(sdy[j] / b.total)
			meanDyX[j] = float32(sdyx[j] / b.total)
		}
	}
	parallelBlocks(positions, grain, func(_, lo, hi int) {
		for pos := lo; pos < hi; pos++ {
			g := dy.Data[pos*c : (pos+1)*c]
			d := dx.Data[pos*c : (pos+1)*c]
			if !b.train {
				// Running statistics are constants: the map is affine.
				for j, v := range g {
					d[j] = scale[j] * v
				}
				continue
			}
			w := float32(1)
			if b.posWeight != nil {
				w = b.posWeight[pos]
			}
			xh := b.xhat[pos*c : (pos+1)*c]
			for j, v := range g {
				d[j] = scale[j] * (v - w*(meanDy[j]+xh[j]*meanDyX[j]))
			}
		}
	})
	return dx
}

// Params returns γ and β.
func (b *BatchNorm) Params() []*Param { return []*Param{b.Gamma, b.Beta} }

// Buffers returns the running mean and variance.
func (b *BatchNorm) Buffers() []*Buffer { return []*Buffer{b.RunMean, b.RunVar} }
