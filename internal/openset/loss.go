package openset

import (
	"math"

	"github.com/scannergrouper/scannergrouper/internal/nn"
)

// ovaEps is OpenMatch's ε inside −log(r + ε).
const ovaEps = 1e-8

// targets are IOMatch's pseudo-labels from the weak view: computed without
// gradient, exactly as under torch.no_grad() in the reference.
type targets struct {
	p      [][]float64 // closed-set softmax, K
	q      [][]float64 // open-set target, K+1
	uiMask []float64   // in_mask · p_mask
	qMask  []float64

	pMaskRatio, inMaskRatio, selectedRatio, qMaskRatio float64
}

// ova returns r(0,k) and r(1,k): the softmax over the pair (logit k, logit
// K+k) of a row of the multi-binary head viewed as [2, K].
func ova(mb []float32, k, c int) (neg, pos float64) {
	a, b := float64(mb[c]), float64(mb[k+c])
	m := math.Max(a, b)
	ea, eb := math.Exp(a-m), math.Exp(b-m)
	return ea / (ea + eb), eb / (ea + eb)
}

// computeTargets derives p, q and the masks from the weak rows ulbW.
func computeTargets(out outputs, ulbW []int, k int, pCutoff, qCutoff float64) targets {
	u := len(ulbW)
	t := targets{p: make([][]float64, u), q: make([][]float64, u), uiMask: make([]float64, u), qMask: make([]float64, u)}
	for i, row := range ulbW {
		p := make([]float64, k)
		nn.Softmax(out.logits.Data[row*k:(row+1)*k], p)
		mb := out.mb.Data[row*2*k : (row+1)*2*k]
		q := make([]float64, k+1)
		outScore, maxP, maxQ := 0.0, 0.0, 0.0
		for c := 0; c < k; c++ {
			neg, pos := ova(mb, k, c)
			outScore += p[c] * neg
			q[c] = p[c] * pos
			maxP = math.Max(maxP, p[c])
			maxQ = math.Max(maxQ, q[c])
		}
		q[k] = outScore
		maxQ = math.Max(maxQ, q[k])
		in := outScore < 0.5
		pm := maxP >= pCutoff
		qm := maxQ >= qCutoff
		t.p[i], t.q[i] = p, q
		if in && pm {
			t.uiMask[i] = 1
			t.selectedRatio++
		}
		if qm {
			t.qMask[i] = 1
			t.qMaskRatio++
		}
		if in {
			t.inMaskRatio++
		}
		if pm {
			t.pMaskRatio++
		}
	}
	if u > 0 {
		t.pMaskRatio /= float64(u)
		t.inMaskRatio /= float64(u)
		t.selectedRatio /= float64(u)
		t.qMaskRatio /= float64(u)
	}
	return t
}

// losses are the four IOMatch terms of one batch.
type losses struct {
	s, mb, ui, op float64
}

func (l losses) total() float64 { return l.s + l.mb + l.ui + l.op }

// lossAndGrad evaluates L_s + L_mb + L_ui + L_op and the gradients w.r.t.
// the closed-set, multi-binary and open-set logits of every batch row.
// lbRow[j] is the row of labeled sample j (label labels[j]); ulbS[u] the row
// of the strong view of unlabeled sample u. A row shared by several samples
// receives the sum of their gradients, which is what the reference's
// separate rows would pass back to identical activations.
func lossAndGrad(out outputs, lbRow, labels, ulbS []int, t targets, k int, opOn bool) (losses, *nn.Tensor, *nn.Tensor, *nn.Tensor) {
	rows := out.logits.Rows()
	dLogits := nn.NewTensor(rows, k)
	dMB := nn.NewTensor(rows, 2*k)
	dOpen := nn.NewTensor(rows, k+1)
	var l losses

	// L_s: CE over the labeled batch; L_mb: OpenMatch's one-vs-all loss.
	nb := float64(len(lbRow))
	for j, row := range lbRow {
		y := labels[j]
		l.s += nn.CrossEntropyHard(out.logits.Data[row*k:(row+1)*k], y, 1/nb, dLogits.Data[row*k:(row+1)*k]) / nb

		mb := out.mb.Data[row*2*k : (row+1)*2*k]
		g := dMB.Data[row*2*k : (row+1)*2*k]
		// −log(r(1,y) + ε): d/dpos = −r0·r1/(r1+ε), d/dneg = +r0·r1/(r1+ε).
		neg, pos := ova(mb, k, y)
		l.mb += -math.Log(pos+ovaEps) / nb
		d := neg * pos / (pos + ovaEps) / nb
		g[k+y] -= float32(d)
		g[y] += float32(d)
		// max_k of −log(r(0,k) + ε)·[k ≠ y]; torch.max sends the gradient to
		// the first maximal index (which is y only when every term is 0,
		// where the gradient is 0).
		best, bestC := math.Inf(-1), -1
		for c := 0; c < k; c++ {
			v := 0.0
			if c != y {
				n, _ := ova(mb, k, c)
				v = -math.Log(n + ovaEps)
			}
			if v > best {
				best, bestC = v, c
			}
		}
		l.mb += best / nb
		if bestC != y {
			n, p := ova(mb, k, bestC)
			d := n * p / (n + ovaEps) / nb
			g[bestC] -= float32(d)
			g[k+bestC] += float32(d)
		}
	}

	// L_ui and L_op: masked soft-target CE on the strong view, averaged over
	// the whole unlabeled batch (masked samples contribute 0).
	nu := float64(len(ulbS))
	for u, row := range ulbS {
		if t.uiMask[u] != 0 {
			l.ui += nn.CrossEntropySoft(out.logits.Data[row*k:(row+1)*k], t.p[u], t.uiMask[u]/nu, dLogits.Data[row*k:(row+1)*k]) * t.uiMask[u] / nu
		}
		if opOn && t.qMask[u] != 0 {
			l.op += nn.CrossEntropySoft(out.open.Data[row*(k+1):(row+1)*(k+1)], t.q[u], t.qMask[u]/nu, dOpen.Data[row*(k+1):(row+1)*(k+1)]) * t.qMask[u] / nu
		}
	}
	return l, dLogits, dMB, dOpen
}
