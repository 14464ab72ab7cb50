package openset

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/nn"
)

// cacheKey is the in-memory key of an image's cached prediction (and of
// its content id while training): two independent per-process 64-bit
// hashes of its bytes. 128 bits make a collision among even billions of
// distinct images vanishingly unlikely, and the map does not keep a copy of
// every image. It is a cache key only, faster than the image's identity
// (feature.ImageKey, the SHA-256 that the rest of the project and saved
// models use), and never leaves the process.
type cacheKey [2]uint64

var cacheSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func cacheKeyOf(img []uint8) cacheKey {
	return cacheKey{maphash.Bytes(cacheSeeds[0], img), maphash.Bytes(cacheSeeds[1], img)}
}

// Unlabeled marks a Dataset row without a known class.
const Unlabeled = -1

// MaxSide bounds image height and width.
const MaxSide = 256

// Dataset is a training set of encoded images.
type Dataset struct {
	H, W int
	// Images are H·W bytes each, row-major, one channel.
	Images [][]uint8
	// Labels are the known class in [0, K) or Unlabeled. Unlabeled rows
	// (unattributed probes, fully-disclosed "unknown-class" organisations)
	// take part only in the unlabeled stream; labeled rows are in both
	// (reference §3.3).
	Labels []int
	// Counts optionally gives each row's multiplicity (how many probes share
	// this image and label); nil means 1 each. Sampling is over the expanded
	// set, exactly as if the rows were repeated.
	Counts []int
}

func (d Dataset) validate(k, h, w int) error {
	if d.H != h || d.W != w {
		return fmt.Errorf("openset: dataset images are %d×%d, model expects %d×%d", d.H, d.W, h, w)
	}
	if len(d.Images) == 0 {
		return errors.New("openset: empty dataset")
	}
	if len(d.Labels) != len(d.Images) {
		return fmt.Errorf("openset: %d images but %d labels", len(d.Images), len(d.Labels))
	}
	if d.Counts != nil && len(d.Counts) != len(d.Images) {
		return fmt.Errorf("openset: %d images but %d counts", len(d.Images), len(d.Counts))
	}
	labeled := false
	for i, img := range d.Images {
		if len(img) != h*w {
			return fmt.Errorf("openset: image %d has %d bytes, want %d", i, len(img), h*w)
		}
		if y := d.Labels[i]; y < Unlabeled || y >= k {
			return fmt.Errorf("openset: label %d of row %d outside [-1, %d)", y, i, k)
		} else if y >= 0 {
			labeled = true
		}
		if d.Counts != nil && (d.Counts[i] < 1 || d.Counts[i] > 1<<30) {
			return fmt.Errorf("openset: count %d of row %d out of range", d.Counts[i], i)
		}
	}
	if !labeled {
		return errors.New("openset: no labeled row (IOMatch needs at least one known-class sample)")
	}
	return nil
}

// Stats describes one training iteration.
type Stats struct {
	Iteration int64 // global iteration just completed (1-based count)
	LR        float64
	Loss      float64 // L_s + L_mb + L_ui + L_op
	LossS     float64
	LossMB    float64
	LossUI    float64
	LossOP    float64
	// Mask ratios over the unlabeled batch, as the reference logs them.
	PMaskRatio, InMaskRatio, SelectedRatio, QMaskRatio float64
	// Rows is the number of distinct rows forwarded (with MergeDuplicates)
	// out of Images = labeled + 2·unlabeled logical images.
	Rows, Images int
	ImagesPerSec float64
}

// Prediction is the open-set output for one image.
type Prediction struct {
	// Class is argmax of the K+1 open-set probabilities; K means unknown.
	Class int
	// Probs is the open-set softmax (K+1 values).
	Probs []float32
	// Proj is the 128-d projection (feat_proj) used for clustering.
	Proj [FeatureDim]float32
}

// Verdict is a Prediction without the projection: what attribution reads
// of a classifier, a sixth of a Prediction's size. A month of random DNS
// names is hundreds of thousands of distinct images, each held in the
// cache and in the caller's answer.
type Verdict struct {
	// Class is argmax of the K+1 open-set probabilities; K means unknown.
	Class int
	// Probs is the open-set softmax (K+1 values).
	Probs []float32
}

// Model is one IOMatch classifier: live network, EMA network (used for
// inference), optimiser state and the global iteration count.
type Model struct {
	cfg  Config
	h, w int

	net, ema            *network
	params, emaParams   []*nn.Param
	buffers, emaBuffers []*nn.Buffer
	opt                 *nn.SGD
	iter                int64

	mu    sync.Mutex
	cache map[cacheKey]Verdict
}

