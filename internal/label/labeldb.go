package label

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"
)

// Label says that the addresses of Prefix belonged to Org according to
// Source during [ValidFrom, ValidUntil). A zero ValidFrom or ValidUntil
// leaves that side open.
type Label struct {
	Prefix     netip.Prefix
	Org        string
	Source     string
	ValidFrom  time.Time
	ValidUntil time.Time
	// Note keeps what the source said besides the org (a PTR name, a list
	// name, a period), for the analyst.
	Note string
}

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

// Migrator is what LabelDB needs from the store: its versioned schema steps
// and the database handle (store.SQL satisfies it).
type Migrator interface {
	Migrate(ctx context.Context, component string, steps []string) error
	DB() *sql.DB
}

// LabelDB keeps labels, PTR records and issued cookie tags in the store.
type LabelDB struct {
	db  *sql.DB
	reg *Registry
}

// schema is append-only: a released step is never edited.
var schema = []string{
	`CREATE TABLE label_entries (
		id          INTEGER PRIMARY KEY,
		prefix      TEXT    NOT NULL,
		org         TEXT    NOT NULL,
		source      TEXT    NOT NULL,
		valid_from  BIGINT  NOT NULL DEFAULT 0,
		valid_until BIGINT  NOT NULL DEFAULT 0,
		note        TEXT    NOT NULL DEFAULT '',
		origin      TEXT    NOT NULL DEFAULT '',
		UNIQUE (prefix, org, source, valid_from, valid_until)
	);
	CREATE INDEX label_entries_org ON label_entries (org);
	CREATE INDEX label_entries_source ON label_entries (source);
	CREATE TABLE label_imports (
		id          INTEGER PRIMARY KEY,
		file        TEXT    NOT NULL,
		format      TEXT    NOT NULL,
		source      TEXT    NOT NULL,
		lines       INTEGER NOT NULL,
		labels      INTEGER NOT NULL,
		added       INTEGER NOT NULL,
		skipped     INTEGER NOT NULL,
		imported_at TEXT    NOT NULL
	);
	CREATE TABLE label_ptr (
		ip          TEXT    PRIMARY KEY,
		ptr         TEXT    NOT NULL,
		origin      TEXT    NOT NULL DEFAULT '',
		seen_at     BIGINT  NOT NULL DEFAULT 0
	);
	CREATE TABLE label_tags (
		tag         TEXT    PRIMARY KEY,
		scanner_ip  TEXT    NOT NULL,
		sensor      TEXT    NOT NULL,
		issued_at   BIGINT  NOT NULL
	);
	CREATE INDEX label_tags_ip ON label_tags (scanner_ip);`,
}

// Open prepares the label tables in the store. reg names the orgs (nil for
// DefaultRegistry).
func Open(ctx context.Context, st Migrator, reg *Registry) (*LabelDB, error) {
	if err := st.Migrate(ctx, "label", schema); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = DefaultRegistry()
	}
	return &LabelDB{db: st.DB(), reg: reg}, nil
}

// Registry returns the registry the database was opened with.
func (s *LabelDB) Registry() *Registry { return s.reg }

// Validity bounds are stored as Unix seconds with 0 meaning "open", which
// keeps the UNIQUE key free of NULLs (NULLs never compare equal).
func toUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	res.Added, err = addLabelsTx(ctx, tx, labels, replaceSources, origin)
	if err != nil {
		return AddResult{Labels: len(labels)}, err
	}
	if err := tx.Commit(); err != nil {
		return AddResult{Labels: len(labels)}, fmt.Errorf("labels: commit: %w", err)
	}
	return res, nil
}

