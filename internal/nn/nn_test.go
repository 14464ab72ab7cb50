package nn

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func randTensor(rng *rand.Rand, shape ...int) *Tensor {
	t := NewTensor(shape...)
	for i := range t.Data {
		// Keep values away from 0 so LeakyReLU kinks are not straddled by
		// the finite-difference step.
		v := rng.NormFloat64()
		if math.Abs(v) < 0.1 {
			v += math.Copysign(0.1, v)
		}
		t.Data[i] = float32(v)
	}
	return t
}

// objective is L = Σ c·y in float64, whose gradient w.r.t. y is c.
func objective(y, c *Tensor) float64 {
	s := 0.0
	for i, v := range y.Data {
		s += float64(v) * float64(c.Data[i])
	}
	return s
}

type checkCase struct {
	name  string
	layer Layer
	x     *Tensor
	pass  *Pass
}

// gradCheck compares analytic gradients (input and every parameter) with
// central differences of L = Σ c·layer(x).
func gradCheck(t *testing.T, tc checkCase, eps float64, checkInput bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	y := tc.layer.Forward(tc.x, tc.pass)
	c := randTensor(rng, y.Shape...)
	ZeroGrad(tc.layer.Params())
	dx := tc.layer.Backward(c)
	loss := func() float64 { return objective(tc.layer.Forward(tc.x, tc.pass), c) }
	compare := func(what string, i int, analytic float64, data []float32) {
		orig := data[i]
		data[i] = orig + float32(eps)
		up := loss()
		data[i] = orig - float32(eps)
		down := loss()
		data[i] = orig
		numeric := (up - down) / (2 * eps)
		tol := 3e-3 + 2e-2*math.Max(math.Abs(analytic), math.Abs(numeric))
		if math.Abs(analytic-numeric) > tol {
			t.Errorf("%s: %s[%d] analytic %.6g numeric %.6g", tc.name, what, i, analytic, numeric)
		}
	}
	// Sample at most 40 coordinates per array to keep the test fast.
	pick := func(n int) []int {
		if n <= 40 {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		}
		return rng.Perm(n)[:40]
	}
	for _, p := range tc.layer.Params() {
		grad := append([]float32(nil), p.Grad...)
		for _, i := range pick(len(p.Data)) {
			compare(p.Name, i, float64(grad[i]), p.Data)
		}
	}
	if checkInput && dx != nil {
		for _, i := range pick(len(tc.x.Data)) {
			compare("input", i, float64(dx.Data[i]), tc.x.Data)
		}
	}
}

