// Package nn is a small float32 neural-network toolkit: tensors, layers with
// hand-written backward passes, SGD, EMA and atomic checkpoints. It exists
// because IOMatch (internal/openset) needs only a handful of layers and must
// train on a CPU, deterministically.
//
// Layout: image tensors are NHWC (batch, height, width, channels), row-major.
// NHWC makes im2col rows contiguous copies of the channel vector and makes a
// 1×1 convolution a plain GEMM; BatchNorm then normalises the columns of an
// [N·H·W, C] matrix. Matrices are [rows, cols] row-major.
//
// Matrix products go through gonum's blas32 (pure Go by default). Every
// reduction runs in a fixed order that does not depend on GOMAXPROCS, so
// results are bit-identical on any number of cores.
package nn

import "fmt"

// Tensor is a dense row-major float32 array. Four-dimensional image tensors
// are NHWC.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor allocates a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("nn: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// Rows is the first dimension (the batch).
func (t *Tensor) Rows() int { return t.Shape[0] }

// RowLen is the number of elements per batch entry.
func (t *Tensor) RowLen() int {
	if t.Shape[0] == 0 {
		return 0
	}
	return len(t.Data) / t.Shape[0]
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Param is a trainable array with its gradient. Shape follows the PyTorch
// convention of the layer (conv weights [Cout, KH, KW, Cin], dense [Out, In]),
// so "ndim > 1" identifies the tensors that receive weight decay.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
}

func newParam(name string, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n), Grad: make([]float32, n)}
}

// Decays reports whether weight decay applies: weights with ndim > 1 only,
// never biases or BatchNorm affine parameters (as in the reference).
func (p *Param) Decays() bool { return len(p.Shape) > 1 }

// Buffer is non-trainable state saved with the model (BatchNorm running
// statistics).
type Buffer struct {
	Name string
	Data []float32
}

// Pass carries per-forward settings.
type Pass struct {
	// Train selects batch statistics in BatchNorm and records what the
	// backward pass needs.
	Train bool
	// Weights is the multiplicity of each batch row (len = batch size), used
	// by BatchNorm batch statistics in training: a row with weight w counts
	// as w identical rows. nil means every row counts once.
	Weights []float32
}

// Layer is a differentiable operation. Backward must follow the Forward whose
// output it differentiates; it adds parameter gradients into Param.Grad and
// returns the gradient with respect to the layer input.
type Layer interface {
	Forward(x *Tensor, p *Pass) *Tensor
	Backward(dy *Tensor) *Tensor
	Params() []*Param
	Buffers() []*Buffer
}

// Sequential chains layers.
type Sequential struct {
	Layers []Layer
}

// Forward runs the layers in order.
func (s *Sequential) Forward(x *Tensor, p *Pass) *Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x, p)
	}
	return x
}

// Backward runs the layers in reverse.
func (s *Sequential) Backward(dy *Tensor) *Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Params lists the parameters of all layers in order.
func (s *Sequential) Params() []*Param {
	var out []*Param
	for _, l := range s.Layers {
		out = append(out, l.Params()...)
	}
	return out
}

// Buffers lists the buffers of all layers in order.
func (s *Sequential) Buffers() []*Buffer {
	var out []*Buffer
	for _, l := range s.Layers {
		out = append(out, l.Buffers()...)
	}
	return out
}

// ZeroGrad clears the gradients.
func ZeroGrad(params []*Param) {
	for _, p := range params {
		clear(p.Grad)
	}
}
