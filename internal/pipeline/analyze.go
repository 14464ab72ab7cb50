package pipeline

import (
	"github.com/scannergrouper/scannergrouper/internal/analysis"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// AnalysisInput gathers, per service, the still-unknown probes of data
// (scanner attributed unknown and not labelled with a known org) with their
// 128-d projections, and the known-class view: probes of no known org that
// were attributed to one, next to that org's labelled probes (paper Fig. 2).
func AnalysisInput(title string, models map[string]*ServiceModel, data *Data, atts []Attribution, classes *Classes) (analysis.ReportInput, error) {
	in, _, err := analysisInput(title, models, data, atts, classes)
	return in, err
}

// analysisInput also returns, per service, the index in data.Probes of
// each still-unknown probe (the order of ServiceInput.Probes).
func analysisInput(title string, models map[string]*ServiceModel, data *Data, atts []Attribution, classes *Classes) (analysis.ReportInput, map[string][]int, error) {
	still := map[string][]int{}
	attributed := make(map[string]string, len(atts))
	for _, a := range atts {
		attributed[a.IP] = a.Org
	}
	unknownClass := map[string]bool{}
	for _, o := range data.orgs() {
		if o != "" && classes.TrainLabel(o) < 0 {
			unknownClass[o] = true // fully disclosed, or an org the models do not know
		}
	}
	in := analysis.ReportInput{Title: title}
	for _, svc := range Services {
		sm := models[svc]
		ser := data.S(svc)
		if sm == nil || ser.Len() == 0 {
			continue
		}
		// The fields shown per cluster are those analysts recognise tools
		// by, as the service declares them, whatever the models selected.
		keyFields := probe.EncodingOf(svc).KeyFields
		if err := ser.reads(keyFields); err != nil {
			return in, nil, err
		}
		enc, err := encodeSeries(sm.Layout, ser)
		if err != nil {
			return in, nil, err
		}
		preds, err := sm.Model.Predict(enc.imgs)
		if err != nil {
			return in, nil, err
		}
		si := analysis.ServiceInput{Service: svc, KeyFields: keyFields, KnownClass: &analysis.KnownClassInput{}}
		for i := range ser.Len() {
			ip := ser.SrcIP(i).String()
			org := ser.Org(i)
			att := attributed[ip]
			vec := append([]float32(nil), preds[enc.row(i)].Proj[:]...)
			if analysis.IsStillUnknown(att, org, unknownClass) {
				si.Probes = append(si.Probes, analysis.ProbeInput{IP: ip, Fields: fieldMap(ser.Input(i).Fields, keyFields), Vector: vec})
				still[svc] = append(still[svc], i)
			}
			if classes.TrainLabel(org) >= 0 {
				si.KnownClass.Labelled = append(si.KnownClass.Labelled, analysis.OrgVector{Org: org, Vector: vec})
			} else if analysis.IsAttributedUnknownClass(att, org, unknownClass) {
				si.KnownClass.Attributed = append(si.KnownClass.Attributed, analysis.OrgVector{Org: att, Vector: vec})
			}
		}
		if len(si.KnownClass.Attributed) == 0 {
			si.KnownClass = nil
		}
		in.Services = append(in.Services, si)
	}
	return in, still, nil
}

func fieldMap(fs probe.Fields, names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = fs.Value(n)
	}
	return m
}