func initRandom(l Layer, rng *rand.Rand) {
	for _, p := range l.Params() {
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
}

func TestLayerGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	train := &Pass{Train: true}
	weighted := &Pass{Train: true, Weights: []float32{1, 3, 2, 1, 5}}

	dense := NewDense("dense", 6, 4, true)
	initRandom(dense, rng)
	denseNoBias := NewDense("nobias", 6, 4, false)
	initRandom(denseNoBias, rng)
	conv3 := NewConv2D("conv3", 3, 4, 3, 1, 1, true)
	initRandom(conv3, rng)
	conv3s2 := NewConv2D("conv3s2", 2, 3, 3, 2, 1, true)
	initRandom(conv3s2, rng)
	conv1 := NewConv2D("conv1", 3, 5, 1, 1, 0, true)
	initRandom(conv1, rng)
	conv1s2 := NewConv2D("conv1s2", 3, 2, 1, 2, 0, true)
	initRandom(conv1s2, rng)
	bn2d := NewBatchNorm("bn2d", 3, 0.001, 1e-3)
	initRandom(bn2d, rng)
	bn1d := NewBatchNorm("bn1d", 4, 0.001, 1e-3)
	initRandom(bn1d, rng)
	bnEval := NewBatchNorm("bneval", 4, 0.001, 1e-3)
	initRandom(bnEval, rng)
	for i := range bnEval.RunVar.Data {
		bnEval.RunMean.Data[i] = float32(rng.NormFloat64())
		bnEval.RunVar.Data[i] = float32(0.5 + rng.Float64())
	}

	cases := []checkCase{
		{"dense", dense, randTensor(rng, 5, 6), train},
		{"dense-nobias", denseNoBias, randTensor(rng, 3, 6), train},
		{"conv3x3", conv3, randTensor(rng, 2, 5, 4, 3), train},
		{"conv3x3-stride2", conv3s2, randTensor(rng, 2, 5, 6, 2), train},
		{"conv1x1", conv1, randTensor(rng, 2, 3, 3, 3), train},
		{"conv1x1-stride2", conv1s2, randTensor(rng, 2, 5, 5, 3), train},
		{"batchnorm-nhwc", bn2d, randTensor(rng, 3, 2, 2, 3), train},
		{"batchnorm-dense", bn1d, randTensor(rng, 5, 4), train},
		{"batchnorm-weighted", bn1d, randTensor(rng, 5, 4), weighted},
		{"batchnorm-eval", bnEval, randTensor(rng, 5, 4), &Pass{}},
		{"leakyrelu", &LeakyReLU{Slope: 0.1}, randTensor(rng, 4, 7), train},
		{"relu", &LeakyReLU{}, randTensor(rng, 4, 7), train},
		{"gap", &GlobalAvgPool{}, randTensor(rng, 2, 3, 4, 5), train},
		{"sequential", &Sequential{Layers: []Layer{NewConv2D("s.conv", 2, 3, 3, 2, 1, true), NewBatchNorm("s.bn", 3, 0.001, 1e-3), &LeakyReLU{Slope: 0.1}, &GlobalAvgPool{}, NewDense("s.fc", 3, 2, true)}}, randTensor(rng, 4, 6, 6, 2), train},
	}
	initRandom(cases[len(cases)-1].layer, rng)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { gradCheck(t, tc, 1e-2, true) })
	}
}

// A row of weight w must behave exactly like w copies of that row: same
// outputs, and the weighted backward equals the sum of the copies' gradients.
func TestBatchNormWeightsEqualDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	weights := []float32{2, 1, 3}
	distinct := randTensor(rng, 3, 2, 2, 4)
	per := distinct.RowLen()
	var dup []float32
	var owner []int
	for r, w := range weights {
		for k := 0; k < int(w); k++ {
			dup = append(dup, distinct.Data[r*per:(r+1)*per]...)
			owner = append(owner, r)
		}
	}
	dupT := &Tensor{Shape: []int{len(owner), 2, 2, 4}, Data: dup}

	bnW := NewBatchNorm("w", 4, 0.001, 1e-3)
	bnD := NewBatchNorm("d", 4, 0.001, 1e-3)
	initRandom(bnW, rng)
	CopyState(bnD.Params(), bnW.Params(), bnD.Buffers(), bnW.Buffers())

	yW := bnW.Forward(distinct, &Pass{Train: true, Weights: weights})
	yD := bnD.Forward(dupT, &Pass{Train: true})
	for i, r := range owner {
		for k := 0; k < per; k++ {
			if d := math.Abs(float64(yD.Data[i*per+k] - yW.Data[r*per+k])); d > 1e-5 {
				t.Fatalf("forward differs at copy %d: %g", i, d)
			}
		}
	}
	for k := range bnW.RunVar.Data {
		if d := math.Abs(float64(bnW.RunVar.Data[k] - bnD.RunVar.Data[k])); d > 1e-6 {
			t.Fatalf("running var differs: %g", d)
		}
	}
	// Each copy gets its own upstream gradient; the distinct row gets the sum.
	dyD := randTensor(rng, dupT.Shape...)
	dyW := NewTensor(distinct.Shape...)
	for i, r := range owner {
		for k := 0; k < per; k++ {
			dyW.Data[r*per+k] += dyD.Data[i*per+k]
		}
	}
	dxD := bnD.Backward(dyD)
	dxW := bnW.Backward(dyW)
	sum := make([]float32, len(distinct.Data))
	for i, r := range owner {
		for k := 0; k < per; k++ {
			sum[r*per+k] += dxD.Data[i*per+k]
		}
	}
	for i := range sum {
		if d := math.Abs(float64(sum[i] - dxW.Data[i])); d > 1e-4 {
			t.Fatalf("input gradient differs at %d: %g vs %g", i, sum[i], dxW.Data[i])
		}
	}
	for k := range bnW.Gamma.Grad {
		if d := math.Abs(float64(bnW.Gamma.Grad[k] - bnD.Gamma.Grad[k])); d > 1e-4 {
			t.Fatalf("gamma gradient differs: %g", d)
		}
	}
}

