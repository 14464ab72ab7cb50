package eval

import (
	"encoding/json"
	"fmt"
	"io"
)

// SmallOrgThreshold is the number of test scanners below which an org is
// flagged small: the paper dropped such rows from its tables by hand, we
// report them (flagged) and keep them in every average.
const SmallOrgThreshold = 5

// ClassReport is one org's row of the JSON report.
type ClassReport struct {
	Org       string  `json:"org"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
	Small     bool    `json:"small"`
}

// ProbeLevel is the weighted F1 of one service's probe classifier on the
// test probes (unattributed probes excluded).
type ProbeLevel struct {
	WeightedF1 float64 `json:"weighted_f1"`
	Support    int     `json:"support"`
}

// WeekScore is one step of the incremental mode's weekly F1 curve.
type WeekScore struct {
	WeekStart  string  `json:"week_start"`
	Theta      float64 `json:"theta"`
	WeightedF1 float64 `json:"weighted_f1"`
	Support    int     `json:"support"`
}

// UnattributedStats says how often scanners nobody labelled were attributed
// to a known org: the paper's metric excludes them, but every such
// attribution is a claim an analyst has to trust or check.
type UnattributedStats struct {
	// TestIPs is the number of unattributed scanner IPs in the test period.
	TestIPs int `json:"test_ips"`
	// Attributed of them got a known org.
	Attributed int     `json:"attributed"`
	Share      float64 `json:"share"`
	// ByOrg counts the attributions per org (orgs with none left out).
	ByOrg map[string]int `json:"by_org,omitempty"`
}

// TruthStats needs the full ground truth of a simulated world.
type TruthStats struct {
	// HiddenMembers are test IPs of known orgs that the labels do not list.
	HiddenMembers int `json:"hidden_members"`
	// HiddenCorrect of them were attributed to their true org.
	HiddenCorrect int     `json:"hidden_correct"`
	HiddenRecall  float64 `json:"hidden_recall"`
	// HiddenWrongOrg of them were attributed to another known org.
	HiddenWrongOrg int `json:"hidden_wrong_org"`
	// GenericIPs only run generic tools (curl, nmap, masscan, zgrab2, Go or
	// Python clients, bots); no org should be named for them.
	GenericIPs        int     `json:"generic_ips"`
	GenericAttributed int     `json:"generic_attributed"`
	OverAttribution   float64 `json:"over_attribution_rate"`
}

// Report is the evaluation report of docs/formats.md §4. The required fields come
// first; the optional ones are filled by the pipeline when it has them.
type Report struct {
	Mode          string                `json:"mode"`
	Theta         float64               `json:"theta"`
	Classes       []ClassReport         `json:"classes"`
	WeightedAvg   Average               `json:"weighted_avg"`
	MacroAvg      Average               `json:"macro_avg"`
	Accuracy      float64               `json:"accuracy"`
	ProbeLevel    map[string]ProbeLevel `json:"probe_level"`
	TimingSeconds map[string]float64    `json:"timing_seconds"`

	Weekly       []WeekScore        `json:"weekly,omitempty"`
	Unattributed *UnattributedStats `json:"unattributed,omitempty"`
	Truth        *TruthStats        `json:"truth,omitempty"`

	// NewIPs scores the labelled test scanners never seen in the training
	// traffic: what the payloads and the neighbourhood alone achieve.
	NewIPs *Subset `json:"new_ips,omitempty"`
	// WithoutSmall is the paper's table: orgs with fewer than
	// SmallOrgThreshold test scanners (and their scanners) left out.
	WithoutSmall *Subset `json:"without_small_orgs,omitempty"`
	// Evidence counts the attributed test IPs by what spoke for the org.
	Evidence map[string]int `json:"evidence,omitempty"`
	// Curve is the operating curve on the test period: what each θ would
	// have given.
	Curve []CurvePoint `json:"operating_curve,omitempty"`
	// Warnings name what makes the report weak (one known organisation,
	// organisations with one training scanner).
	Warnings []string `json:"warnings,omitempty"`
}

// Subset is the scores of a part of the labelled test scanners.
type Subset struct {
	Classes     []ClassReport `json:"classes,omitempty"`
	WeightedAvg Average       `json:"weighted_avg"`
	MacroAvg    Average       `json:"macro_avg"`
	Accuracy    float64       `json:"accuracy"`
}

// NewSubset scores a part of the scanners (nil when it is empty).
func NewSubset(yTrue, yPred []int, names []string) (*Subset, error) {
	if len(yTrue) == 0 {
		return nil, nil
	}
	m, err := Classify(yTrue, yPred, nil)
	if err != nil {
		return nil, err
	}
	r := NewReport("", 0, m, names)
	return &Subset{Classes: r.Classes, WeightedAvg: r.WeightedAvg, MacroAvg: r.MacroAvg, Accuracy: r.Accuracy}, nil
}

// CurvePoint is one decision threshold of the operating curve.
type CurvePoint struct {
	Theta      float64 `json:"theta"`
	WeightedF1 float64 `json:"weighted_f1"`
	NewIPF1    float64 `json:"new_ip_f1"`
	// UnattributedAttributed is the share of unattributed test IPs given
	// an org (innocent scanners and unlisted members together).
	UnattributedAttributed float64 `json:"unattributed_attributed"`
	// With a simulated world's truth: the share of generic-tool IPs given
	// an org, and the recall on unlisted members of known orgs.
	OverAttribution *float64 `json:"over_attribution,omitempty"`
	HiddenRecall    *float64 `json:"hidden_recall,omitempty"`
}

// NewReport turns scanner-level metrics into a report. names maps a class
// index to its org name ("unknown" for the unknown class); a class outside
// names is named by its index so nothing is silently dropped.
func NewReport(mode string, theta float64, m Metrics, names []string) Report {
	r := Report{
		Mode:          mode,
		Theta:         theta,
		Classes:       make([]ClassReport, 0, len(m.Classes)),
		WeightedAvg:   m.Weighted,
		MacroAvg:      m.Macro,
		Accuracy:      m.Accuracy,
		ProbeLevel:    map[string]ProbeLevel{},
		TimingSeconds: map[string]float64{},
	}
	for _, c := range m.Classes {
		r.Classes = append(r.Classes, ClassReport{
			Org:       ClassName(names, c.Class),
			Precision: c.Precision,
			Recall:    c.Recall,
			F1:        c.F1,
			Support:   c.Support,
			Small:     c.Support < SmallOrgThreshold,
		})
	}
	return r
}

// ClassName is names[class], or "class<N>" when names does not cover it.
func ClassName(names []string, class int) string {
	if class >= 0 && class < len(names) && names[class] != "" {
		return names[class]
	}
	return fmt.Sprintf("class%d", class)
}

// Unattributed counts how many of the predictions for unattributed test IPs
// name a known org (anything but the unknown class).
func Unattributed(predictions []int, unknown int, names []string) UnattributedStats {
	s := UnattributedStats{TestIPs: len(predictions)}
	for _, p := range predictions {
		if p == unknown {
			continue
		}
		s.Attributed++
		if s.ByOrg == nil {
			s.ByOrg = map[string]int{}
		}
		s.ByOrg[ClassName(names, p)]++
	}
	if s.TestIPs > 0 {
		s.Share = float64(s.Attributed) / float64(s.TestIPs)
	}
	return s
}

// TruthRow is one test scanner IP judged against a simulated world's truth.
type TruthRow struct {
	// Predicted is the attributed class (the unknown index for none).
	Predicted int
	// TrueClass is the IP's true known org, or the unknown index when it
	// belongs to none (generic tools, fully-disclosed orgs).
	TrueClass int
	// Hidden: a member of a known org that the labels do not list.
	Hidden bool
	// Generic: the IP only runs generic tools.
	Generic bool
}

// Truth computes the recall on hidden members and the over-attribution rate.
func Truth(rows []TruthRow, unknown int) TruthStats {
	var s TruthStats
	for _, r := range rows {
		if r.Hidden && r.TrueClass != unknown {
			s.HiddenMembers++
			switch r.Predicted {
			case r.TrueClass:
				s.HiddenCorrect++
			case unknown:
			default:
				s.HiddenWrongOrg++
			}
		}
		if r.Generic {
			s.GenericIPs++
			if r.Predicted != unknown {
				s.GenericAttributed++
			}
		}
	}
	if s.HiddenMembers > 0 {
		s.HiddenRecall = float64(s.HiddenCorrect) / float64(s.HiddenMembers)
	}
	if s.GenericIPs > 0 {
		s.OverAttribution = float64(s.GenericAttributed) / float64(s.GenericIPs)
	}
	return s
}

// WriteJSON writes the report, indented, with a trailing newline.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ProbeScore is the probe-level entry of a service: weighted F1 over the
// given probes (the caller leaves unattributed probes out) and their count.
func ProbeScore(yTrue, yPred []int) (ProbeLevel, error) {
	f1, err := WeightedF1(yTrue, yPred)
	if err != nil {
		return ProbeLevel{}, err
	}
	return ProbeLevel{WeightedF1: f1, Support: len(yTrue)}, nil
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(r io.Reader) (Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return Report{}, fmt.Errorf("eval: reading report: %w", err)
	}
	return rep, nil
}
