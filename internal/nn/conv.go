package nn

import "fmt"

// colBudget bounds the im2col scratch matrix (in float32 elements) so memory
// stays flat whatever the batch size. It is a constant, not a function of
// GOMAXPROCS, so the chunking (and every floating-point sum) is the same on
// any machine.
const colBudget = 1 << 21

// Conv2D is a 2-D convolution over NHWC tensors with a square kernel, equal
// stride and zero padding on both axes, and an optional bias. The weight has
// shape [Cout, K, K, Cin]; an output pixel is the dot product of the weight row
// with the im2col row laid out as (kh, kw, cin).
type Conv2D struct {
	Cin, Cout, K, Stride, Pad int
	W                         *Param
	B                         *Param // nil without bias
	// SkipInputGrad avoids computing the input gradient (first layer).
	SkipInputGrad bool

	x          *Tensor
	outH, outW int
}

// NewConv2D returns a zero-initialised convolution; use an Init function.
func NewConv2D(name string, cin, cout, k, stride, pad int, bias bool) *Conv2D {
	if k <= 0 || stride <= 0 || pad < 0 {
		panic(fmt.Sprintf("nn: bad conv geometry k=%d stride=%d pad=%d", k, stride, pad))
	}
	c := &Conv2D{Cin: cin, Cout: cout, K: k, Stride: stride, Pad: pad, W: newParam(name+".weight", cout, k, k, cin)}
	if bias {
		c.B = newParam(name+".bias", cout)
	}
	return c
}

// OutSize is the output height (or width) for an input of size n.
func (c *Conv2D) OutSize(n int) int { return (n+2*c.Pad-c.K)/c.Stride + 1 }

func (c *Conv2D) direct() bool { return c.K == 1 && c.Stride == 1 && c.Pad == 0 }

// chunkImages is how many images share one im2col matrix.
func (c *Conv2D) chunkImages() int {
	per := c.outH * c.outW * c.K * c.K * c.Cin
	if per <= 0 {
		return 1
	}
	return max(1, colBudget/per)
}

// imageGrain is how many images one goroutine handles in im2col/col2im.
func (c *Conv2D) imageGrain() int {
	return max(1, elementGrain/max(1, c.outH*c.outW*c.K*c.K*c.Cin))
}

// im2col fills col with the receptive fields of images [n0, n0+cnt), in
// parallel over images (each writes its own rows).
func (c *Conv2D) im2col(col []float32, n0, cnt int) {
	parallelBlocks(cnt, c.imageGrain(), func(_, lo, hi int) { c.im2colRange(col, n0, lo, hi) })
}

func (c *Conv2D) im2colRange(col []float32, n0, lo, hi int) {
	h, w, cin := c.x.Shape[1], c.x.Shape[2], c.Cin
	kkc := c.K * c.K * cin
	r := lo * c.outH * c.outW
	for n := n0 + lo; n < n0+hi; n++ {
		img := c.x.Data[n*h*w*cin : (n+1)*h*w*cin]
		for oh := 0; oh < c.outH; oh++ {
			for ow := 0; ow < c.outW; ow++ {
				row := col[r*kkc : (r+1)*kkc]
				r++
				for kh := 0; kh < c.K; kh++ {
					ih := oh*c.Stride - c.Pad + kh
					for kw := 0; kw < c.K; kw++ {
						iw := ow*c.Stride - c.Pad + kw
						dst := row[(kh*c.K+kw)*cin : (kh*c.K+kw+1)*cin]
						if ih < 0 || ih >= h || iw < 0 || iw >= w {
							clear(dst)
							continue
						}
						copy(dst, img[(ih*w+iw)*cin:(ih*w+iw+1)*cin])
					}
				}
			}
		}
	}
}

// col2im adds the column gradients back onto dx for images [n0, n0+cnt),
// in parallel over images (each image's sums stay in one goroutine, in a
// fixed order).
func (c *Conv2D) col2im(dcol []float32, dx []float32, n0, cnt int) {
	parallelBlocks(cnt, c.imageGrain(), func(_, lo, hi int) { c.col2imRange(dcol, dx, n0, lo, hi) })
}

