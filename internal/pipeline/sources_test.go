package pipeline

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
)

// TestIncrementalEvidenceIsTheFullRebuild trains the tiny world's weeks
// but the last, saves and reloads the state as an update does, and adds
// the last week without reading the history (Continue): the payload
// senders, label memory and payload images must be exactly what
// RelearnEvidence rebuilds from every week's probes, also after a layout
// grew. Training in one run (TrainWeeks, which recounts from the sources
// whenever a layout grows) must give the same.
func TestIncrementalEvidenceIsTheFullRebuild(t *testing.T) {
	w := tinyWeeks(t, 3, 50)
	opts, data, fullyDisclosed, classes, weeks := w.opts, w.data, w.fullyDisclosed, w.classes, w.weeks
	ctx := context.Background()
	lastWeek := weeks[len(weeks)-1]
	inc := NewIncremental(classes, opts, weeks[0])
	if _, _, err := inc.TrainWeeks(ctx, data, weeks[:len(weeks)-1], 30, false); err != nil {
		t.Fatal(err)
	}
	inc.LabelsFingerprint = "labels"
	dir := t.TempDir()
	if _, err := inc.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadIncremental(dir, fullyDisclosed)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.ContinuesWith("labels") || loaded.ContinuesWith("other labels") {
		t.Fatal("a reloaded state does not continue with its own labels only")
	}
	if got, want := evidence.Save(loaded.state.mem, loaded.state.pay), evidence.Save(inc.state.mem, inc.state.pay); !reflect.DeepEqual(got, want) {
		t.Fatal("the reloaded evidence differs from the saved one")
	}
	generations := map[string]int{}
	for svc, sm := range loaded.Res.Models {
		generations[svc] = sm.Layout.Generation
	}
	week := data.Slice(lastWeek, lastWeek.Add(loaded.Period()))
	noHistory := func() (*Data, error) { return nil, errors.New("the history was read") }
	if err := loaded.Continue(ctx, week, lastWeek, 30, noHistory); err != nil {
		t.Fatal(err)
	}
	grew := false
	for svc, sm := range loaded.Res.Models {
		grew = grew || sm.Layout.Generation != generations[svc]
	}
	if !grew {
		t.Log("no layout grew in the last week: only the added senders are checked")
	}
	incremental := evidence.Save(loaded.state.mem, loaded.state.pay)
	history := data.Slice(weeks[0], lastWeek.Add(loaded.Period()))
	if err := loaded.RelearnEvidence(history); err != nil {
		t.Fatal(err)
	}
	full := evidence.Save(loaded.state.mem, loaded.state.pay)
	if !reflect.DeepEqual(incremental, full) {
		diffSaved(t, incremental, full)
	}

	// In one run: TrainWeeks recounts from the sources at every layout
	// growth; the result must be the rebuild's too.
	one := NewIncremental(classes, opts, weeks[0])
	if _, _, err := one.TrainWeeks(ctx, data, weeks, 30, false); err != nil {
		t.Fatal(err)
	}
	inOne := evidence.Save(one.state.mem, one.state.pay)
	if err := one.RelearnEvidence(history); err != nil {
		t.Fatal(err)
	}
	if full := evidence.Save(one.state.mem, one.state.pay); !reflect.DeepEqual(inOne, full) {
		diffSaved(t, inOne, full)
	}
}

// weeksWorld is a tiny world of some weeks, loaded, with its classes and
// week starts.
type weeksWorld struct {
	opts           Options
	data           *Data
	fullyDisclosed func(string) bool
	classes        *Classes
	weeks          []time.Time
	last           time.Time
}

// tinyWeeks simulates and loads the tiny world over n weeks, with
// iterations for the full-mode parts of training.
func tinyWeeks(t *testing.T, n, iterations int) weeksWorld {
	t.Helper()
	w := weeksWorld{opts: Default(1)}
	w.opts.Iterations = iterations
	w.data, w.fullyDisclosed = loadWorld(t, tinyWorldWeeks(t, n), &w.opts)
	w.classes = NewClasses(w.data, w.fullyDisclosed)
	var first time.Time
	first, w.last = w.data.Span()
	if w.weeks = Weeks(first, w.last); len(w.weeks) < n {
		t.Fatalf("tiny world spans %d weeks; the test needs %d", len(w.weeks), n)
	}
	return w
}

// diffSaved fails the test naming the first differences of two evidence
// exports.
func diffSaved(t *testing.T, got, want *evidence.Saved) {
	t.Helper()
	n := 0
	for ip, c := range want.Addresses {
		if g, ok := got.Addresses[ip]; (!ok || g != c) && n < 5 {
			t.Errorf("address %s: class %d (%v), the rebuild says %d", ip, g, ok, c)
			n++
		}
	}
	if len(got.Addresses) != len(want.Addresses) {
		t.Errorf("%d addresses, the rebuild has %d", len(got.Addresses), len(want.Addresses))
	}
	for svc, m := range want.Payloads {
		for d, senders := range m {
			if g := got.Payloads[svc][d]; !reflect.DeepEqual(g, senders) && n < 10 {
				t.Errorf("%s payload %.12s: senders %v, the rebuild says %v", svc, d, g, senders)
				n++
			}
		}
		if len(got.Payloads[svc]) != len(m) {
			t.Errorf("%s: %d payloads, the rebuild has %d", svc, len(got.Payloads[svc]), len(m))
		}
	}
	if !reflect.DeepEqual(got.Images, want.Images) {
		t.Error("the payload images differ from the rebuild's")
	}
	t.FailNow()
}
