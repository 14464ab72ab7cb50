package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %.15g, want %.15g", what, got, want)
	}
}

// The example in sklearn's classification_report documentation, whose
// printed output is:
//
//	class 0  0.50 1.00 0.67 1 / class 1  0.00 0.00 0.00 1 / class 2  1.00 0.67 0.80 3
//	accuracy 0.60; macro avg 0.50 0.56 0.49; weighted avg 0.70 0.60 0.61
func TestClassifySklearnDocExample(t *testing.T) {
	m, err := Classify([]int{0, 1, 2, 2, 2}, []int{0, 0, 2, 2, 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassMetrics{
		{Class: 0, Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1, Predicted: 2, Correct: 1},
		{Class: 1, Precision: 0, Recall: 0, F1: 0, Support: 1, Predicted: 1, Correct: 0},
		{Class: 2, Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3, Predicted: 2, Correct: 2},
	}
	if len(m.Classes) != len(want) {
		t.Fatalf("got %d classes, want %d", len(m.Classes), len(want))
	}
	for i, w := range want {
		g := m.Classes[i]
		if g.Class != w.Class || g.Support != w.Support || g.Predicted != w.Predicted || g.Correct != w.Correct {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
		near(t, "precision", g.Precision, w.Precision)
		near(t, "recall", g.Recall, w.Recall)
		near(t, "f1", g.F1, w.F1)
	}
	near(t, "accuracy", m.Accuracy, 0.6)
	near(t, "macro precision", m.Macro.Precision, 0.5)
	near(t, "macro recall", m.Macro.Recall, (1+0+2.0/3)/3)
	near(t, "macro f1", m.Macro.F1, (2.0/3+0+0.8)/3)
	near(t, "weighted precision", m.Weighted.Precision, 0.7)
	near(t, "weighted recall", m.Weighted.Recall, 0.6)
	near(t, "weighted f1", m.Weighted.F1, (2.0/3+0+3*0.8)/5)
	if m.Weighted.Support != 5 || m.Macro.Support != 5 || m.Samples != 5 {
		t.Errorf("supports %d/%d/%d, want 5", m.Weighted.Support, m.Macro.Support, m.Samples)
	}
	// The printed two-decimal values of the documentation.
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"macro r", m.Macro.Recall, 0.56}, {"macro f1", m.Macro.F1, 0.49}, {"weighted f1", m.Weighted.F1, 0.61}} {
		if math.Round(c.got*100)/100 != c.want {
			t.Errorf("%s rounds to %.2f, sklearn prints %.2f", c.what, c.got, c.want)
		}
	}
}

// sklearn documentation: classification_report([1,1,1], [1,1,0],
// labels=[1,2,3]) prints 1: 1.00 0.67 0.80 3; 2 and 3: zeros with support 0;
// macro avg 0.33 0.22 0.27; weighted avg 1.00 0.67 0.80.
func TestClassifyLabelsWithoutSupport(t *testing.T) {
	m, err := Classify([]int{1, 1, 1}, []int{1, 1, 0}, []int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Classes) != 3 || m.Classes[1].Class != 2 || m.Classes[2].Support != 0 {
		t.Fatalf("classes = %+v", m.Classes)
	}
	near(t, "macro precision", m.Macro.Precision, 1.0/3)
	near(t, "macro recall", m.Macro.Recall, 2.0/9)
	near(t, "macro f1", m.Macro.F1, 0.8/3)
	near(t, "weighted precision", m.Weighted.Precision, 1)
	near(t, "weighted recall", m.Weighted.Recall, 2.0/3)
	near(t, "weighted f1", m.Weighted.F1, 0.8)
	// Accuracy counts the sample predicted as the unlisted class 0 too.
	near(t, "accuracy", m.Accuracy, 2.0/3)
}

// A hand-worked open-set case: classes 0,1 known, 2 = unknown.
//
//	true: 0 0 0 1 1 2 2 2 2
//	pred: 0 0 2 1 0 2 2 0 1
//
// class 0: tp 2, predicted 4, support 3 → P 1/2, R 2/3, F1 4/7
// class 1: tp 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
// class 2: tp 2, predicted 3, support 4 → P 2/3, R 1/2, F1 4/7
func TestClassifyHandComputed(t *testing.T) {
	yTrue := []int{0, 0, 0, 1, 1, 2, 2, 2, 2}
	yPred := []int{0, 0, 2, 1, 0, 2, 2, 0, 1}
	m, err := Classify(yTrue, yPred, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantF1 := []float64{4.0 / 7, 0.5, 4.0 / 7}
	wantP := []float64{0.5, 0.5, 2.0 / 3}
	for i, c := range m.Classes {
		near(t, "f1", c.F1, wantF1[i])
		near(t, "precision", c.Precision, wantP[i])
	}
	wf1 := (3*4.0/7 + 2*0.5 + 4*4.0/7) / 9
	near(t, "weighted f1", m.Weighted.F1, wf1)
	got, err := WeightedF1(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "WeightedF1", got, wf1)
	near(t, "accuracy", m.Accuracy, 5.0/9)
}

func TestClassifyEdgeCases(t *testing.T) {
	if _, err := Classify([]int{1}, nil, nil); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Classify([]int{1}, []int{1}, []int{1, 1}); err == nil {
		t.Error("duplicate label accepted")
	}
	m, err := Classify(nil, nil, nil)
	if err != nil || m.Accuracy != 0 || len(m.Classes) != 0 || m.Weighted.F1 != 0 {
		t.Errorf("empty input: %+v %v", m, err)
	}
	// Only predictions of classes without support: everything is zero.
	m, err = Classify([]int{0, 0}, []int{1, 1}, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Weighted != (Average{}) || m.Classes[0].Precision != 0 || m.Accuracy != 0 {
		t.Errorf("zero-support report: %+v", m)
	}
}

func sampleReport(t *testing.T) Report {
	t.Helper()
	names := []string{"shodan", "stretchoid", "unknown"}
	yTrue := []int{0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2}
	yPred := []int{0, 0, 2, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 1, 2}
	m, err := Classify(yTrue, yPred, []int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport("full", 0.36, m, names)
	r.ProbeLevel["http"] = ProbeLevel{WeightedF1: 0.892, Support: 2469}
	// The hand-computed case of TestClassifyHandComputed as DNS probes:
	// weighted F1 (3·4/7 + 2·1/2 + 4·4/7)/9 = 5/9.
	dns, err := ProbeScore([]int{0, 0, 0, 1, 1, 2, 2, 2, 2}, []int{0, 0, 2, 1, 0, 2, 2, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	r.ProbeLevel["dns"] = dns
	r.TimingSeconds["total"] = 12.5
	u := Unattributed([]int{2, 2, 0, 1, 2}, 2, names)
	r.Unattributed = &u
	tr := Truth([]TruthRow{
		{Predicted: 0, TrueClass: 0, Hidden: true},
		{Predicted: 2, TrueClass: 0, Hidden: true},
		{Predicted: 1, TrueClass: 0, Hidden: true},
		{Predicted: 2, TrueClass: 2, Generic: true},
		{Predicted: 1, TrueClass: 2, Generic: true},
		{Predicted: 2, TrueClass: 2, Generic: true},
		{Predicted: 2, TrueClass: 2, Generic: true},
	}, 2)
	r.Truth = &tr
	return r
}

func TestReportJSON(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"mode", "theta", "classes", "weighted_avg", "macro_avg", "accuracy", "probe_level", "timing_seconds", "unattributed", "truth"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	if _, ok := generic["weekly"]; ok {
		t.Error("empty weekly curve should be omitted")
	}
	classes := generic["classes"].([]any)
	first := classes[0].(map[string]any)
	for _, key := range []string{"org", "precision", "recall", "f1", "support", "small"} {
		if _, ok := first[key]; !ok {
			t.Errorf("class row lacks %q", key)
		}
	}
	back, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Classes[0].Org != "shodan" || !back.Classes[0].Small || back.Classes[1].Small || back.Classes[2].Org != "unknown" {
		t.Errorf("class rows: %+v", back.Classes)
	}
	if back.Classes[1].Support != 6 || back.WeightedAvg.Support != 15 {
		t.Errorf("supports: %+v %+v", back.Classes[1], back.WeightedAvg)
	}
	if back.ProbeLevel["http"].Support != 2469 || back.Theta != 0.36 || back.Mode != "full" {
		t.Errorf("round trip lost fields: %+v", back)
	}
}

func TestUnattributedAndTruth(t *testing.T) {
	r := sampleReport(t)
	u := r.Unattributed
	if u.TestIPs != 5 || u.Attributed != 2 || u.Share != 0.4 || u.ByOrg["shodan"] != 1 || u.ByOrg["stretchoid"] != 1 || len(u.ByOrg) != 2 {
		t.Errorf("unattributed = %+v", u)
	}
	tr := r.Truth
	if tr.HiddenMembers != 3 || tr.HiddenCorrect != 1 || tr.HiddenWrongOrg != 1 || tr.GenericIPs != 4 || tr.GenericAttributed != 1 {
		t.Errorf("truth = %+v", tr)
	}
	near(t, "hidden recall", tr.HiddenRecall, 1.0/3)
	near(t, "over-attribution", tr.OverAttribution, 0.25)
	if s := Unattributed(nil, 2, nil); s.Share != 0 || s.ByOrg != nil {
		t.Errorf("no unattributed IPs: %+v", s)
	}
}

func TestWriteTable(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// shodan: tp 2 of 3 predicted, support 3 → 0.67 0.67 0.67 3, small.
	// stretchoid: tp 5, predicted 6, support 6 → 0.83 0.83 0.83 6.
	// accuracy: 2+5+5 of 15 = 0.80.
	for _, line := range []string{
		"    shodan *      0.67      0.67      0.67         3",
		"  stretchoid      0.83      0.83      0.83         6",
		"    accuracy                          0.80        15",
		"mode full, theta 0.36",
		"* fewer than 5 test scanners (1 orgs)",
		"  dns     0.556  (9 probes)\n  http    0.892  (2469 probes)",
		"unattributed test IPs attributed to a known org: 2 of 5 (40.0%)",
		"generic-tool IPs attributed to an org: 1 of 4 (over-attribution 25.0%)",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("table lacks %q:\n%s", line, out)
		}
	}
}

// zero_division=NaN averages by hand:
//
//	true: 0 0 1 1 2 2 2    pred: 0 1 1 1 0 0 3
//
// class 0: tp 1, pred 3, sup 2 → P 1/3, R 1/2, F1 2/5
// class 1: tp 2, pred 3, sup 2 → P 2/3, R 1,   F1 4/5
// class 2: tp 0, pred 0, sup 3 → P undefined, R 0, F1 0
// class 3: tp 0, pred 1, sup 0 → P 0, R undefined, F1 0
//
// macro P = (1/3 + 2/3 + 0)/3 = 1/3; macro R = (1/2 + 1 + 0)/3 = 1/2;
// macro F1 = (2/5 + 4/5 + 0 + 0)/4 = 3/10. Weighted (by support 2,2,3,0):
// P = (2/3 + 4/3)/4 = 1/2 (class 2 left out with its weight),
// R = (1 + 2 + 0)/7 = 3/7, F1 = (4/5 + 8/5)/7 = 12/35.
func TestPaperAverages(t *testing.T) {
	m, err := Classify([]int{0, 0, 1, 1, 2, 2, 2}, []int{0, 1, 1, 1, 0, 0, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	macro, weighted := PaperAverages(m)
	near(t, "macro P", macro.Precision, 1.0/3)
	near(t, "macro R", macro.Recall, 0.5)
	near(t, "macro F1", macro.F1, 0.3)
	near(t, "weighted P", weighted.Precision, 0.5)
	near(t, "weighted R", weighted.Recall, 3.0/7)
	near(t, "weighted F1", weighted.F1, 12.0/35)
	// zero_division=0 for comparison: macro P over all four classes.
	near(t, "zero-division-0 macro P", m.Macro.Precision, 0.25)
	if macro.Support != 7 || weighted.Support != 7 {
		t.Errorf("supports %d %d", macro.Support, weighted.Support)
	}
}