// NewModel initialises a model from cfg.Seed for h×w images.
func NewModel(cfg Config, h, w int) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h < 1 || w < 1 || h > MaxSide || w > MaxSide {
		return nil, fmt.Errorf("openset: image size %d×%d outside 1..%d", h, w, MaxSide)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x696f6d61746368)) // "iomatch"
	net, err := newNetwork(cfg.Backbone, cfg.K, h, w, rng, cfg.bnMomentum())
	if err != nil {
		return nil, err
	}
	ema, _ := newNetwork(cfg.Backbone, cfg.K, h, w, nil, cfg.bnMomentum())
	m := &Model{cfg: cfg, h: h, w: w, net: net, ema: ema}
	m.params, m.emaParams = net.params(), ema.params()
	m.buffers, m.emaBuffers = net.buffers(), ema.buffers()
	nn.CopyState(m.emaParams, m.params, m.emaBuffers, m.buffers)
	m.opt = nn.NewSGD(m.params, cfg.Momentum, cfg.WeightDecay, cfg.Nesterov)
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Size returns the image height and width.
func (m *Model) Size() (h, w int) { return m.h, m.w }

// SetCosineHorizon changes the learning-rate schedule for later training
// (see Config.CosineHorizon); the incremental reference re-creates its
// LambdaLR each week with horizon 200·(week+1) (§4). 0 means constant.
func (m *Model) SetCosineHorizon(iterations int) error {
	if iterations < 0 {
		return errors.New("openset: negative cosine horizon")
	}
	m.mu.Lock()
	m.cfg.CosineHorizon = iterations
	m.mu.Unlock()
	return nil
}

// Iteration is the number of training iterations done so far.
func (m *Model) Iteration() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.iter
}

// sampler draws the reference's per-epoch index lists: each epoch
// concatenates seeded random permutations of the (expanded) set until it
// has IterationsPerEpoch·batch indices; iteration t takes its slice.
type sampler struct {
	seed, stream uint64
	batch, per   int
	rows         []int   // dataset row of each member
	cum          []int64 // cumulative multiplicity
	epoch        int64
	list         []int
}

func newSampler(seed, stream uint64, batch, per int, rows []int, counts []int) *sampler {
	s := &sampler{seed: seed, stream: stream, batch: batch, per: per, rows: rows, epoch: -1}
	total := int64(0)
	for _, r := range rows {
		c := int64(1)
		if counts != nil {
			c = int64(counts[r])
		}
		total += c
		s.cum = append(s.cum, total)
	}
	return s
}

func (s *sampler) at(it int64) []int {
	e := it / int64(s.per)
	if e != s.epoch {
		s.epoch = e
		rng := rand.New(rand.NewPCG(s.seed^0x73616d706c6572, uint64(e)<<1|s.stream))
		total := s.cum[len(s.cum)-1]
		need := s.per * s.batch
		s.list = s.list[:0]
		for len(s.list) < need {
			for _, x := range permPrefix(rng, total, min(int64(need-len(s.list)), total)) {
				member := sort.Search(len(s.cum), func(i int) bool { return s.cum[i] > x })
				s.list = append(s.list, s.rows[member])
			}
		}
	}
	off := int(it%int64(s.per)) * s.batch
	return s.list[off : off+s.batch]
}

// permPrefix returns the first n elements of a uniformly random permutation
// of [0, total) by a Fisher–Yates shuffle that stores only displaced
// positions, so memory is O(n) however large the expanded set is.
func permPrefix(rng *rand.Rand, total, n int64) []int64 {
	displaced := make(map[int64]int64, n)
	at := func(i int64) int64 {
		if v, ok := displaced[i]; ok {
			return v
		}
		return i
	}
	out := make([]int64, n)
	for i := int64(0); i < n; i++ {
		j := i + rng.Int64N(total-i)
		out[i] = at(j)
		displaced[j] = at(i)
	}
	return out
}

// batch is one training batch in row form.
type batch struct {
	rows    []int     // dataset row forwarded in each batch row
	weights []float32 // BatchNorm weight per batch row (nil: all 1)
	lbRow   []int
	ulbW    []int
	ulbS    []int
}

