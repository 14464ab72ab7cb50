package openset

import (
	"fmt"
	"math/rand/v2"

	"github.com/scannergrouper/scannergrouper/internal/nn"
)

// Backbone names.
const (
	// BackboneWRN is WRN-10-2 exactly as in the reference (§3.1).
	BackboneWRN = "wrn-10-2"
	// BackboneMLP is the fast backbone: flatten → 256 → 128, each Dense
	// followed by BatchNorm and LeakyReLU(0.1).
	BackboneMLP = "mlp"
)

// FeatureDim is the width of the backbone feature and of the projection.
const FeatureDim = 128

// Reference BatchNorm and activation constants (§3.1).
const (
	// ReferenceBNMomentum is the artifact's BatchNorm momentum (PyTorch sense).
	ReferenceBNMomentum = 0.001
	bnEps               = 1e-3
	leakySlope          = 0.1
	mlpHidden           = 256
)

// wrnBlock is the reference BasicBlock for in ≠ out channels:
// a = LReLU(BN1(x)); out = conv2(LReLU(BN2(conv1(a)))) + shortcut1x1(a).
type wrnBlock struct {
	bn1   *nn.BatchNorm
	act1  *nn.LeakyReLU
	conv1 *nn.Conv2D
	bn2   *nn.BatchNorm
	act2  *nn.LeakyReLU
	conv2 *nn.Conv2D
	short *nn.Conv2D
}

func newWRNBlock(name string, in, out, stride int, bnMomentum float64) *wrnBlock {
	return &wrnBlock{
		bn1:   nn.NewBatchNorm(name+".bn1", in, bnMomentum, bnEps),
		act1:  &nn.LeakyReLU{Slope: leakySlope},
		conv1: nn.NewConv2D(name+".conv1", in, out, 3, stride, 1, true),
		bn2:   nn.NewBatchNorm(name+".bn2", out, bnMomentum, bnEps),
		act2:  &nn.LeakyReLU{Slope: leakySlope},
		conv2: nn.NewConv2D(name+".conv2", out, out, 3, 1, 1, true),
		short: nn.NewConv2D(name+".convShortcut", in, out, 1, stride, 0, true),
	}
}

func (b *wrnBlock) Forward(x *nn.Tensor, p *nn.Pass) *nn.Tensor {
	a := b.act1.Forward(b.bn1.Forward(x, p), p)
	out := b.conv2.Forward(b.act2.Forward(b.bn2.Forward(b.conv1.Forward(a, p), p), p), p)
	s := b.short.Forward(a, p)
	for i, v := range s.Data {
		out.Data[i] += v
	}
	return out
}

func (b *wrnBlock) Backward(dy *nn.Tensor) *nn.Tensor {
	da := b.conv1.Backward(b.bn2.Backward(b.act2.Backward(b.conv2.Backward(dy))))
	ds := b.short.Backward(dy)
	for i, v := range ds.Data {
		da.Data[i] += v
	}
	return b.bn1.Backward(b.act1.Backward(da))
}

func (b *wrnBlock) Params() []*nn.Param {
	var out []*nn.Param
	for _, l := range []nn.Layer{b.bn1, b.conv1, b.bn2, b.conv2, b.short} {
		out = append(out, l.Params()...)
	}
	return out
}

func (b *wrnBlock) Buffers() []*nn.Buffer {
	return append(b.bn1.Buffers(), b.bn2.Buffers()...)
}

// network is IOMatchNet: backbone → feat (128) → fc (K closed-set logits);
// feat → Linear → ReLU → Linear → proj (128) → mb (2K, no bias) and open (K+1).
type network struct {
	backbone nn.Layer
	channels int // input channels the backbone expects (WRN: 3, MLP: flattened)
	fc       *nn.Dense
	proj1    *nn.Dense
	projAct  *nn.LeakyReLU
	proj2    *nn.Dense
	mb       *nn.Dense
	open     *nn.Dense
}

type outputs struct {
	logits, proj, mb, open *nn.Tensor
}