func TestBatchNormRunningStatistics(t *testing.T) {
	bn := NewBatchNorm("bn", 1, 0.001, 1e-3)
	x := &Tensor{Shape: []int{4, 1}, Data: []float32{1, 2, 3, 6}}
	bn.Forward(x, &Pass{Train: true})
	// mean 3, biased var 3.5, unbiased 14/3.
	wantMean := 0.001 * 3
	wantVar := 0.999 + 0.001*14.0/3
	if math.Abs(float64(bn.RunMean.Data[0])-wantMean) > 1e-7 || math.Abs(float64(bn.RunVar.Data[0])-wantVar) > 1e-6 {
		t.Fatalf("running stats %v %v, want %v %v", bn.RunMean.Data[0], bn.RunVar.Data[0], wantMean, wantVar)
	}
	y := bn.Forward(x, &Pass{Train: true})
	want := (1 - 3) / math.Sqrt(3.5+1e-3)
	if math.Abs(float64(y.Data[0])-want) > 1e-6 {
		t.Fatalf("normalised %v want %v", y.Data[0], want)
	}
}

func TestConvMatchesDirectSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	conv := NewConv2D("c", 2, 3, 3, 2, 1, true)
	initRandom(conv, rng)
	x := randTensor(rng, 2, 5, 4, 2)
	y := conv.Forward(x, nil)
	h, w := 5, 4
	oh, ow := conv.OutSize(h), conv.OutSize(w)
	if y.Shape[1] != oh || y.Shape[2] != ow || oh != 3 || ow != 2 {
		t.Fatalf("output shape %v", y.Shape)
	}
	for n := 0; n < 2; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for co := 0; co < 3; co++ {
					s := float64(conv.B.Data[co])
					for kh := 0; kh < 3; kh++ {
						for kw := 0; kw < 3; kw++ {
							ih, iw := i*2-1+kh, j*2-1+kw
							if ih < 0 || ih >= h || iw < 0 || iw >= w {
								continue
							}
							for ci := 0; ci < 2; ci++ {
								s += float64(conv.W.Data[((co*3+kh)*3+kw)*2+ci]) * float64(x.Data[((n*h+ih)*w+iw)*2+ci])
							}
						}
					}
					got := y.Data[((n*oh+i)*ow+j)*3+co]
					if math.Abs(float64(got)-s) > 1e-5 {
						t.Fatalf("y[%d,%d,%d,%d]=%v want %v", n, i, j, co, got, s)
					}
				}
			}
		}
	}
}

// Chunked im2col must give the same result as one big chunk.
func TestConvChunkingIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	// 64×64×8 input, 3×3: 36,864 column values per image → 56 images per chunk.
	conv := NewConv2D("c", 8, 4, 3, 1, 1, false)
	initRandom(conv, rng)
	x := randTensor(rng, 60, 64, 64, 8)
	y := conv.Forward(x, nil)
	if conv.chunkImages() >= 60 {
		t.Fatalf("test needs several chunks, got %d images per chunk", conv.chunkImages())
	}
	single := NewConv2D("c", 8, 4, 3, 1, 1, false)
	copy(single.W.Data, conv.W.Data)
	for n := 0; n < 60; n += 59 {
		xi := &Tensor{Shape: []int{1, 64, 64, 8}, Data: x.Data[n*64*64*8 : (n+1)*64*64*8]}
		yi := single.Forward(xi, nil)
		for k, v := range yi.Data {
			if d := math.Abs(float64(v - y.Data[n*64*64*4+k])); d > 1e-5 {
				t.Fatalf("image %d differs by %g", n, d)
			}
		}
	}
}

