// Package openset is the IOMatch open-set semi-supervised classifier of the
// paper (docs/paper-faithful.md §3–§4), one model per service: K known
// organisations plus one "unknown" output, trained on already-encoded uint8
// images with internal/nn.
package openset

import (
	"errors"
	"fmt"
	"math"
)

// Config holds the IOMatch hyper-parameters. PaperConfig gives the
// reference values.
type Config struct {
	// Backbone is BackboneWRN or BackboneMLP.
	Backbone string
	// K is the number of known classes; the open-set head has K+1 outputs
	// and index K means unknown.
	K int
	// BatchLabeled is the labeled batch (64 full, 32 incremental);
	// the unlabeled batch is BatchLabeled·UnlabeledRatio.
	BatchLabeled   int
	UnlabeledRatio int
	// LR is the base learning rate. With CosineHorizon > 0 the rate at
	// global iteration t is LR·max(0, cos(7π/16·t/CosineHorizon)) (the
	// reference LambdaLR); 0 keeps it constant (§3.5: the reported -f model
	// sees an essentially constant 0.03).
	LR            float64
	CosineHorizon int
	Momentum      float64
	Nesterov      bool
	// WeightDecay applies to weights with ndim > 1 only.
	WeightDecay float64
	// EMADecay is the parameter EMA used for inference.
	EMADecay float64
	// BNMomentum is the BatchNorm running-statistics momentum (PyTorch
	// sense); 0 means the reference's 0.001. Inference uses the running
	// statistics, which keep 0.999^t of their initial values after t
	// iterations at the reference value: a short run (an incremental week
	// of 200 iterations keeps 82 %) predicts from statistics that are mostly
	// the initial mean 0 and variance 1.
	BNMomentum float64
	// PCutoff and QCutoff are IOMatch's confidence thresholds.
	PCutoff, QCutoff float64
	// IterationsPerEpoch is the reference "epoch" (100 iterations): the
	// sampler reshuffles per epoch and L_op is off during epoch 0.
	IterationsPerEpoch int
	// Seed drives initialisation and sampling.
	Seed uint64
	// PixelScale multiplies the uint8 pixels; 0 means 1/255 (ToTensor of a
	// uint8 array). The artifact's int64 image arrays may have been fed as
	// raw 0..255 (§2.6, unknown which): set 1 for that reading. It matters
	// in evaluation mode, because running variances start at 1 and decay by
	// only 0.999 per iteration.
	PixelScale float64
	// MergeDuplicates computes each distinct image of a training batch once
	// and gives it its multiplicity as BatchNorm weight (the weak and strong
	// views of an unlabeled image, which the reference feeds as two
	// identical rows, become one row of weight 2). Mathematically identical
	// to the reference's cat(x_lb, x_ulb_w, x_ulb_s) forward; see
	// docs/bench/nn.md. false feeds every row separately, as the artifact.
	MergeDuplicates bool
}

// PaperConfig returns the reference hyper-parameters (§3.4, §3.5, §4) with
// the WRN-10-2 backbone: labeled batch 64 (32 when incremental), uratio 7,
// SGD 0.03 Nesterov momentum 0.9, wd 5e-4, EMA 0.999, p 0.95, q 0.5, 100
// iterations per epoch, seed 1, constant learning rate.
func PaperConfig(k int, incremental bool) Config {
	c := Config{
		Backbone:           BackboneWRN,
		K:                  k,
		BatchLabeled:       64,
		UnlabeledRatio:     7,
		LR:                 0.03,
		Momentum:           0.9,
		Nesterov:           true,
		WeightDecay:        5e-4,
		EMADecay:           0.999,
		PCutoff:            0.95,
		QCutoff:            0.5,
		IterationsPerEpoch: 100,
		Seed:               1,
		MergeDuplicates:    true,
	}
	if incremental {
		c.BatchLabeled = 32
	}
	return c
}

// FastConfig is PaperConfig with the MLP backbone.
func FastConfig(k int) Config {
	c := PaperConfig(k, false)
	c.Backbone = BackboneMLP
	return c
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Backbone != BackboneWRN && c.Backbone != BackboneMLP:
		return fmt.Errorf("openset: unknown backbone %q", c.Backbone)
	case c.K < 1 || c.K > 4096:
		return fmt.Errorf("openset: K=%d out of range 1..4096", c.K)
	case c.BatchLabeled < 1 || c.UnlabeledRatio < 1 || c.BatchLabeled*(1+2*c.UnlabeledRatio) > 1<<16:
		return fmt.Errorf("openset: batch %d × ratio %d out of range", c.BatchLabeled, c.UnlabeledRatio)
	case !(c.LR > 0) || math.IsInf(c.LR, 0) || c.CosineHorizon < 0:
		return errors.New("openset: LR must be positive and CosineHorizon ≥ 0")
	case c.Momentum < 0 || c.Momentum >= 1 || c.WeightDecay < 0 || c.EMADecay < 0 || c.EMADecay >= 1:
		return errors.New("openset: momentum, EMA decay must be in [0,1), weight decay ≥ 0")
	case c.BNMomentum < 0 || c.BNMomentum > 1:
		return errors.New("openset: BatchNorm momentum must be in [0,1]")
	case c.PCutoff < 0 || c.PCutoff > 1 || c.QCutoff < 0 || c.QCutoff > 1:
		return errors.New("openset: cutoffs must be in [0,1]")
	case c.PixelScale < 0 || c.PixelScale > 1e6 || math.IsNaN(c.PixelScale):
		return errors.New("openset: PixelScale out of range")
	case c.IterationsPerEpoch < 1:
		return errors.New("openset: IterationsPerEpoch must be ≥ 1")
	}
	return nil
}

func (c Config) bnMomentum() float64 {
	if c.BNMomentum > 0 {
		return c.BNMomentum
	}
	return ReferenceBNMomentum
}

func (c Config) pixelScale() float32 {
	if c.PixelScale == 0 {
		return 1.0 / 255
	}
	return float32(c.PixelScale)
}

// lrAt is the learning rate of global iteration it.
func (c Config) lrAt(it int64) float64 {
	if c.CosineHorizon <= 0 {
		return c.LR
	}
	return c.LR * math.Max(0, math.Cos(7*math.Pi/16*float64(it)/float64(c.CosineHorizon)))
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