// newNetwork builds and initialises the network. Initialisation follows the
// reference: convolutions kaiming_normal(fan_out, leaky_relu, a=0) with
// PyTorch's default uniform bias; BatchNorm γ=1, β=0; the backbone fc and the
// mb/open heads xavier_normal with zero bias; the projection MLP PyTorch's
// default Linear initialisation. The MLP backbone's Dense layers use
// xavier_normal with zero bias like the backbone fc.
func newNetwork(backbone string, k, h, w int, rng *rand.Rand, bnMomentum float64) (*network, error) {
	n := &network{projAct: &nn.LeakyReLU{Slope: 0}}
	switch backbone {
	case BackboneWRN:
		conv1 := nn.NewConv2D("backbone.conv1", 3, 16, 3, 1, 1, true)
		conv1.SkipInputGrad = true
		n.backbone = &nn.Sequential{Layers: []nn.Layer{
			conv1,
			newWRNBlock("backbone.block1", 16, 32, 1, bnMomentum),
			newWRNBlock("backbone.block2", 32, 64, 2, bnMomentum),
			newWRNBlock("backbone.block3", 64, 128, 2, bnMomentum),
			nn.NewBatchNorm("backbone.bn1", 128, bnMomentum, bnEps),
			&nn.LeakyReLU{Slope: leakySlope},
			&nn.GlobalAvgPool{},
		}}
		n.channels = 3
	case BackboneMLP:
		n.backbone = &nn.Sequential{Layers: []nn.Layer{
			nn.NewDense("backbone.fc1", h*w, mlpHidden, true),
			nn.NewBatchNorm("backbone.bn1", mlpHidden, bnMomentum, bnEps),
			&nn.LeakyReLU{Slope: leakySlope},
			nn.NewDense("backbone.fc2", mlpHidden, FeatureDim, true),
			nn.NewBatchNorm("backbone.bn2", FeatureDim, bnMomentum, bnEps),
			&nn.LeakyReLU{Slope: leakySlope},
		}}
		n.channels = 1
	default:
		return nil, fmt.Errorf("openset: unknown backbone %q (want %q or %q)", backbone, BackboneWRN, BackboneMLP)
	}
	n.fc = nn.NewDense("backbone.fc", FeatureDim, k, true)
	n.proj1 = nn.NewDense("mlp_proj.0", FeatureDim, FeatureDim, true)
	n.proj2 = nn.NewDense("mlp_proj.2", FeatureDim, FeatureDim, true)
	n.mb = nn.NewDense("mb_classifiers", FeatureDim, 2*k, false)
	n.open = nn.NewDense("openset_classifier", FeatureDim, k+1, true)

	if rng != nil {
		for _, p := range n.backbone.Params() {
			switch {
			case len(p.Shape) == 4: // conv weight
				nn.InitKaimingNormalFanOut(p, 0, rng)
			case len(p.Shape) == 2: // MLP backbone dense weight
				nn.InitXavierNormal(p, rng)
			}
		}
		initConvBiases(n.backbone, rng)
		nn.InitXavierNormal(n.fc.W, rng)
		nn.InitLinearDefault(n.proj1, rng)
		nn.InitLinearDefault(n.proj2, rng)
		nn.InitXavierNormal(n.mb.W, rng)
		nn.InitXavierNormal(n.open.W, rng)
	}
	return n, nil
}

// initConvBiases gives every convolution bias PyTorch's default
// U(±1/√fan_in); the reference re-initialises only conv weights.
func initConvBiases(l nn.Layer, rng *rand.Rand) {
	var convs []*nn.Conv2D
	var walk func(nn.Layer)
	walk = func(l nn.Layer) {
		switch v := l.(type) {
		case *nn.Sequential:
			for _, c := range v.Layers {
				walk(c)
			}
		case *wrnBlock:
			convs = append(convs, v.conv1, v.conv2, v.short)
		case *nn.Conv2D:
			convs = append(convs, v)
		}
	}
	walk(l)
	for _, c := range convs {
		if c.B == nil {
			continue
		}
		bound := 1 / sqrt(float64(c.Cin*c.K*c.K))
		for i := range c.B.Data {
			c.B.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
}

func (n *network) forward(x *nn.Tensor, p *nn.Pass) outputs {
	feat := n.backbone.Forward(x, p)
	var o outputs
	o.logits = n.fc.Forward(feat, p)
	o.proj = n.proj2.Forward(n.projAct.Forward(n.proj1.Forward(feat, p), p), p)
	o.mb = n.mb.Forward(o.proj, p)
	o.open = n.open.Forward(o.proj, p)
	return o
}

// backward takes the loss gradients w.r.t. the three logit tensors.
func (n *network) backward(dLogits, dMB, dOpen *nn.Tensor) {
	dProj := n.mb.Backward(dMB)
	dProjOpen := n.open.Backward(dOpen)
	for i, v := range dProjOpen.Data {
		dProj.Data[i] += v
	}
	dFeat := n.proj1.Backward(n.projAct.Backward(n.proj2.Backward(dProj)))
	dFeatFC := n.fc.Backward(dLogits)
	for i, v := range dFeatFC.Data {
		dFeat.Data[i] += v
	}
	n.backbone.Backward(dFeat)
}

func (n *network) params() []*nn.Param {
	out := n.backbone.Params()
	for _, d := range []*nn.Dense{n.fc, n.proj1, n.proj2, n.mb, n.open} {
		out = append(out, d.Params()...)
	}
	return out
}

func (n *network) buffers() []*nn.Buffer { return n.backbone.Buffers() }

// input converts uint8 images (H·W each) to the backbone input: x·scale, NHWC
// with the single channel replicated to 3 for the WRN (as the artifact
// does), or [N, H·W] for the MLP.
func (n *network) input(images [][]uint8, h, w int, scale float32) *nn.Tensor {
	if n.channels == 3 {
		t := nn.NewTensor(len(images), h, w, 3)
		for i, img := range images {
			dst := t.Data[i*h*w*3 : (i+1)*h*w*3]
			for p, v := range img {
				f := float32(v) * scale
				dst[3*p], dst[3*p+1], dst[3*p+2] = f, f, f
			}
		}
		return t
	}
	t := nn.NewTensor(len(images), h*w)
	for i, img := range images {
		dst := t.Data[i*h*w : (i+1)*h*w]
		for p, v := range img {
			dst[p] = float32(v) * scale
		}
	}
	return t
}
