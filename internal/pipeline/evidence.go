package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// Networks returns the published networks (list entries wider than one
// address) valid at a time, with their organisation: neighbourhood
// evidence. Nil means none.
type Networks func(t time.Time) []LabelledNetwork

// LabelledNetwork is one published network of an organisation.
type LabelledNetwork struct {
	Prefix netip.Prefix
	Org    string
}

// evidenceState is what the evidence about an IP is measured against: who
// sent each encoded payload, and which addresses were seen with which
// label.
type evidenceState struct {
	pay *evidence.Payloads
	mem *evidence.Memory
}

func newEvidenceState(classes *Classes) *evidenceState {
	return &evidenceState{pay: evidence.NewPayloads(), mem: evidence.NewMemory(classes.Unknown)}
}

// evidenceClass is an org's class for the evidence: a known class, K for a
// labelled scanner of no known organisation, Unattributed otherwise.
func evidenceClass(classes *Classes, org string) int {
	if org == "" {
		return evidence.Unattributed
	}
	return classes.Truth(org)
}

// addNetworks records the published networks valid at t.
func (s *evidenceState) addNetworks(classes *Classes, nets Networks, t time.Time) {
	if nets == nil {
		return
	}
	for _, n := range nets(t) {
		s.mem.AddCIDR(n.Prefix, evidenceClass(classes, n.Org))
	}
}

// learn remembers the labelled addresses and payload senders of data.
// images are data's encodings per service (encodeData).
func (s *evidenceState) learn(data *Data, images map[string]*encoding, classes *Classes) {
	for _, svc := range Services {
		ser, enc := data.S(svc), images[svc]
		for i := range ser.Len() {
			ip := ser.SrcIP(i)
			c := evidenceClass(classes, ser.Org(i))
			s.mem.Add(ip, c)
			if enc != nil {
				j := enc.row(i)
				s.pay.Add(svc, enc.keys[j], ip, c)
				s.pay.Remember(svc, enc.keys[j], enc.imgs[j])
			}
		}
	}
}

// encodeData encodes the distinct inputs of the services that have a
// model.
func encodeData(models map[string]*ServiceModel, data *Data) (map[string]*encoding, error) {
	out := map[string]*encoding{}
	for _, svc := range Services {
		if sm := models[svc]; sm != nil && data.S(svc).Len() > 0 {
			enc, err := encodeSeries(sm.Layout, data.S(svc))
			if err != nil {
				return nil, err
			}
			out[svc] = enc
		}
	}
	return out, nil
}

// ipEvidence is the evidence about every IP of data: rows in IP order, the
// IP's ground truth (at its last probe; "" unattributed) and the services
// it probed.
type ipEvidence struct {
	Rows     []evidence.Row
	Truth    []string
	Services [][]string
	// AsNew holds, for each listed IP (label memory decides it), its
	// evidence as if it were new (evidence.BuildAsNew), with its truth:
	// more examples of unlisted members for the combiner's fit.
	AsNew      []evidence.Row
	AsNewTruth []string
}

// gatherEvidence builds one evidence row per source IP of data, asking
// the service models about every probe.
func gatherEvidence(models map[string]*ServiceModel, state *evidenceState, data *Data, images map[string]*encoding) (*ipEvidence, error) {
	return gather(models, state, data, images, false)
}

// gatherForFit is gatherEvidence with the listed IPs' evidence as new
// (ipEvidence.AsNew).
func gatherForFit(models map[string]*ServiceModel, state *evidenceState, data *Data, images map[string]*encoding) (*ipEvidence, error) {
	return gather(models, state, data, images, true)
}

// ipProbes is what one IP sent in data, as the evidence sees it: its
// probes (with the classifier's probabilities), where each came from in
// data (refs, parallel to probes), its ground truth and its services.
type ipProbes struct {
	probes   []evidence.Probe
	refs     []probeRef
	truth    string
	services []string
}

// probeRef locates a probe in Data: service and index.
type probeRef struct {
	service string
	index   int
}

// ipGroups are data's probes grouped by source IP, in address order, and
// what each service model says about their images: an IP's probes
// (ipProbes) are put together when asked for, so only one IP's are held
// at a time, and the classifier is asked once per distinct image.
type ipGroups struct {
	data   *Data
	images map[string]*encoding
	probs  map[string][][]float32 // per service, per image of images
	ips    []netip.Addr
	// the probes of ips[k] are refs[start[k]:start[k+1]], services in
	// Services order, each in time order
	start []int
	refs  []groupRef
}

