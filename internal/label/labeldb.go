package label

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Label says that the addresses of Prefix belonged to Org according to
// Source during [ValidFrom, ValidUntil); a zero time leaves that side
// open. It is the stored record with the label package's behaviour, so
// the two convert directly.
type Label store.LabelRecord

// Covers reports whether the label's validity period contains t.
func (l Label) Covers(t time.Time) bool {
	if !l.ValidFrom.IsZero() && t.Before(l.ValidFrom) {
		return false
	}
	if !l.ValidUntil.IsZero() && !t.Before(l.ValidUntil) {
		return false
	}
	return true
}

// Validity renders the period as "from..until" with "-" for an open side.
func (l Label) Validity() string {
	f, u := "-", "-"
	if !l.ValidFrom.IsZero() {
		f = l.ValidFrom.UTC().Format(time.DateOnly)
	}
	if !l.ValidUntil.IsZero() {
		u = l.ValidUntil.UTC().Format(time.DateOnly)
	}
	return f + ".." + u
}

// LabelDB is the label view of the store: it checks and normalises labels
// (canonical org names, unmapped prefixes, non-empty validity) and orders
// what it reads, and leaves keeping them to a store.LabelStore.
type LabelDB struct {
	st  store.LabelStore
	reg *Registry
}

// Open wraps the store's label tables. reg names the orgs (nil for
// DefaultRegistry). The store creates its tables when it is opened; ctx is
// kept so callers need not change should opening ever need to query.
func Open(ctx context.Context, st store.LabelStore, reg *Registry) (*LabelDB, error) {
	if st == nil {
		return nil, errors.New("labels: no store")
	}
	if reg == nil {
		reg = DefaultRegistry()
	}
	return &LabelDB{st: st, reg: reg}, nil
}

// Registry returns the registry the database was opened with.
func (s *LabelDB) Registry() *Registry { return s.reg }

// AddResult counts what one transaction stored.
type AddResult struct {
	Labels int // labels given
	Added  int // new rows (the rest were stored already)
}

// AddLabels stores labels in one transaction; labels already stored (same
// prefix, org, source and validity) are kept as they are, so adding the
// same labels twice changes nothing. With replaceSources, every stored
// label of those sources is removed first, in the same transaction.
func (s *LabelDB) AddLabels(ctx context.Context, labels []Label, replaceSources []string, origin string) (AddResult, error) {
	res := AddResult{Labels: len(labels)}
	recs, err := records(labels)
	if err != nil {
		return res, err
	}
	added, err := s.st.WriteLabels(ctx, store.LabelWrite{ReplaceSources: replaceSources,
		Sets: []store.LabelSet{{Origin: origin, Labels: recs}}})
	if err != nil {
		return res, err
	}
	res.Added = added[0]
	return res, nil
}

// records checks labels and turns them into store records, with IPv4
// prefixes written in IPv6 notation unmapped so lookups of either form
// find them.
func records(labels []Label) ([]store.LabelRecord, error) {
	out := make([]store.LabelRecord, len(labels))
	for i, l := range labels {
		p := unmapPrefix(l.Prefix)
		if !p.IsValid() || l.Org == "" || l.Source == "" {
			return nil, fmt.Errorf("labels: label %d is incomplete (prefix %v, org %q, source %q)", i, l.Prefix, l.Org, l.Source)
		}
		if !l.ValidFrom.IsZero() && !l.ValidUntil.IsZero() && !l.ValidFrom.Before(l.ValidUntil) {
			return nil, fmt.Errorf("labels: label %d (%s → %s) has an empty validity period %s", i, p, l.Org, l.Validity())
		}
		l.Prefix = p
		out[i] = store.LabelRecord(l)
	}
	return out, nil
}

func fromRecords(recs []store.LabelRecord) []Label {
	out := make([]Label, len(recs))
	for i, r := range recs {
		out[i] = Label(r)
	}
	return out
}

// Query selects labels; zero fields do not filter.
type Query struct {
	Org    string
	Source string
	// At keeps only labels valid at that time.
	At time.Time
}

// Labels returns the stored labels matching q, ordered by org, source and
// address.
func (s *LabelDB) Labels(ctx context.Context, q Query) ([]Label, error) {
	sq := store.LabelQuery{Source: q.Source, At: q.At}
	if q.Org != "" {
		sq.Org = s.reg.Canonical(q.Org)
	}
	recs, err := s.st.Labels(ctx, sq)
	if err != nil {
		return nil, err
	}
	out := fromRecords(recs)
	sortLabels(out)
	return out, nil
}

func sortLabels(ls []Label) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Org != b.Org {
			return a.Org < b.Org
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c < 0
		}
		if a.Prefix.Bits() != b.Prefix.Bits() {
			return a.Prefix.Bits() < b.Prefix.Bits()
		}
		return a.ValidFrom.Before(b.ValidFrom)
	})
}

// Sources returns the distinct source names with their label counts.
func (s *LabelDB) Sources(ctx context.Context) (map[string]int, error) {
	return s.st.LabelSources(ctx)
}

// Covering returns every stored label whose prefix contains addr (any
// validity), most specific first: what `labels lookup` shows.
func (s *LabelDB) Covering(ctx context.Context, addr netip.Addr) ([]Label, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return nil, fmt.Errorf("labels: invalid address")
	}
	recs, err := s.st.LabelsCovering(ctx, addr)
	if err != nil {
		return nil, err
	}
	out := fromRecords(recs)
	sortLabels(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Prefix.Bits() > out[j].Prefix.Bits() })
	return out, nil
}