// makeBatch lays out the reference's cat(x_lb, x_ulb_w, x_ulb_s). With merge,
// rows with identical image bytes share one batch row whose weight is the
// number of logical images it stands for.
func makeBatch(lb, ulb []int, content []int, merge bool) batch {
	var b batch
	if !merge {
		b.rows = append(append(append(b.rows, lb...), ulb...), ulb...)
		for j := range lb {
			b.lbRow = append(b.lbRow, j)
		}
		for u := range ulb {
			b.ulbW = append(b.ulbW, len(lb)+u)
			b.ulbS = append(b.ulbS, len(lb)+len(ulb)+u)
		}
		return b
	}
	rowOf := make(map[int]int)
	get := func(r int, w float32) int {
		id := content[r]
		i, ok := rowOf[id]
		if !ok {
			i = len(b.rows)
			rowOf[id] = i
			b.rows = append(b.rows, r)
			b.weights = append(b.weights, 0)
		}
		b.weights[i] += w
		return i
	}
	for _, r := range lb {
		b.lbRow = append(b.lbRow, get(r, 1))
	}
	for _, r := range ulb {
		i := get(r, 2)
		b.ulbW = append(b.ulbW, i)
		b.ulbS = append(b.ulbS, i)
	}
	return b
}

// Train runs iters IOMatch iterations on ds, continuing from the model's
// current state (weights, EMA, optimiser, iteration): a fresh model trains
// from scratch, a loaded one continues incrementally (§4). progress, if not
// nil, is called after every iteration. Cancelling ctx stops between
// iterations; the model stays consistent.
func (m *Model) Train(ctx context.Context, ds Dataset, iters int, progress func(Stats)) error {
	if err := ds.validate(m.cfg.K, m.h, m.w); err != nil {
		return err
	}
	if iters < 0 {
		return errors.New("openset: negative iteration count")
	}
	content := make([]int, len(ds.Images))
	// Content ids are assigned in row order, so they do not depend on the
	// (per-process) hash seeds.
	ids := make(map[cacheKey]int)
	var labeled, all []int
	for i, img := range ds.Images {
		key := cacheKeyOf(img)
		id, ok := ids[key]
		if !ok {
			id = len(ids)
			ids[key] = id
		}
		content[i] = id
		all = append(all, i)
		if ds.Labels[i] >= 0 {
			labeled = append(labeled, i)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Whatever happens, predictions cached before this call are stale.
	defer func() { m.cache = nil }()
	cfg := m.cfg
	lbs := newSampler(cfg.Seed, 0, cfg.BatchLabeled, cfg.IterationsPerEpoch, labeled, ds.Counts)
	ulbs := newSampler(cfg.Seed, 1, cfg.BatchLabeled*cfg.UnlabeledRatio, cfg.IterationsPerEpoch, all, ds.Counts)
	for i := 0; i < iters; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := m.step(ds, content, lbs.at(m.iter), ulbs.at(m.iter))
		if progress != nil {
			progress(st)
		}
	}
	return nil
}

// step performs one forward/backward/update.
func (m *Model) step(ds Dataset, content, lb, ulb []int) Stats {
	start := time.Now()
	cfg := m.cfg
	b := makeBatch(lb, ulb, content, cfg.MergeDuplicates)
	images := make([][]uint8, len(b.rows))
	for i, r := range b.rows {
		images[i] = ds.Images[r]
	}
	labels := make([]int, len(lb))
	for j, r := range lb {
		labels[j] = ds.Labels[r]
	}
	out := m.net.forward(m.net.input(images, m.h, m.w, m.cfg.pixelScale()), &nn.Pass{Train: true, Weights: b.weights})
	t := computeTargets(out, b.ulbW, cfg.K, cfg.PCutoff, cfg.QCutoff)
	opOn := m.iter >= int64(cfg.IterationsPerEpoch) // L_op is off while epoch == 0
	l, dLogits, dMB, dOpen := lossAndGrad(out, b.lbRow, labels, b.ulbS, t, cfg.K, opOn)
	nn.ZeroGrad(m.params)
	m.net.backward(dLogits, dMB, dOpen)
	lr := cfg.lrAt(m.iter)
	m.opt.Step(m.params, lr)
	nn.EMAUpdate(m.emaParams, m.params, m.emaBuffers, m.buffers, cfg.EMADecay)
	m.iter++
	logical := len(lb) + 2*len(ulb)
	el := time.Since(start).Seconds()
	return Stats{
		Iteration: m.iter, LR: lr, Loss: l.total(), LossS: l.s, LossMB: l.mb, LossUI: l.ui, LossOP: l.op,
		PMaskRatio: t.pMaskRatio, InMaskRatio: t.inMaskRatio, SelectedRatio: t.selectedRatio, QMaskRatio: t.qMaskRatio,
		Rows: len(b.rows), Images: logical, ImagesPerSec: float64(logical) / max(el, 1e-9),
	}
}

// predictBatchSize bounds the inference batch (memory).
const predictBatchSize = 256

// Classify classifies images (H·W bytes each) with the EMA network in
// evaluation mode. Results are cached per distinct image until the next
// Train. Model methods may be called from several goroutines: Train, Save,
// Classify and Predict serialise on the model.
func (m *Model) Classify(images [][]uint8) ([]Verdict, error) {
	if err := m.checkSizes(images); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys, todo, todoKeys := m.uncached(images)
	for lo := 0; lo < len(todo); lo += predictBatchSize {
		hi := min(lo+predictBatchSize, len(todo))
		for i, p := range m.infer(todo[lo:hi]) {
			m.cache[todoKeys[lo+i]] = Verdict{p.Class, p.Probs}
		}
	}
	// Callers get their own copy of the probabilities (one allocation).
	k1 := m.cfg.K + 1
	probs := make([]float32, len(images)*k1)
	out := make([]Verdict, len(images))
	for i, key := range keys {
		v := m.cache[key]
		dst := probs[i*k1 : (i+1)*k1 : (i+1)*k1]
		copy(dst, v.Probs)
		out[i] = Verdict{v.Class, dst}
	}
	return out, nil
}

// Predict is Classify with each image's projection (for clustering),
// which is not cached: every distinct image goes through the network, and
// class and probabilities are the cached ones where there are.
func (m *Model) Predict(images [][]uint8) ([]Prediction, error) {
	if err := m.checkSizes(images); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]cacheKey, len(images))
	at := make(map[cacheKey]int) // a distinct image's index in distinct
	var distinct [][]uint8
	for i, img := range images {
		keys[i] = cacheKeyOf(img)
		if _, ok := at[keys[i]]; !ok {
			at[keys[i]] = len(distinct)
			distinct = append(distinct, img)
		}
	}
	if m.cache == nil {
		m.cache = make(map[cacheKey]Verdict)
	}
	preds := make([]*Prediction, 0, len(distinct))
	for lo := 0; lo < len(distinct); lo += predictBatchSize {
		preds = append(preds, m.infer(distinct[lo:min(lo+predictBatchSize, len(distinct))])...)
	}
	for i, p := range preds {
		key := cacheKeyOf(distinct[i])
		if v, ok := m.cache[key]; ok {
			p.Class, p.Probs = v.Class, v.Probs
		} else {
			m.cache[key] = Verdict{p.Class, p.Probs}
		}
	}
	k1 := m.cfg.K + 1
	probs := make([]float32, len(images)*k1)
	out := make([]Prediction, len(images))
	for i, key := range keys {
		out[i] = *preds[at[key]]
		dst := probs[i*k1 : (i+1)*k1 : (i+1)*k1]
		copy(dst, out[i].Probs)
		out[i].Probs = dst
	}
	return out, nil
}