// groupRef is a probe of an ipGroups: its service (index in Services)
// and index in the service's series.
type groupRef struct {
	svc   uint8
	index uint32
}

// groupByIP groups data's probes by source IP and asks each service model
// about their images.
func groupByIP(models map[string]*ServiceModel, data *Data, images map[string]*encoding) (*ipGroups, error) {
	g := &ipGroups{data: data, images: images, probs: map[string][][]float32{}}
	for _, svc := range Services {
		if sm := models[svc]; sm != nil && data.S(svc).Len() > 0 {
			preds, err := sm.Model.Classify(images[svc].imgs)
			if err != nil {
				return nil, fmt.Errorf("%s classifier: %w", svc, err)
			}
			probs := make([][]float32, len(preds))
			for i := range preds {
				probs[i] = preds[i].Probs
			}
			g.probs[svc] = probs
		}
	}
	count := make([]int, len(data.tab.addrs.list)) // probes per address
	for _, svc := range Services {
		for _, r := range data.S(svc).recs.all() {
			count[r.src]++
		}
	}
	var order []uint32 // addresses seen, by address
	for a, n := range count {
		if n > 0 {
			order = append(order, uint32(a))
		}
	}
	slices.SortFunc(order, func(a, b uint32) int { return data.tab.addrs.list[a].Compare(data.tab.addrs.list[b]) })
	next := make([]int, len(data.tab.addrs.list)) // next free slot of an address in refs
	g.ips, g.start = make([]netip.Addr, len(order)), make([]int, len(order)+1)
	for k, a := range order {
		g.ips[k] = data.tab.addrs.list[a]
		next[a] = g.start[k]
		g.start[k+1] = g.start[k] + count[a]
	}
	g.refs = make([]groupRef, g.start[len(order)])
	for si, svc := range Services {
		for i, r := range data.S(svc).recs.all() {
			g.refs[next[r.src]] = groupRef{uint8(si), uint32(i)}
			next[r.src]++
		}
	}
	return g, nil
}

// at is what ips[k] sent: its probes with the classifier's probabilities
// (services with a model), its ground truth (the organisation of its last
// labelled probe, services in order) and its services.
func (g *ipGroups) at(k int) *ipProbes {
	a := &ipProbes{}
	for _, ref := range g.refs[g.start[k]:g.start[k+1]] {
		svc := Services[ref.svc]
		ser, i := g.data.S(svc), int(ref.index)
		if o := ser.Org(i); o != "" {
			a.truth = o
		}
		if len(a.services) == 0 || a.services[len(a.services)-1] != svc {
			a.services = append(a.services, svc)
		}
		if probs := g.probs[svc]; probs != nil {
			enc := g.images[svc]
			j := enc.row(i)
			a.probes = append(a.probes, evidence.Probe{Service: svc, Digest: enc.keys[j], Probs: probs[j], Image: enc.imgs[j]})
			a.refs = append(a.refs, probeRef{svc, i})
		}
	}
	return a
}

func gather(models map[string]*ServiceModel, state *evidenceState, data *Data, images map[string]*encoding, asNew bool) (*ipEvidence, error) {
	g, err := groupByIP(models, data, images)
	if err != nil {
		return nil, err
	}
	out := &ipEvidence{Rows: make([]evidence.Row, len(g.ips)), Truth: make([]string, len(g.ips)), Services: make([][]string, len(g.ips))}
	for k, ip := range g.ips {
		a := g.at(k)
		out.Rows[k] = evidence.Build(ip, a.probes, state.mem, state.pay)
		out.Truth[k], out.Services[k] = a.truth, a.services
		if _, listed := state.mem.Listed(ip); listed && asNew {
			out.AsNew = append(out.AsNew, evidence.BuildAsNew(ip, a.probes, state.mem, state.pay))
			out.AsNewTruth = append(out.AsNewTruth, a.truth)
		}
	}
	return out, nil
}

// examples pairs evidence rows with their ground truth for the combiner.
func (e *ipEvidence) examples(classes *Classes) []evidence.Example {
	ex := make([]evidence.Example, len(e.Rows))
	for i := range e.Rows {
		ex[i] = evidence.Example{Row: e.Rows[i], Label: evidenceClass(classes, e.Truth[i])}
	}
	return ex
}