func TestLosses(t *testing.T) {
	z := []float32{1, 2, 0.5}
	g := make([]float32, 3)
	loss := CrossEntropyHard(z, 1, 1, g)
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(0.5))
	if math.Abs(loss-(lse-2)) > 1e-9 {
		t.Fatalf("hard CE %v want %v", loss, lse-2)
	}
	g2 := make([]float32, 3)
	soft := CrossEntropySoft(z, []float64{0, 1, 0}, 1, g2)
	if math.Abs(soft-loss) > 1e-9 {
		t.Fatalf("soft CE with one-hot %v != hard %v", soft, loss)
	}
	for i := range g {
		if math.Abs(float64(g[i]-g2[i])) > 1e-7 {
			t.Fatalf("gradients differ %v %v", g, g2)
		}
	}
	// Finite differences of the soft CE with a non-normalised target.
	tgt := []float64{0.2, 0.3, 0.1}
	g3 := make([]float32, 3)
	CrossEntropySoft(z, tgt, 1, g3)
	for i := range z {
		zz := append([]float32(nil), z...)
		zz[i] += 1e-3
		up := CrossEntropySoft(zz, tgt, 1, nil)
		zz[i] -= 2e-3
		down := CrossEntropySoft(zz, tgt, 1, nil)
		if n := (up - down) / 2e-3; math.Abs(n-float64(g3[i])) > 1e-4 {
			t.Fatalf("soft CE grad %d: %v vs %v", i, g3[i], n)
		}
	}
	// Large logits stay finite.
	if l := CrossEntropyHard([]float32{1000, -1000}, 1, 1, nil); math.IsInf(l, 0) || math.IsNaN(l) || math.Abs(l-2000) > 1e-6 {
		t.Fatalf("unstable CE %v", l)
	}
}

// Reproduces torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True,
// weight_decay=0.5) on hand-computed values.
func TestSGDNesterovWeightDecay(t *testing.T) {
	w := newParam("w", 1, 1)
	b := newParam("b", 1)
	w.Data[0], b.Data[0] = 1, 1
	opt := NewSGD([]*Param{w, b}, 0.9, 0.5, true)
	w.Grad[0], b.Grad[0] = 2, 2
	opt.Step([]*Param{w, b}, 0.1)
	// w: d = 2 + 0.5 = 2.5, buf = 2.5, step = 2.5 + 0.9·2.5 = 4.75 → 0.525.
	// b (no decay): d = 2, buf 2, step 3.8 → 0.62.
	if math.Abs(float64(w.Data[0])-0.525) > 1e-6 || math.Abs(float64(b.Data[0])-0.62) > 1e-6 {
		t.Fatalf("after step 1: w=%v b=%v", w.Data[0], b.Data[0])
	}
	opt.Step([]*Param{w, b}, 0.1)
	// w: d = 2 + 0.2625 = 2.2625, buf = 2.25 + 2.2625 = 4.5125, step = 2.2625 + 4.06125 = 6.32375.
	if math.Abs(float64(w.Data[0])-(0.525-0.632375)) > 1e-6 {
		t.Fatalf("after step 2: w=%v", w.Data[0])
	}
}

func TestEMA(t *testing.T) {
	live := []*Param{newParam("p", 2)}
	shadow := []*Param{newParam("p", 2)}
	live[0].Data[0], live[0].Data[1] = 1, 2
	lb := []*Buffer{{Name: "b", Data: []float32{7}}}
	sb := []*Buffer{{Name: "b", Data: []float32{0}}}
	EMAUpdate(shadow, live, sb, lb, 0.999)
	if math.Abs(float64(shadow[0].Data[0])-0.001) > 1e-7 || math.Abs(float64(shadow[0].Data[1])-0.002) > 1e-7 || sb[0].Data[0] != 7 {
		t.Fatalf("ema %v %v", shadow[0].Data, sb[0].Data)
	}
}

func TestInitialisationStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	conv := NewConv2D("c", 64, 128, 3, 1, 1, true)
	InitKaimingNormalFanOut(conv.W, 0, rng)
	wantStd := math.Sqrt(2.0 / (128 * 9))
	if s := stddev(conv.W.Data); math.Abs(s/wantStd-1) > 0.02 {
		t.Fatalf("kaiming std %v want %v", s, wantStd)
	}
	d := NewDense("d", 128, 26, true)
	InitXavierNormal(d.W, rng)
	if s := stddev(d.W.Data); math.Abs(s/math.Sqrt(2.0/154)-1) > 0.05 {
		t.Fatalf("xavier std %v", s)
	}
	InitLinearDefault(d, rng)
	bound := float32(1 / math.Sqrt(128))
	for _, v := range append(append([]float32(nil), d.W.Data...), d.B.Data...) {
		if v < -bound || v > bound {
			t.Fatalf("default init %v outside ±%v", v, bound)
		}
	}
}

func stddev(x []float32) float64 {
	m, s := 0.0, 0.0
	for _, v := range x {
		m += float64(v)
	}
	m /= float64(len(x))
	for _, v := range x {
		s += (float64(v) - m) * (float64(v) - m)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestCheckpointRoundTripAndCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.ckpt")
	c := &Checkpoint{Iteration: 1999, Layout: []byte(`{"k":3}`), Meta: []byte("layout-v7"),
		Arrays: []NamedArray{{Name: "a", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, float32(math.Inf(1))}}, {Name: "empty", Shape: []int{0}, Data: []float32{}}}}
	if err := WriteCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Iteration != 1999 || string(got.Layout) != `{"k":3}` || string(got.Meta) != "layout-v7" || len(got.Arrays) != 2 || got.Arrays[0].Data[5] != c.Arrays[0].Data[5] || got.Arrays[0].Shape[1] != 3 {
		t.Fatalf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	raw, _ := os.ReadFile(path)
	var buf bytes.Buffer
	c.Encode(&buf)
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Fatal("Encode and file differ")
	}
	// Every truncation and every single-byte flip is rejected without panic.
	for n := 0; n < len(raw); n++ {
		if _, err := DecodeCheckpoint(raw[:n]); err == nil {
			t.Fatalf("truncation to %d accepted", n)
		}
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x40
		if _, err := DecodeCheckpoint(bad); err == nil {
			t.Fatalf("flip at %d accepted", i)
		}
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	var buf bytes.Buffer
	(&Checkpoint{Iteration: 3, Meta: []byte("m"), Arrays: []NamedArray{{Name: "x", Shape: []int{2}, Data: []float32{1, 2}}}}).Encode(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCheckpoint(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("re-encoding differs")
		}
	})
}

// Block-parallel BatchNorm, LeakyReLU and im2col give bit-identical results
// for any GOMAXPROCS (tensors large enough to span many blocks).
func TestParallelLayersDeterministic(t *testing.T) {
	run := func(procs int) []float32 {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		rng := rand.New(rand.NewPCG(21, 22))
		x := randTensor(rng, 40, 16, 16, 8)
		weights := make([]float32, 40)
		for i := range weights {
			weights[i] = float32(1 + i%3)
		}
		conv := NewConv2D("c", 8, 16, 3, 1, 1, true)
		initRandom(conv, rng)
		bn := NewBatchNorm("bn", 16, 0.001, 1e-3)
		net := &Sequential{Layers: []Layer{conv, bn, &LeakyReLU{Slope: 0.1}}}
		y := net.Forward(x, &Pass{Train: true, Weights: weights})
		dx := net.Backward(randTensor(rng, y.Shape...))
		out := append(append([]float32(nil), y.Data...), dx.Data...)
		for _, p := range net.Params() {
			out = append(out, p.Grad...)
		}
		return append(out, bn.RunVar.Data...)
	}
	a, b, c := run(1), run(2), run(3)
	for i := range a {
		if a[i] != b[i] || a[i] != c[i] {
			t.Fatalf("element %d: %v %v %v", i, a[i], b[i], c[i])
		}
	}
}