func addLabelsTx(ctx context.Context, tx *sql.Tx, labels []Label, replaceSources []string, origin string) (int, error) {
	for _, src := range replaceSources {
		if _, err := tx.ExecContext(ctx, `DELETE FROM label_entries WHERE source = ?`, src); err != nil {
			return 0, fmt.Errorf("labels: replace source %s: %w", src, err)
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO label_entries (prefix, org, source, valid_from, valid_until, note, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	added := 0
	for i, l := range labels {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		p := unmapPrefix(l.Prefix)
		if !p.IsValid() || l.Org == "" || l.Source == "" {
			return 0, fmt.Errorf("labels: label %d is incomplete (prefix %v, org %q, source %q)", i, l.Prefix, l.Org, l.Source)
		}
		if !l.ValidFrom.IsZero() && !l.ValidUntil.IsZero() && !l.ValidFrom.Before(l.ValidUntil) {
			return 0, fmt.Errorf("labels: label %d (%s → %s) has an empty validity period %s", i, p, l.Org, l.Validity())
		}
		r, err := stmt.ExecContext(ctx, p.String(), l.Org, l.Source, toUnix(l.ValidFrom), toUnix(l.ValidUntil), l.Note, origin)
		if err != nil {
			return 0, fmt.Errorf("labels: store %s → %s: %w", l.Prefix, l.Org, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			added++
		}
	}
	return added, nil
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
	query := `SELECT prefix, org, source, valid_from, valid_until, note FROM label_entries`
	var conds []string
	var args []any
	if q.Org != "" {
		conds = append(conds, "org = ?")
		args = append(args, s.reg.Canonical(q.Org))
	}
	if q.Source != "" {
		conds = append(conds, "source = ?")
		args = append(args, q.Source)
	}
	if !q.At.IsZero() {
		conds = append(conds, "valid_from <= ? AND (valid_until = 0 OR valid_until > ?)")
		args = append(args, q.At.Unix(), q.At.Unix())
	}
	for i, c := range conds {
		if i == 0 {
			query += " WHERE " + c
		} else {
			query += " AND " + c
		}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("labels: query: %w", err)
	}
	out, err := scanLabels(rows)
	if err != nil {
		return nil, err
	}
	sortLabels(out)
	return out, nil
}

func scanLabels(rows *sql.Rows) ([]Label, error) {
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var (
			pfx, org, src, note string
			from, until         int64
		)
		if err := rows.Scan(&pfx, &org, &src, &from, &until, &note); err != nil {
			return nil, err
		}
		p, err := netip.ParsePrefix(pfx)
		if err != nil {
			return nil, fmt.Errorf("labels: stored prefix %q: %w", pfx, err)
		}
		out = append(out, Label{Prefix: p, Org: org, Source: src, ValidFrom: fromUnix(from), ValidUntil: fromUnix(until), Note: note})
	}
	return out, rows.Err()
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
		return toUnix(a.ValidFrom) < toUnix(b.ValidFrom)
	})
}

// Sources returns the distinct source names with their label counts.
func (s *LabelDB) Sources(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, COUNT(*) FROM label_entries GROUP BY source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			return nil, err
		}
		out[src] = n
	}
	return out, rows.Err()
}

// Covering returns every stored label whose prefix contains addr (any
// validity), most specific first: what `labels lookup` shows.
func (s *LabelDB) Covering(ctx context.Context, addr netip.Addr) ([]Label, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return nil, fmt.Errorf("labels: invalid address")
	}
	// Every covering prefix has one canonical text form per length, so an
	// IN list over the address's own prefixes finds them with the index.
	args := make([]any, 0, addr.BitLen()+1)
	marks := make([]byte, 0, 2*(addr.BitLen()+1))
	for bits := addr.BitLen(); bits >= 0; bits-- {
		p, _ := addr.Prefix(bits)
		args = append(args, p.String())
		if len(marks) > 0 {
			marks = append(marks, ',')
		}
		marks = append(marks, '?')
	}
	rows, err := s.db.QueryContext(ctx, `SELECT prefix, org, source, valid_from, valid_until, note FROM label_entries WHERE prefix IN (`+string(marks)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("labels: lookup %s: %w", addr, err)
	}
	out, err := scanLabels(rows)
	if err != nil {
		return nil, err
	}
	sortLabels(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Prefix.Bits() > out[j].Prefix.Bits() })
	return out, nil
}

// unixMax stands for an open end in interval arithmetic.
const unixMax = math.MaxInt64