// fitExamples are the examples plus the listed IPs' evidence as new.
func (e *ipEvidence) fitExamples(classes *Classes) []evidence.Example {
	ex := e.examples(classes)
	for i := range e.AsNew {
		ex = append(ex, evidence.Example{Row: e.AsNew[i], Label: evidenceClass(classes, e.AsNewTruth[i])})
	}
	return ex
}

// attributions decides every row.
func (e *ipEvidence) attributions(cmb *evidence.Combiner, classes *Classes) []Attribution {
	out := make([]Attribution, len(e.Rows))
	for i := range e.Rows {
		v := cmb.Decide(&e.Rows[i], cmb.Theta)
		out[i] = Attribution{IP: e.Rows[i].IP.String(), Class: v.Class, Org: classes.Name(v.Class), Prob: v.Prob,
			Services: e.Services[i], Truth: e.Truth[i], Evidence: v.Evidence, NewIP: !e.Rows[i].Seen,
			Best: v.Best, BestProb: v.BestProb, Network: v.Network}
	}
	return out
}

// trainModels selects fields, lays out and trains one classifier per
// service on train. images are train's encodings per service with a model
// (as encodeData gives them), for the caller to reuse.
func trainModels(ctx context.Context, train *Data, classes *Classes, opts Options, timing map[string]float64) (models map[string]*ServiceModel, images map[string]*encoding, err error) {
	models, images = map[string]*ServiceModel{}, map[string]*encoding{}
	for _, svc := range Services {
		if !train.S(svc).hasKnownLabel(classes) {
			opts.Log().Info("no labelled training probes, service left out", "service", svc)
			continue
		}
		t0 := time.Now()
		sm, err := buildServiceModel(svc, train, classes, opts, feature.ModeFull)
		if err != nil {
			return nil, nil, err
		}
		if images[svc], err = encodeSeries(sm.Layout, train.S(svc)); err != nil {
			return nil, nil, err
		}
		timing["encode"] += time.Since(t0).Seconds()
		t0 = time.Now()
		if err := trainService(ctx, sm, images[svc], classes, opts, opts.Iterations); err != nil {
			return nil, nil, err
		}
		timing["train"] += time.Since(t0).Seconds()
		models[svc] = sm
	}
	return models, images, nil
}

// validationShare is the share of the training period (by time) whose
// evidence is gathered from the rest of it to fit the combiner: the last
// fifth, as the 8:2 split of the whole period.
const validationShare = 0.2

// fitCombiner fits the evidence weights on the validation slice of train
// (its last fifth by time), with models, payload senders and label memory
// learnt from the part before it, and chooses θ on the same slice.
func fitCombiner(ctx context.Context, train *Data, classes *Classes, nets Networks, opts Options, timing map[string]float64) (*evidence.Combiner, error) {
	first, last := train.Span()
	valCut := first.Add(time.Duration(float64(last.Sub(first)) * (1 - validationShare)))
	early, val := train.Slice(time.Time{}, valCut), train.Slice(valCut, time.Time{})
	if val.Count() == 0 || early.Count() == 0 {
		return nil, errors.New("the training period is too short to hold out a validation slice")
	}
	vclasses := NewClasses(early, classes.fullyDisclosed)
	if vclasses.Unknown == 0 {
		return nil, errors.New("no labelled scanner of a known organisation before the validation slice")
	}
	// The validation models know the classes of the whole training part
	// (an org first labelled in the validation slice has no evidence yet
	// and is counted as an error, as in the test).
	models, earlyImages, err := trainModels(ctx, early, classes, opts, timing)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	state := newEvidenceState(classes)
	state.addNetworks(classes, nets, valCut)
	state.learn(early, earlyImages, classes)
	valImages, err := encodeData(models, val)
	if err != nil {
		return nil, err
	}
	ev, err := gatherForFit(models, state, val, valImages)
	if err != nil {
		return nil, err
	}
	ex := ev.examples(classes)
	cmb, err := evidence.Fit(classes.Unknown, ev.fitExamples(classes), evidence.FitConfig{})
	if err != nil {
		return nil, fmt.Errorf("validation slice from %s: %w", valCut.Format(time.RFC3339), err)
	}
	cmb.Curve = cmb.OperatingCurve(ex)
	cmb.Theta = evidence.ChooseTheta(cmb.Curve, opts.maxOverAttribution())
	if opts.Theta > 0 {
		cmb.Theta = opts.Theta
	}
	timing["combiner"] += time.Since(t0).Seconds()
	opts.Log().Info("evidence combiner fitted", "validation_from", valCut.Format(time.RFC3339), "validation_ips", len(ex),
		"theta", cmb.Theta, "weights", fmt.Sprint(cmb.W), "unknown_weights", fmt.Sprint(cmb.V))
	return cmb, nil
}