func (m *Model) checkSizes(images [][]uint8) error {
	for i, img := range images {
		if len(img) != m.h*m.w {
			return fmt.Errorf("openset: image %d has %d bytes, want %d", i, len(img), m.h*m.w)
		}
	}
	return nil
}

// uncached returns the cache key of every image and the distinct images
// (and their keys) the cache does not hold.
func (m *Model) uncached(images [][]uint8) (keys []cacheKey, todo [][]uint8, todoKeys []cacheKey) {
	if m.cache == nil {
		m.cache = make(map[cacheKey]Verdict)
	}
	keys = make([]cacheKey, len(images))
	pending := make(map[cacheKey]bool)
	for i, img := range images {
		keys[i] = cacheKeyOf(img)
		if _, ok := m.cache[keys[i]]; !ok && !pending[keys[i]] {
			pending[keys[i]] = true
			todo = append(todo, img)
			todoKeys = append(todoKeys, keys[i])
		}
	}
	return keys, todo, todoKeys
}

func (m *Model) infer(images [][]uint8) []*Prediction {
	k := m.cfg.K
	o := m.ema.forward(m.ema.input(images, m.h, m.w, m.cfg.pixelScale()), &nn.Pass{})
	res := make([]*Prediction, len(images))
	probs := make([]float64, k+1)
	flat := make([]float32, len(images)*(k+1))
	for i := range images {
		nn.Softmax(o.open.Data[i*(k+1):(i+1)*(k+1)], probs)
		p := &Prediction{Probs: flat[i*(k+1) : (i+1)*(k+1) : (i+1)*(k+1)]}
		for c, v := range probs {
			p.Probs[c] = float32(v)
			if v > probs[p.Class] {
				p.Class = c
			}
		}
		copy(p.Proj[:], o.proj.Data[i*FeatureDim:(i+1)*FeatureDim])
		res[i] = p
	}
	return res
}