func (c *Conv2D) col2imRange(dcol []float32, dx []float32, n0, lo, hi int) {
	h, w, cin := c.x.Shape[1], c.x.Shape[2], c.Cin
	kkc := c.K * c.K * cin
	r := lo * c.outH * c.outW
	for n := n0 + lo; n < n0+hi; n++ {
		img := dx[n*h*w*cin : (n+1)*h*w*cin]
		for oh := 0; oh < c.outH; oh++ {
			for ow := 0; ow < c.outW; ow++ {
				row := dcol[r*kkc : (r+1)*kkc]
				r++
				for kh := 0; kh < c.K; kh++ {
					ih := oh*c.Stride - c.Pad + kh
					if ih < 0 || ih >= h {
						continue
					}
					for kw := 0; kw < c.K; kw++ {
						iw := ow*c.Stride - c.Pad + kw
						if iw < 0 || iw >= w {
							continue
						}
						src := row[(kh*c.K+kw)*cin : (kh*c.K+kw+1)*cin]
						dst := img[(ih*w+iw)*cin : (ih*w+iw+1)*cin]
						for i, v := range src {
							dst[i] += v
						}
					}
				}
			}
		}
	}
}

// Forward convolves x [N, H, W, Cin] into [N, OH, OW, Cout].
func (c *Conv2D) Forward(x *Tensor, _ *Pass) *Tensor {
	if len(x.Shape) != 4 || x.Shape[3] != c.Cin {
		panic(fmt.Sprintf("nn: %s expects NHWC with %d channels, got %v", c.W.Name, c.Cin, x.Shape))
	}
	c.x = x
	n := x.Shape[0]
	c.outH, c.outW = c.OutSize(x.Shape[1]), c.OutSize(x.Shape[2])
	y := NewTensor(n, c.outH, c.outW, c.Cout)
	kkc := c.K * c.K * c.Cin
	pix := c.outH * c.outW
	beta := float32(0)
	if c.B != nil {
		beta = 1
		for r := 0; r < n*pix; r++ {
			copy(y.Data[r*c.Cout:(r+1)*c.Cout], c.B.Data)
		}
	}
	if c.direct() {
		gemm(false, true, n*pix, c.Cout, kkc, 1, x.Data, kkc, c.W.Data, kkc, beta, y.Data, c.Cout)
		return y
	}
	chunk := c.chunkImages()
	col := make([]float32, min(chunk, n)*pix*kkc)
	for n0 := 0; n0 < n; n0 += chunk {
		cnt := min(chunk, n-n0)
		rows := cnt * pix
		c.im2col(col, n0, cnt)
		gemm(false, true, rows, c.Cout, kkc, 1, col, kkc, c.W.Data, kkc, beta, y.Data[n0*pix*c.Cout:], c.Cout)
	}
	return y
}

// Backward accumulates dW = dyᵀ·col and db, and returns col2im(dy·W).
func (c *Conv2D) Backward(dy *Tensor) *Tensor {
	n := c.x.Shape[0]
	kkc := c.K * c.K * c.Cin
	pix := c.outH * c.outW
	if c.B != nil {
		for r := 0; r < n*pix; r++ {
			for j, v := range dy.Data[r*c.Cout : (r+1)*c.Cout] {
				c.B.Grad[j] += v
			}
		}
	}
	var dx *Tensor
	if !c.SkipInputGrad {
		dx = NewTensor(c.x.Shape...)
	}
	if c.direct() {
		gemm(true, false, c.Cout, kkc, n*pix, 1, dy.Data, c.Cout, c.x.Data, kkc, 1, c.W.Grad, kkc)
		if dx != nil {
			gemm(false, false, n*pix, kkc, c.Cout, 1, dy.Data, c.Cout, c.W.Data, kkc, 0, dx.Data, kkc)
		}
		return dx
	}
	chunk := c.chunkImages()
	col := make([]float32, min(chunk, n)*pix*kkc)
	var dcol []float32
	if dx != nil {
		dcol = make([]float32, len(col))
	}
	for n0 := 0; n0 < n; n0 += chunk {
		cnt := min(chunk, n-n0)
		rows := cnt * pix
		c.im2col(col, n0, cnt)
		dyc := dy.Data[n0*pix*c.Cout : (n0+cnt)*pix*c.Cout]
		gemm(true, false, c.Cout, kkc, rows, 1, dyc, c.Cout, col, kkc, 1, c.W.Grad, kkc)
		if dx != nil {
			gemm(false, false, rows, kkc, c.Cout, 1, dyc, c.Cout, c.W.Data, kkc, 0, dcol, kkc)
			c.col2im(dcol, dx.Data, n0, cnt)
		}
	}
	return dx
}

// Params returns W (and b).
func (c *Conv2D) Params() []*Param {
	if c.B == nil {
		return []*Param{c.W}
	}
	return []*Param{c.W, c.B}
}

// Buffers returns nothing.
func (c *Conv2D) Buffers() []*Buffer { return nil }
