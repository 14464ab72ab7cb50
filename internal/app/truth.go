package app

import (
	"github.com/scannergrouper/scannergrouper/internal/eval"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

// truthScore scores predicted classes against a simulated world's truth:
// hidden members of known orgs and IPs that only run generic tools.
func truthScore(truth eval.WorldTruth, classes *pipeline.Classes) pipeline.TruthScore {
	return func(atts []pipeline.Attribution, predicted func(i int) int) eval.TruthStats {
		var trs []eval.TruthRow
		for i, a := range atts {
			t, ok := truth[a.IP]
			if !ok {
				continue
			}
			row := eval.TruthRow{Predicted: predicted(i), TrueClass: classes.Unknown, Hidden: t.Hidden}
			if c := classes.TrainLabel(t.Org); c >= 0 {
				row.TrueClass = c
			}
			row.Generic = (t.Org == "unknown" || t.Org == "") && !t.Hidden
			trs = append(trs, row)
		}
		return eval.Truth(trs, classes.Unknown)
	}
}

// truthStats scores the test attributions against a simulated world's
// truth file; with the evidence combiner the operating curve is redrawn
// with the truth's figures at every θ.
func truthStats(path string, res *pipeline.Result) (eval.TruthStats, error) {
	truth, err := eval.ReadWorldTruth(path)
	if err != nil {
		return eval.TruthStats{}, err
	}
	score := truthScore(truth, res.Classes)
	if res.Combiner != nil {
		res.Report.Curve = pipeline.OperatingCurve(res.Test, res.Classes, score)
	}
	return score(res.Test, func(i int) int { return res.Test[i].Class }), nil
}
