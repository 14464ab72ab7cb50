// Package eval scores attributions the way the paper's artifact does
// (sklearn's classification_report with zero_division=0) and writes the
// evaluation report of docs/formats.md §4 as JSON and as a readable table.
package eval

import (
	"fmt"
	"slices"
)

// ClassMetrics is one row of a classification report.
type ClassMetrics struct {
	Class     int
	Precision float64
	Recall    float64
	F1        float64
	// Support is the number of true members of the class.
	Support int
	// Predicted is how many samples were predicted as the class.
	Predicted int
	// Correct is the number of true positives.
	Correct int
}

// Average is a macro or support-weighted average over the report's classes.
type Average struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics is a whole classification report.
type Metrics struct {
	// Classes are in the order of the labels argument, or ascending.
	Classes []ClassMetrics
	// Accuracy is the share of all samples predicted correctly, whatever
	// the label set (sklearn's accuracy_score).
	Accuracy float64
	Macro    Average
	Weighted Average
	// Samples is the number of (true, predicted) pairs scored.
	Samples int
}

// Classify computes per-class precision, recall, F1 and support with
// sklearn's semantics and zero_division=0: a class never predicted has
// precision 0, a class with no members has recall 0, and F1 is
// 2·tp/(2·tp+fp+fn) (0 when that denominator is 0). labels selects and
// orders the reported classes (classes with no support and no predictions
// included); nil means every class in yTrue or yPred, ascending. Macro
// averages run over the reported classes; weighted averages weight them by
// support, as classification_report does.
func Classify(yTrue, yPred []int, labels []int) (Metrics, error) {
	if len(yTrue) != len(yPred) {
		return Metrics{}, fmt.Errorf("eval: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	support := map[int]int{}
	predicted := map[int]int{}
	correct := map[int]int{}
	hits := 0
	for i, t := range yTrue {
		p := yPred[i]
		support[t]++
		predicted[p]++
		if t == p {
			correct[t]++
			hits++
		}
	}
	if labels == nil {
		for c := range support {
			labels = append(labels, c)
		}
		for c := range predicted {
			if _, ok := support[c]; !ok {
				labels = append(labels, c)
			}
		}
		slices.Sort(labels)
	} else {
		seen := make(map[int]bool, len(labels))
		for _, c := range labels {
			if seen[c] {
				return Metrics{}, fmt.Errorf("eval: label %d listed twice", c)
			}
			seen[c] = true
		}
	}
	m := Metrics{Samples: len(yTrue), Classes: make([]ClassMetrics, 0, len(labels))}
	if len(yTrue) > 0 {
		m.Accuracy = float64(hits) / float64(len(yTrue))
	}
	for _, c := range labels {
		tp, nTrue, nPred := correct[c], support[c], predicted[c]
		cm := ClassMetrics{Class: c, Support: nTrue, Predicted: nPred, Correct: tp}
		cm.Precision = ratio(tp, nPred)
		cm.Recall = ratio(tp, nTrue)
		cm.F1 = ratio(2*tp, nTrue+nPred)
		m.Classes = append(m.Classes, cm)

		m.Macro.Precision += cm.Precision
		m.Macro.Recall += cm.Recall
		m.Macro.F1 += cm.F1
		m.Weighted.Precision += cm.Precision * float64(nTrue)
		m.Weighted.Recall += cm.Recall * float64(nTrue)
		m.Weighted.F1 += cm.F1 * float64(nTrue)
		m.Weighted.Support += nTrue
	}
	m.Macro.Support = m.Weighted.Support
	if n := len(labels); n > 0 {
		m.Macro.Precision /= float64(n)
		m.Macro.Recall /= float64(n)
		m.Macro.F1 /= float64(n)
	}
	if s := m.Weighted.Support; s > 0 {
		m.Weighted.Precision /= float64(s)
		m.Weighted.Recall /= float64(s)
		m.Weighted.F1 /= float64(s)
	} else {
		// sklearn's weighted average with no support is zero_division.
		m.Weighted = Average{}
	}
	return m, nil
}

// ratio is num/den with sklearn's zero_division=0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// WeightedF1 is sklearn's f1_score(average='weighted', zero_division=0): the
// support-weighted mean F1 over every class present in yTrue or yPred.
// Classes without support weigh nothing, so the label set does not matter.
func WeightedF1(yTrue, yPred []int) (float64, error) {
	m, err := Classify(yTrue, yPred, nil)
	if err != nil {
		return 0, err
	}
	return m.Weighted.F1, nil
}

// PaperAverages recomputes the macro and weighted averages the way the
// artifact's saved reports, and so the paper's tables, did: with
// zero_division=NaN a never-predicted class has no precision, a class
// without support no recall, and a class with neither no F1, and sklearn
// averages over the defined entries only (its _nanaverage). The paper's
// SD25 full-mode macro precision 0.93 is 13.01/14 this way (three classes
// never predicted) where zero_division=0 gives 13.01/17 = 0.77. An average
// with no defined entry is 0.
func PaperAverages(m Metrics) (macro, weighted Average) {
	type part struct{ sum, weight, n float64 }
	var mp, mr, mf, wp, wr, wf part
	add := func(p *part, v float64) {
		p.sum += v
		p.n++
	}
	addW := func(p *part, v float64, w int) {
		p.sum += v * float64(w)
		p.weight += float64(w)
		p.n++
	}
	for _, c := range m.Classes {
		if c.Predicted > 0 {
			add(&mp, c.Precision)
			addW(&wp, c.Precision, c.Support)
		}
		if c.Support > 0 {
			add(&mr, c.Recall)
			addW(&wr, c.Recall, c.Support)
		}
		if c.Predicted+c.Support > 0 {
			add(&mf, c.F1)
			addW(&wf, c.F1, c.Support)
		}
	}
	mean := func(p part) float64 {
		if p.n == 0 {
			return 0
		}
		return p.sum / p.n
	}
	wmean := func(p part) float64 {
		if p.weight == 0 {
			return 0
		}
		return p.sum / p.weight
	}
	macro = Average{Precision: mean(mp), Recall: mean(mr), F1: mean(mf), Support: m.Macro.Support}
	weighted = Average{Precision: wmean(wp), Recall: wmean(wr), F1: wmean(wf), Support: m.Weighted.Support}
	return macro, weighted
}