// trainFullEvidence is the full mode with the evidence combiner: fit the
// combiner on the training period's validation slice, then refit the
// classifiers and the evidence on the whole training period and attribute
// the test period.
func trainFullEvidence(ctx context.Context, data *Data, cut time.Time, classes *Classes, nets Networks, opts Options) (*Result, error) {
	train, test := data.Slice(time.Time{}, cut), data.Slice(cut, time.Time{})
	res := &Result{Options: opts, Cut: cut, Classes: classes}
	timing := map[string]float64{}
	cmb, err := fitCombiner(ctx, train, classes, nets, opts, timing)
	if err != nil {
		return nil, err
	}
	res.Combiner = cmb
	var trainImages map[string]*encoding
	if res.Models, trainImages, err = trainModels(ctx, train, classes, opts, timing); err != nil {
		return nil, err
	}
	t0 := time.Now()
	state := newEvidenceState(classes)
	state.addNetworks(classes, nets, cut)
	state.learn(train, trainImages, classes)
	res.state = state
	timing["identify"] += time.Since(t0).Seconds()
	if test.Count() == 0 {
		return res, nil
	}
	res.TestData = test
	t0 = time.Now()
	testImages, err := encodeData(res.Models, test)
	if err != nil {
		return nil, err
	}
	ev, err := gatherEvidence(res.Models, state, test, testImages)
	if err != nil {
		return nil, err
	}
	res.Test = ev.attributions(cmb, classes)
	testPreds, err := probePredictions(res.Models, state, testImages, classes)
	if err != nil {
		return nil, err
	}
	timing["identify"] += time.Since(t0).Seconds()
	if res.Report, err = Evaluate("full", res.Test, test, testPreds, classes, cmb.Theta); err != nil {
		return nil, err
	}
	res.Report.Curve = OperatingCurve(res.Test, classes, nil)
	for k, v := range timing {
		res.Report.TimingSeconds[k] = v
	}
	return res, nil
}

// cut is the time between training and test: TestFrom when set, the end
// of the data for Split ≥ 1 (production training holds nothing out),
// otherwise the paper's time-span split.
func (o Options) cut(data *Data) (time.Time, error) {
	first, last := data.Span()
	if first.IsZero() {
		return time.Time{}, errors.New("no probes to train on")
	}
	switch {
	case !o.TestFrom.IsZero():
		if !o.TestFrom.After(first) {
			return time.Time{}, fmt.Errorf("--test-from %s is not after the first probe (%s): no training traffic",
				o.TestFrom.Format(time.RFC3339), first.Format(time.RFC3339))
		}
		return o.TestFrom.UTC(), nil
	case o.Split >= 1:
		return last.Add(time.Nanosecond), nil
	default:
		return data.SpanCut(o.Split, o.SplitZone)
	}
}

// probePredictions is each probe's own verdict, for the probe-level
// scores: the class with the most distinct training senders of its encoded
// payload (unattributed and no-org senders count for unknown), or the
// service classifier's class for a payload training never saw.
func probePredictions(models map[string]*ServiceModel, state *evidenceState, images map[string]*encoding, classes *Classes) (map[string][]int, error) {
	out := map[string][]int{}
	for svc, enc := range images {
		preds, err := models[svc].Model.Classify(enc.imgs)
		if err != nil {
			return nil, err
		}
		perImage := make([]int, len(preds))
		for i, p := range preds {
			perImage[i] = p.Class
			senders := state.pay.Senders(svc, enc.keys[i])
			if senders == nil {
				continue
			}
			votes := make(map[int]int, len(senders))
			for c, n := range senders {
				if c < 0 || c > classes.Unknown {
					c = classes.Unknown
				}
				votes[c] += n
			}
			best, bestN := classes.Unknown, 0
			for c, n := range votes {
				if n > bestN || (n == bestN && c < best) {
					best, bestN = c, n
				}
			}
			perImage[i] = best
		}
		out[svc] = enc.perProbe(perImage)
	}
	return out, nil
}
