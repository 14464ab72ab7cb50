package pipeline

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/eval"
)

// DataWarnings names what makes a report weak: a single known
// organisation, organisations with one training scanner, an empty
// validation or test class.
func DataWarnings(res *Result) []string {
	var out []string
	if res.Classes.Unknown == 1 {
		out = append(out, fmt.Sprintf("only one known organisation (%s) in the training part: the report measures it against unknown only", res.Classes.Names[0]))
	}
	if res.trainScanners != nil {
		var thin []string
		for c, n := range res.trainScanners {
			if n == 1 {
				thin = append(thin, res.Classes.Names[c])
			}
		}
		if len(thin) > 0 {
			slices.Sort(thin)
			out = append(out, fmt.Sprintf("%d organisations have a single training scanner, so every attribution to them rests on it: %s",
				len(thin), strings.Join(thin, ", ")))
		}
	}
	return out
}

// TruthScore scores predicted classes (parallel to atts) against a
// simulated world's full ground truth: hidden members of known orgs and
// IPs that only run generic tools. The pipeline knows no truth file; the
// caller that has one (internal/app) supplies it.
type TruthScore func(atts []Attribution, predicted func(i int) int) eval.TruthStats

// OperatingCurve is what each θ would have given on the test period; with
// truth (nil: none) every point adds over-attribution and hidden recall.
func OperatingCurve(atts []Attribution, classes *Classes, truth TruthScore) []eval.CurvePoint {
	var out []eval.CurvePoint
	for t := 5; t <= 95; t += 5 {
		theta := float64(t) / 100
		pred := func(i int) int {
			if atts[i].Network == classes.Unknown {
				return classes.Unknown // the no-org network rule
			}
			if atts[i].Best >= 0 && atts[i].BestProb >= theta {
				return atts[i].Best
			}
			if atts[i].Network >= 0 {
				return atts[i].Network
			}
			return classes.Unknown
		}
		var yt, yp, nt, np []int
		unattr, attributed := 0, 0
		for i, a := range atts {
			c := classes.Truth(a.Truth)
			if c < 0 {
				unattr++
				if pred(i) != classes.Unknown {
					attributed++
				}
				continue
			}
			yt, yp = append(yt, c), append(yp, pred(i))
			if a.NewIP {
				nt, np = append(nt, c), append(np, pred(i))
			}
		}
		pt := eval.CurvePoint{Theta: theta}
		pt.WeightedF1, _ = eval.WeightedF1(yt, yp)
		pt.NewIPF1, _ = eval.WeightedF1(nt, np)
		if unattr > 0 {
			pt.UnattributedAttributed = float64(attributed) / float64(unattr)
		}
		if truth != nil {
			s := truth(atts, pred)
			pt.OverAttribution, pt.HiddenRecall = &s.OverAttribution, &s.HiddenRecall
		}
		out = append(out, pt)
	}
	return out
}

// WritePredictions writes ip,org,probability for every scanner IP of the
// test part, labelled or not (the contract of `evaluate --predictions`).
func WritePredictions(w io.Writer, atts []Attribution) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"ip", "org", "probability", "evidence", "new_ip"})
	for _, a := range atts {
		cw.Write([]string{a.IP, a.Org, strconv.FormatFloat(a.Prob, 'f', 4, 64), a.Evidence, strconv.FormatBool(a.NewIP)})
	}
	cw.Flush()
	return cw.Error()
}
