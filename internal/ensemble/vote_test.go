package ensemble

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2024, 2, 1, 16, 0, 0, 0, time.UTC) // a 16:00 UTC day boundary, as in the artifact's data

func at(days float64) time.Time { return t0.Add(time.Duration(days * 24 * float64(time.Hour))) }

func TestVoteModeAndTies(t *testing.T) {
	preds := []ProbePred{
		// 1.1.1.1 http: 3,3,5,5,1 → tie 3/5 at two votes each → 3.
		{"1.1.1.1", "http", at(0), 5, false}, {"1.1.1.1", "http", at(1), 3, false}, {"1.1.1.1", "http", at(2), 5, false},
		{"1.1.1.1", "http", at(3), 3, false}, {"1.1.1.1", "http", at(3.5), 1, false},
		// 1.1.1.1 tls: the unknown class 25 loses a tie with 7.
		{"1.1.1.1", "tls", at(0.5), 25, false}, {"1.1.1.1", "tls", at(0.6), 7, false},
		// 2.2.2.2 dns: clear majority of unknown.
		{"2.2.2.2", "dns", at(1), 25, false}, {"2.2.2.2", "dns", at(1), 25, false}, {"2.2.2.2", "dns", at(1), 0, false},
	}
	rows, err := VoteProbes(preds, WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := []IPRow{
		{IP: "1.1.1.1", Window: 0, Votes: map[string]int{"http": 3, "tls": 7}, Seen: map[string][]int{"http": {1, 3, 5}, "tls": {7, 25}}},
		{IP: "2.2.2.2", Window: 0, Votes: map[string]int{"dns": 25}, Seen: map[string][]int{"dns": {0, 25}}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %+v, want %+v", rows, want)
	}
}

func TestVoteWindows(t *testing.T) {
	// Training period of 16.5 days from t0: two full weeks, the partial
	// third one is dropped, as the artifact drops the trailing segment.
	w := Weekly(t0, at(16.5))
	preds := []ProbePred{
		{"9.9.9.9", "http", at(-0.001), 4, false}, // before the origin: left out
		{"9.9.9.9", "http", at(0), 1, false},      // first instant of window 0
		{"9.9.9.9", "http", at(6.999), 1, false},
		{"9.9.9.9", "http", at(7), 2, false}, // first instant of window 1
		{"9.9.9.9", "tls", at(13.9), 3, false},
		{"9.9.9.9", "http", at(14), 2, false},   // trailing partial week: dropped
		{"9.9.9.9", "http", at(16.6), 2, false}, // after the end
		{"8.8.8.8", "http", at(8), 6, false},
	}
	rows, err := VoteProbes(preds, w)
	if err != nil {
		t.Fatal(err)
	}
	want := []IPRow{
		{IP: "9.9.9.9", Window: 0, Votes: map[string]int{"http": 1}},
		{IP: "8.8.8.8", Window: 1, Votes: map[string]int{"http": 6}},
		{IP: "9.9.9.9", Window: 1, Votes: map[string]int{"http": 2, "tls": 3}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %+v\nwant %+v", rows, want)
	}
	// One window over the whole test period.
	whole := WindowConfig{Origin: t0, End: at(16.5)}
	rows, err = VoteProbes(preds, whole)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].IP != "8.8.8.8" || rows[1].IP != "9.9.9.9" || rows[1].Window != 0 {
		t.Fatalf("whole-period rows = %+v", rows)
	}
	// 9.9.9.9 http in [t0, end): 1,1,2,2 → tie → the smaller class.
	if got := rows[1].Votes["http"]; got != 1 {
		t.Errorf("whole-period http vote = %d, want 1 (1,1,2,2 tie → smaller)", got)
	}
}

func TestWindowEdgeCases(t *testing.T) {
	for _, w := range []WindowConfig{
		{Length: -time.Hour, Origin: t0},
		{Length: Week},
		{Origin: t0, End: t0},
	} {
		if err := w.Validate(); err == nil {
			t.Errorf("%+v accepted", w)
		}
		if _, err := VoteProbes(nil, w); err == nil {
			t.Errorf("VoteProbes accepted %+v", w)
		}
	}
	if _, err := VoteProbes([]ProbePred{{"1.1.1.1", "http", t0, -1, false}}, WindowConfig{}); err == nil {
		t.Error("negative class accepted")
	}
	if _, err := VoteProbes([]ProbePred{{"", "http", t0, 1, false}}, WindowConfig{}); err == nil {
		t.Error("probe without IP accepted")
	}
	// Hourly windows: the index is the number of whole lengths since Origin.
	w := WindowConfig{Origin: t0, Length: time.Hour}
	if i, ok := w.Window(t0.Add(150 * time.Minute)); !ok || i != 2 {
		t.Errorf("Window = %d %v, want 2", i, ok)
	}
}

func TestVoteStrongOutweighsWeak(t *testing.T) {
	weak := func(ip, svc string, class int) ProbePred {
		return ProbePred{IP: ip, Service: svc, Time: t0, Class: class, Weak: true}
	}
	strong := func(ip, svc string, class int) ProbePred {
		return ProbePred{IP: ip, Service: svc, Time: t0, Class: class}
	}
	preds := []ProbePred{
		// Three weak votes for 30 and one strong for 4: the strong one wins.
		weak("1.1.1.1", "http", 30), weak("1.1.1.1", "http", 30), weak("1.1.1.1", "http", 30), strong("1.1.1.1", "http", 4),
		// Only weak votes: their mode (25 twice over 30 once).
		weak("2.2.2.2", "http", 30), weak("2.2.2.2", "http", 25), weak("2.2.2.2", "http", 25),
		// Strong votes tie among themselves (6, 2) despite a weak majority for 30: the smaller class.
		strong("3.3.3.3", "tls", 6), strong("3.3.3.3", "tls", 2), weak("3.3.3.3", "tls", 30), weak("3.3.3.3", "tls", 30),
		// A weak vote in another service does not touch this one's strong vote.
		strong("3.3.3.3", "dns", 9), weak("3.3.3.3", "http", 31),
	}
	rows, err := VoteProbes(preds, WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := []IPRow{
		// Seen keeps weak values too: the multi-hot features show both.
		{IP: "1.1.1.1", Votes: map[string]int{"http": 4}, Seen: map[string][]int{"http": {4, 30}}},
		{IP: "2.2.2.2", Votes: map[string]int{"http": 25}, Seen: map[string][]int{"http": {25, 30}}},
		{IP: "3.3.3.3", Votes: map[string]int{"tls": 2, "dns": 9, "http": 31}, Seen: map[string][]int{"tls": {2, 6, 30}}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %+v\nwant %+v", rows, want)
	}
}
