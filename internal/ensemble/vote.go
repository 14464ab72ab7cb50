package ensemble

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Week is the artifact's LR training window.
const Week = 7 * 24 * time.Hour

// ProbePred is one probe's prediction by its service's classifier: a class
// index 0..K where K is the unknown class.
type ProbePred struct {
	IP      string
	Service string
	Time    time.Time
	Class   int
	// Weak marks a prediction that is poor evidence of its class: the
	// probe's payload is one that many scanners outside that class send
	// too (a generic tool's default request). A group with any strong
	// prediction votes among its strong ones only, so one payload that only
	// an organisation sends outweighs several that everybody sends.
	Weak bool
}

// WindowConfig cuts time into consecutive windows [Origin + i·Length,
// Origin + (i+1)·Length). The artifact uses 7-day windows starting at the
// training period's first day boundary (16:00 UTC in its data) for the LR
// training rows and one window over the whole test period.
type WindowConfig struct {
	// Origin starts window 0; probes before it are left out. The zero time
	// accepts every probe (only sensible with Length 0).
	Origin time.Time `json:"origin"`
	// Length of a window; 0 puts every probe in window 0.
	Length time.Duration `json:"length_ns"`
	// End, when set, leaves out probes at or after it, and, with a Length,
	// every window that does not end by End: the artifact drops the
	// trailing partial segment of the training period.
	End time.Time `json:"end"`
}

// Weekly returns 7-day windows from origin whose last full week ends by
// end (zero end: no limit).
func Weekly(origin, end time.Time) WindowConfig {
	return WindowConfig{Origin: origin, Length: Week, End: end}
}

// Validate reports a configuration that cannot cut time.
func (w WindowConfig) Validate() error {
	if w.Length < 0 {
		return fmt.Errorf("ensemble: negative window length %v", w.Length)
	}
	if w.Length > 0 && w.Origin.IsZero() {
		return errors.New("ensemble: windows of fixed length need an origin")
	}
	if !w.End.IsZero() && !w.End.After(w.Origin) {
		return fmt.Errorf("ensemble: window end %v is not after origin %v", w.End, w.Origin)
	}
	return nil
}

// Window returns the window index of t, or false when t falls outside
// every kept window.
func (w WindowConfig) Window(t time.Time) (int, bool) {
	if t.Before(w.Origin) || (!w.End.IsZero() && !t.Before(w.End)) {
		return 0, false
	}
	if w.Length == 0 {
		return 0, true
	}
	i := int(t.Sub(w.Origin) / w.Length)
	if !w.End.IsZero() && w.Origin.Add(time.Duration(i+1)*w.Length).After(w.End) {
		return 0, false
	}
	return i, true
}

// IPRow is one scanner IP in one window: the vote of each service that saw
// it. A service missing from Votes did not see the IP in that window.
type IPRow struct {
	IP     string
	Window int
	Votes  map[string]int
	// Seen lists, per service whose probes were given more than one value,
	// every value, ascending (the multi-hot features of Config.MultiHot; a
	// service missing here saw only its vote).
	Seen map[string][]int `json:",omitempty"`
}

// VoteProbes groups predictions by (IP, service, window) and takes the mode
// of each group; ties go to the smallest class index, as pandas'
// Series.mode()[0] does in the artifact, so the unknown class (the largest
// index) loses every tie. A group that holds strong and weak predictions
// takes the mode of its strong ones (without weak predictions this is the
// artifact's vote). Rows come out sorted by window, then IP.
func VoteProbes(preds []ProbePred, window WindowConfig) ([]IPRow, error) {
	if err := window.Validate(); err != nil {
		return nil, err
	}
	type groupKey struct {
		ip, service string
		window      int
	}
	type voteKey struct {
		groupKey
		class int
		weak  bool
	}
	counts := map[voteKey]int{}
	hasStrong := map[groupKey]bool{}
	for i, p := range preds {
		if p.Class < 0 {
			return nil, fmt.Errorf("ensemble: probe %d (%s %s) has negative class %d", i, p.IP, p.Service, p.Class)
		}
		if p.IP == "" || p.Service == "" {
			return nil, fmt.Errorf("ensemble: probe %d lacks an IP or a service", i)
		}
		win, ok := window.Window(p.Time)
		if !ok {
			continue
		}
		g := groupKey{p.IP, p.Service, win}
		counts[voteKey{g, p.Class, p.Weak}]++
		if !p.Weak {
			hasStrong[g] = true
		}
	}
	type best struct{ class, count int }
	mode := map[groupKey]best{}
	for k, n := range counts {
		if k.weak && hasStrong[k.groupKey] {
			continue
		}
		cur, seen := mode[k.groupKey]
		if !seen || n > cur.count || (n == cur.count && k.class < cur.class) {
			mode[k.groupKey] = best{k.class, n}
		}
	}
	type rowKey struct {
		ip     string
		window int
	}
	rows := map[rowKey]*IPRow{}
	for k, b := range mode {
		rk := rowKey{k.ip, k.window}
		r := rows[rk]
		if r == nil {
			r = &IPRow{IP: k.ip, Window: k.window, Votes: map[string]int{}}
			rows[rk] = r
		}
		r.Votes[k.service] = b.class
	}
	for k := range counts {
		if k.class == mode[k.groupKey].class {
			continue
		}
		r := rows[rowKey{k.ip, k.window}]
		if r.Seen == nil {
			r.Seen = map[string][]int{}
		}
		seen := r.Seen[k.service]
		if len(seen) == 0 {
			seen = []int{mode[k.groupKey].class}
		}
		if !slices.Contains(seen, k.class) {
			r.Seen[k.service] = append(seen, k.class)
		}
	}
	for _, r := range rows {
		for _, seen := range r.Seen {
			slices.Sort(seen)
		}
	}
	out := make([]IPRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b IPRow) int {
		return cmp.Or(cmp.Compare(a.Window, b.Window), cmp.Compare(a.IP, b.IP))
	})
	return out, nil
}
