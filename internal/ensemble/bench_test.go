package ensemble

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
)

// benchWorld: 50k IP rows over 25 known classes and the unknown class,
// sized like a full-mode SD24 training set (ten weekly windows), with
// service votes that agree with the label 70 % of the time.
func benchWorld(n int) ([]IPRow, []int) {
	const known = 25
	rng := rand.New(rand.NewPCG(42, 7))
	rows := make([]IPRow, n)
	labels := make([]int, n)
	for i := range rows {
		// Skewed org sizes, as real scanner populations are.
		label := min(int(rng.ExpFloat64()*6), known)
		votes := map[string]int{}
		for _, svc := range []string{"http", "tls", "dns"} {
			if rng.Float64() < 0.4 {
				continue
			}
			v := rng.IntN(known + 1)
			if rng.Float64() < 0.7 {
				v = label
			}
			votes[svc] = v
		}
		if len(votes) == 0 {
			votes["tls"] = label
		}
		rows[i] = IPRow{IP: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), Window: i % 10, Votes: votes}
		labels[i] = label
	}
	return rows, labels
}

func BenchmarkFit50k(b *testing.B) {
	rows, labels := benchWorld(50000)
	b.ResetTimer()
	meter := benchutil.Start()
	var m *Model
	for b.Loop() {
		var err error
		if m, err = Fit(rows, labels, Config{Unknown: 25}); err != nil {
			b.Fatal(err)
		}
	}
	meter.Report(b, float64(b.N*len(rows)), "rows")
	iters := 0
	for _, f := range m.Fits {
		iters += f.Iterations
	}
	b.ReportMetric(float64(iters)/float64(len(m.Fits)), "lbfgs-iters/class")
	b.ReportMetric(m.ThetaF1, "train-wF1")
	var fitRows []IPRow
	var fitLabels []int
	for i, l := range labels {
		if l < m.Unknown {
			fitRows, fitLabels = append(fitRows, rows[i]), append(fitLabels, l)
		}
	}
	pat, _ := m.groupPatterns(fitRows, fitLabels)
	b.ReportMetric(float64(len(pat.active)), "patterns")
}

func BenchmarkPredict50k(b *testing.B) {
	rows, labels := benchWorld(50000)
	m, err := Fit(rows, labels, Config{Unknown: 25})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	meter := benchutil.Start()
	for b.Loop() {
		m.Predict(rows)
	}
	meter.Report(b, float64(b.N*len(rows)), "rows")
}

func BenchmarkVoteProbes(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	preds := make([]ProbePred, 200000)
	svcs := []string{"http", "tls", "dns"}
	for i := range preds {
		preds[i] = ProbePred{IP: fmt.Sprintf("10.0.%d.%d", rng.IntN(64), rng.IntN(256)), Service: svcs[rng.IntN(3)],
			Time: at(rng.Float64() * 70), Class: rng.IntN(26)}
	}
	w := Weekly(t0, at(70))
	b.ResetTimer()
	meter := benchutil.Start()
	for b.Loop() {
		if _, err := VoteProbes(preds, w); err != nil {
			b.Fatal(err)
		}
	}
	meter.Report(b, float64(b.N*len(preds)), "probes")
}
