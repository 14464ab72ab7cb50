package nn

import (
	"math"
	"math/rand/v2"
)

// Softmax writes softmax(z) into out (len(out) == len(z)), computed stably in
// float64.
func Softmax(z []float32, out []float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for i, v := range z {
		e := math.Exp(float64(v) - m)
		out[i] = e
		s += e
	}
	for i := range out {
		out[i] /= s
	}
}

// LogSoftmax writes log softmax(z) into out.
func LogSoftmax(z []float32, out []float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	ls := m + math.Log(s)
	for i, v := range z {
		out[i] = float64(v) - ls
	}
}

// CrossEntropyHard returns −log softmax(z)[y] and adds scale·∂/∂z into grad
// (grad may be nil).
func CrossEntropyHard(z []float32, y int, scale float64, grad []float32) float64 {
	p := make([]float64, len(z))
	LogSoftmax(z, p)
	loss := -p[y]
	if grad != nil {
		for i := range p {
			g := math.Exp(p[i])
			if i == y {
				g--
			}
			grad[i] += float32(scale * g)
		}
	}
	return loss
}

// CrossEntropySoft returns −Σ t·log softmax(z) and adds scale·∂/∂z into grad
// (grad may be nil). Targets need not sum to one.
func CrossEntropySoft(z []float32, t []float64, scale float64, grad []float32) float64 {
	p := make([]float64, len(z))
	LogSoftmax(z, p)
	loss, tsum := 0.0, 0.0
	for i := range p {
		loss -= t[i] * p[i]
		tsum += t[i]
	}
	if grad != nil {
		for i := range p {
			grad[i] += float32(scale * (math.Exp(p[i])*tsum - t[i]))
		}
	}
	return loss
}

// SGD is PyTorch's torch.optim.SGD with momentum, no dampening, optional
// Nesterov, and weight decay added to the gradient of parameters that
// Decays().
type SGD struct {
	Momentum    float32
	WeightDecay float32
	Nesterov    bool
	// Velocity holds one momentum buffer per parameter, in parameter order.
	Velocity [][]float32
}

// NewSGD allocates momentum buffers for params.
func NewSGD(params []*Param, momentum, weightDecay float64, nesterov bool) *SGD {
	s := &SGD{Momentum: float32(momentum), WeightDecay: float32(weightDecay), Nesterov: nesterov}
	for _, p := range params {
		s.Velocity = append(s.Velocity, make([]float32, len(p.Data)))
	}
	return s
}

// Step applies one update with learning rate lr. A zero buffer makes the
// first step equal to PyTorch's (which initialises the buffer to the
// gradient).
func (s *SGD) Step(params []*Param, lr float64) {
	lr32 := float32(lr)
	for k, p := range params {
		v := s.Velocity[k]
		wd := float32(0)
		if p.Decays() {
			wd = s.WeightDecay
		}
		for i := range p.Data {
			g := p.Grad[i] + wd*p.Data[i]
			v[i] = s.Momentum*v[i] + g
			if s.Nesterov {
				g += s.Momentum * v[i]
			} else {
				g = v[i]
			}
			p.Data[i] -= lr32 * g
		}
	}
}

// EMAUpdate sets shadow = decay·shadow + (1−decay)·live for every parameter
// and copies the buffers (BatchNorm running statistics) verbatim, as the
// reference's EMA hook does.
func EMAUpdate(shadow, live []*Param, shadowBuf, liveBuf []*Buffer, decay float64) {
	d := float32(decay)
	for k, p := range live {
		s := shadow[k].Data
		for i, v := range p.Data {
			s[i] = (1-d)*v + d*s[i]
		}
	}
	for k, b := range liveBuf {
		copy(shadowBuf[k].Data, b.Data)
	}
}

// CopyState copies parameter values and buffers from src to dst.
func CopyState(dst, src []*Param, dstBuf, srcBuf []*Buffer) {
	for k, p := range src {
		copy(dst[k].Data, p.Data)
	}
	for k, b := range srcBuf {
		copy(dstBuf[k].Data, b.Data)
	}
}

// fans returns PyTorch's fan_in and fan_out of a weight shaped [out, in, ...]
// (our conv layout [Cout, K, K, Cin] has the same receptive field size).
func fans(p *Param) (fanIn, fanOut int) {
	out := p.Shape[0]
	in := p.Shape[len(p.Shape)-1]
	field := 1
	for _, d := range p.Shape[1 : len(p.Shape)-1] {
		field *= d
	}
	return in * field, out * field
}

// InitKaimingNormalFanOut draws N(0, gain²/fan_out) with gain √(2/(1+a²)),
// i.e. nn.init.kaiming_normal_(w, a, mode='fan_out', nonlinearity='leaky_relu').
func InitKaimingNormalFanOut(p *Param, a float64, rng *rand.Rand) {
	_, fanOut := fans(p)
	std := math.Sqrt(2/(1+a*a)) / math.Sqrt(float64(fanOut))
	for i := range p.Data {
		p.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// InitXavierNormal draws N(0, 2/(fan_in+fan_out)) (nn.init.xavier_normal_).
func InitXavierNormal(p *Param, rng *rand.Rand) {
	fanIn, fanOut := fans(p)
	std := math.Sqrt(2 / float64(fanIn+fanOut))
	for i := range p.Data {
		p.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// InitLinearDefault is PyTorch's default nn.Linear initialisation: weight and
// bias uniform in ±1/√fan_in.
func InitLinearDefault(d *Dense, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(d.In))
	for i := range d.W.Data {
		d.W.Data[i] = float32((2*rng.Float64() - 1) * bound)
	}
	if d.B != nil {
		for i := range d.B.Data {
			d.B.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
}
