package pipeline

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
)

// TestIncrementalEvidenceMatchesTodaysEncodings trains the tiny world week
// by week and checks that every labelled training probe, encoded as the
// models encode it now, is found in the payload senders with its own
// organisation. Before RelearnEvidence, payloads learnt in a week whose
// layout later gained pixels kept their old keys: a listed Rapid7 scanner's
// version.bind query was "sent in training by 1 shadowserver scanner" only.
// Then it explains the listed and unlisted IPs of the last week with the
// saved models.
func TestIncrementalEvidenceMatchesTodaysEncodings(t *testing.T) {
	w := tinyWeeks(t, 2, 200)
	opts, data, fullyDisclosed, classes, weeks, last := w.opts, w.data, w.fullyDisclosed, w.classes, w.weeks, w.last
	inc := NewIncremental(classes, opts, weeks[0])
	if _, _, err := inc.TrainWeeks(context.Background(), data, weeks, 100, false); err != nil {
		t.Fatal(err)
	}
	images, err := encodeData(inc.Res.Models, data)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for svc, enc := range images {
		for i := range enc.s.Len() {
			img := enc.img(i)
			c := evidenceClass(classes, data.S(svc).Org(i))
			if c < 0 || c >= classes.Unknown {
				continue
			}
			checked++
			if inc.state.pay.Senders(svc, feature.KeyOf(img))[c] == 0 {
				p := data.S(svc).Probe(i)
				t.Fatalf("%s probe of %s (%s, %s): its encoding today has no %s sender in the evidence",
					svc, p.SrcIP, p.Time.Format("2006-01-02"), data.S(svc).Org(i), classes.Name(c))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no labelled probe checked")
	}
	if _, ok := inc.Overlap(weeks[1].AddDate(0, 0, 3), weeks[1].AddDate(0, 0, 10)); !ok {
		t.Error("a week starting in the middle of a trained one is not reported as overlapping")
	}
	if _, ok := inc.Overlap(weeks[len(weeks)-1].AddDate(0, 0, 7), weeks[len(weeks)-1].AddDate(0, 0, 14)); ok {
		t.Error("the week after the last trained one is reported as overlapping")
	}

	dir := t.TempDir()
	if _, err := inc.Save(dir); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModels(dir, fullyDisclosed)
	if err != nil {
		t.Fatal(err)
	}
	m.Networks = opts.Networks
	lastWeek := data.Slice(weeks[len(weeks)-1], last.AddDate(0, 0, 1))
	exps, err := m.Explain(lastWeek)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := m.Identify(lastWeek)
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != len(atts) {
		t.Fatalf("%d explanations for %d attributions", len(exps), len(atts))
	}
	// Identification reads only the fields the models encode
	// (Models.LoadQuery keeps no others): the verdicts are the same.
	keep := m.encodedFields()
	lean := &Data{series: map[string]*Series{}, tab: newTables()}
	dropped := 0
	for svc, ser := range lastWeek.series {
		ls := lean.S(svc)
		for i, p := range ser.Probes() {
			before := len(p.Fields)
			p.Fields = p.Fields.Keep(keep[svc])
			dropped += before - len(p.Fields)
			ls.add(&p, ser.Org(i))
		}
		lean.series[svc] = ls
	}
	leanAtts, err := m.Identify(lean)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || !reflect.DeepEqual(leanAtts, atts) {
		t.Errorf("with only the encoded fields (%d others dropped) the verdicts differ:\n%v\nwant\n%v", dropped, leanAtts, atts)
	}
	byIP := map[string]Attribution{}
	for _, a := range atts {
		byIP[a.IP] = a
	}
	kinds := map[string]int{}
	for _, e := range exps {
		a := byIP[e.IP]
		if e.Org != a.Org || e.Confidence != a.Prob {
			t.Errorf("%s: explained as %s (%.3f), identified as %s (%.3f)", e.IP, e.Org, e.Confidence, a.Org, a.Prob)
		}
		kinds[e.Classification]++
		if len(e.Reasons) == 0 || e.Probes == 0 || len(e.Services) == 0 {
			t.Errorf("%s: explanation without reasons, probes or services: %+v", e.IP, e)
		}
		switch e.Classification {
		case ClassListed:
			if e.Org != e.Label {
				t.Errorf("%s listed: org %s, label %s", e.IP, e.Org, e.Label)
			}
			ownPayload := false
			for _, p := range e.Payloads {
				ownPayload = ownPayload || p.TrainingSenders[e.Org] > 0
			}
			if !ownPayload {
				t.Errorf("%s listed %s: none of its payloads was sent in training by %s: %+v", e.IP, e.Org, e.Org, e.Payloads)
			}
		case ClassAttributed:
			// the most probable organisation with evidence of the IP's own
			// (one that only the /16 points to is never named)
			if c, ok := e.nameable(); !ok || e.Confidence < e.Threshold || c.Org != e.Org {
				t.Errorf("%s attributed to %s at %.2f (threshold %.2f), candidates %+v", e.IP, e.Org, e.Confidence, e.Threshold, e.Candidates)
			}
		case ClassUnknown:
			if c, ok := e.nameable(); ok && c.Probability >= e.Threshold && !e.NoOrgNetwork {
				t.Errorf("%s unknown although %s has %.2f ≥ %.2f", e.IP, c.Org, c.Probability, e.Threshold)
			}
		}
		if _, err := netip.ParseAddr(e.IP); err != nil {
			t.Errorf("explanation IP %q: %v", e.IP, err)
		}
	}
	if kinds[ClassListed] == 0 || kinds[ClassUnknown] == 0 {
		t.Errorf("classifications %v: want listed and unknown IPs in the tiny world's last week", kinds)
	}
}

// TestNetworkVerdictSaysWhichNetwork: an organisation named by the network
// rule is explained by the /24's labelled IPs, not by a probability that
// did not reach the threshold.
func TestNetworkVerdictSaysWhichNetwork(t *testing.T) {
	ex := Explanation{Org: "shadowserver", Classification: ClassAttributed, ByNetwork: true, Confidence: 0.4, Threshold: 0.77,
		Neighbourhood: NeighbourhoodReason{Narrow: "64.62.156.0/24", NarrowIPs: map[string]int{"shadowserver": 3, SenderUnattributed: 1, SenderNoOrg: 1}}}
	got := ex.sentences()[0]
	want := "attributed to shadowserver by its network: 3 of the 4 labelled IPs of 64.62.156.0/24 are shadowserver; the evidence together gives it probability 0.40, below the threshold 0.77"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestNoOrgNetworkVerdictSaysWhy: an IP left unknown by the no-org network
// rule says whose network it is, and what the evidence had pointed to.
func TestNoOrgNetworkVerdictSaysWhy(t *testing.T) {
	ex := Explanation{Org: "unknown", Classification: ClassUnknown, NoOrgNetwork: true,
		Candidates:    []CandidateReason{{Org: "binaryedge", Probability: 0.15}},
		Neighbourhood: NeighbourhoodReason{Narrow: "167.94.138.0/24", NarrowIPs: map[string]int{SenderNoOrg: 2, SenderUnattributed: 4}}}
	got := ex.sentences()[0]
	want := "unknown: 2 of the 2 labelled IPs of 167.94.138.0/24 are scanners of no known organisation (organisations that publish all their scanners, as Censys does); the most probable organisation, binaryedge, had probability 0.15"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestWideNetworkOnlyVerdictSaysWhy: a probable organisation whose only
// evidence is the IP's /16 is said not to be named, and the attribution
// (or the unknown) is explained by the candidate that was decided on.
func TestWideNetworkOnlyVerdictSaysWhy(t *testing.T) {
	wide := CandidateReason{Org: "binaryedge", Probability: 0.55, OnlyWideNetwork: true,
		Evidence: []evidence.Contribution{{Feature: "nb16_labelled", Effect: 4.1}}}
	own := CandidateReason{Org: "stretchoid", Probability: 0.35,
		Evidence: []evidence.Contribution{{Feature: "payload_owned", Effect: 2.5}}}
	attributed := Explanation{Org: "stretchoid", Classification: ClassAttributed, Confidence: 0.35, Threshold: 0.3,
		Candidates: []CandidateReason{wide, own}}
	got := attributed.sentences()
	want := []string{
		"attributed to stretchoid with probability 0.35 (threshold 0.30); strongest evidence: payload_owned +2.5",
		"binaryedge (probability 0.55) was not named: its only evidence is its labelled IPs elsewhere in this IP's /16, which names nobody",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	unknown := Explanation{Org: "unknown", Classification: ClassUnknown, Threshold: 0.5, Candidates: []CandidateReason{wide, own}}
	got = unknown.sentences()[:1]
	want = []string{"unknown: binaryedge (probability 0.55) was not named: its only evidence is its labelled IPs elsewhere in this IP's /16, which names nobody; " +
		"the most probable organisation with evidence of the IP's own, stretchoid, has probability 0.35, below the threshold 0.50"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
