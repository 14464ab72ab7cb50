package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// LabelStore keeps ground truth: labels (prefix → org per source), the
// import log, reverse-DNS answers and the cookie tags given to scanners.
// Which labels are valid input (known org, non-empty period) is decided by
// the caller; the store keeps what it is given.
type LabelStore interface {
	// WriteLabels applies w in one transaction: either all of it lands or
	// none does. It returns, per set, how many labels were new.
	WriteLabels(ctx context.Context, w LabelWrite) (added []int, err error)
	// Labels returns the stored labels matching q, in no particular order.
	Labels(ctx context.Context, q LabelQuery) ([]LabelRecord, error)
	// LabelsCovering returns every stored label whose prefix contains
	// addr, of any validity, in no particular order.
	LabelsCovering(ctx context.Context, addr netip.Addr) ([]LabelRecord, error)
	// LabelSources returns each source name with its number of labels.
	LabelSources(ctx context.Context) (map[string]int, error)
	// PTR returns the stored reverse-DNS name of addr.
	PTR(ctx context.Context, addr netip.Addr) (name string, ok bool, err error)
	// RecordTag stores that a cookie tag was given out; the first record of
	// a tag stays, so a replayed tag cannot be moved to another scanner.
	RecordTag(ctx context.Context, t TagRecord) error
	// RecordTags stores a batch of tag records in one transaction, with
	// RecordTag's rule for each; a sensor hands out thousands a second.
	RecordTags(ctx context.Context, ts []TagRecord) error
	// TagRecipient returns the record of tag.
	TagRecipient(ctx context.Context, tag string) (t TagRecord, ok bool, err error)
}

// LabelRecord says that the addresses of Prefix belonged to Org according to
// Source during [ValidFrom, ValidUntil); a zero time leaves that side open.
// Validity is kept to the second. Two records with the same prefix, org,
// source and validity are the same label.
type LabelRecord struct {
	Prefix     netip.Prefix
	Org        string
	Source     string
	ValidFrom  time.Time
	ValidUntil time.Time
	// Note keeps what the source said besides the org (a PTR name, a list
	// name, a period), for the analyst.
	Note string
}

// LabelQuery selects labels; zero fields do not filter.
type LabelQuery struct {
	Org    string
	Source string
	// At keeps only labels valid at that time.
	At time.Time
}

// LabelWrite is one atomic change to the label tables: the labels of
// ReplaceSources are removed first, then every set is added.
type LabelWrite struct {
	ReplaceSources []string
	Sets           []LabelSet
}

// LabelSet is what one input (a file, a live answer) adds.
type LabelSet struct {
	// Origin names the input (a file path, "live") on its labels and PTRs.
	Origin string
	// Labels already stored are kept as they are, so writing the same set
	// twice adds nothing.
	Labels []LabelRecord
	// PTRs replace the stored name of their address.
	PTRs []PTRRecord
	// At is when the PTR answers were seen and the import was made.
	At time.Time
	// Import, when set, is recorded in the import log with the number of
	// labels this set added.
	Import *LabelImport
}

// PTRRecord is one reverse-DNS answer.
type PTRRecord struct {
	Addr netip.Addr
	Name string
}

// LabelImport describes one imported file for the import log.
type LabelImport struct {
	File    string
	Format  string
	Sources []string
	Lines   int
	Labels  int
	Skipped int
}

// TagRecord says that Tag was given to Scanner by Sensor at IssuedAt (kept
// to the millisecond).
type TagRecord struct {
	Tag      string
	Scanner  netip.Addr
	Sensor   string
	IssuedAt time.Time
}

// labelSchema is append-only: a released step is never edited.
var labelSchema = []string{
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

// WriteLabels applies w in one transaction.
func (s *SQL) WriteLabels(ctx context.Context, w LabelWrite) ([]int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, src := range w.ReplaceSources {
		if _, err := tx.ExecContext(ctx, s.d.bind(`DELETE FROM label_entries WHERE source = ?`), src); err != nil {
			return nil, fmt.Errorf("store: replace label source %s: %w", src, err)
		}
	}
	added := make([]int, len(w.Sets))
	for i, set := range w.Sets {
		if added[i], err = s.insertLabels(ctx, tx, set.Labels, set.Origin); err != nil {
			return nil, err
		}
		if err := s.upsertPTRs(ctx, tx, set.PTRs, set.Origin, set.At); err != nil {
			return nil, err
		}
		if imp := set.Import; imp != nil {
			if _, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO label_imports (file, format, source, lines, labels, added, skipped, imported_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), imp.File, imp.Format, strings.Join(imp.Sources, ","), imp.Lines, imp.Labels, added[i],
				imp.Skipped, set.At.UTC().Format(time.RFC3339)); err != nil {
				return nil, fmt.Errorf("store: record label import of %s: %w", imp.File, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: commit labels: %w", err)
	}
	return added, nil
}

func (s *SQL) insertLabels(ctx context.Context, tx *sql.Tx, labels []LabelRecord, origin string) (int, error) {
	if len(labels) == 0 {
		return 0, nil
	}
	stmt, err := tx.PrepareContext(ctx, s.d.bind(`INSERT INTO label_entries (prefix, org, source, valid_from, valid_until, note, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	added := 0
	for _, l := range labels {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// A label without prefix, org or source could never be found or
		// replaced again; refuse it rather than store it.
		if !l.Prefix.IsValid() || l.Org == "" || l.Source == "" {
			return 0, fmt.Errorf("store: incomplete label (prefix %v, org %q, source %q)", l.Prefix, l.Org, l.Source)
		}
		r, err := stmt.ExecContext(ctx, l.Prefix.Masked().String(), l.Org, l.Source, toUnix(l.ValidFrom), toUnix(l.ValidUntil), l.Note, origin)
		if err != nil {
			return 0, fmt.Errorf("store: label %s → %s: %w", l.Prefix, l.Org, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			added++
		}
	}
	return added, nil
}

func (s *SQL) upsertPTRs(ctx context.Context, tx *sql.Tx, recs []PTRRecord, origin string, at time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, s.d.bind(`INSERT INTO label_ptr (ip, ptr, origin, seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (ip) DO UPDATE SET ptr = excluded.ptr, origin = excluded.origin, seen_at = excluded.seen_at`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range recs {
		if _, err := stmt.ExecContext(ctx, r.Addr.Unmap().String(), r.Name, origin, at.Unix()); err != nil {
			return fmt.Errorf("store: PTR of %s: %w", r.Addr, err)
		}
	}
	return nil
}

const labelColumns = `SELECT prefix, org, source, valid_from, valid_until, note FROM label_entries`

// Labels returns the labels matching q.
func (s *SQL) Labels(ctx context.Context, q LabelQuery) ([]LabelRecord, error) {
	var conds []string
	var args []any
	if q.Org != "" {
		conds = append(conds, "org = ?")
		args = append(args, q.Org)
	}
	if q.Source != "" {
		conds = append(conds, "source = ?")
		args = append(args, q.Source)
	}
	if !q.At.IsZero() {
		conds = append(conds, "valid_from <= ? AND (valid_until = 0 OR valid_until > ?)")
		args = append(args, q.At.Unix(), q.At.Unix())
	}
	query := labelColumns
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: query labels: %w", err)
	}
	return scanLabels(rows)
}

// LabelsCovering returns the labels whose prefix contains addr.
func (s *SQL) LabelsCovering(ctx context.Context, addr netip.Addr) ([]LabelRecord, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return nil, errors.New("store: labels covering an invalid address")
	}
	// Every covering prefix has one canonical text form per length, so an
	// IN list over the address's own prefixes finds them with the index.
	args := make([]any, 0, addr.BitLen()+1)
	marks := make([]string, 0, addr.BitLen()+1)
	for bits := addr.BitLen(); bits >= 0; bits-- {
		p, _ := addr.Prefix(bits)
		args = append(args, p.String())
		marks = append(marks, "?")
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(labelColumns+` WHERE prefix IN (`+strings.Join(marks, ",")+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: labels covering %s: %w", addr, err)
	}
	return scanLabels(rows)
}

func scanLabels(rows *sql.Rows) ([]LabelRecord, error) {
	defer rows.Close()
	var out []LabelRecord
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
			return nil, fmt.Errorf("store: stored label prefix %q: %w", pfx, err)
		}
		out = append(out, LabelRecord{Prefix: p, Org: org, Source: src, ValidFrom: fromUnix(from), ValidUntil: fromUnix(until), Note: note})
	}
	return out, rows.Err()
}

// LabelSources counts labels per source.
func (s *SQL) LabelSources(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, COUNT(*) FROM label_entries GROUP BY source`)
	if err != nil {
		return nil, fmt.Errorf("store: label sources: %w", err)
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

// PTR returns the stored reverse-DNS name of addr.
func (s *SQL) PTR(ctx context.Context, addr netip.Addr) (string, bool, error) {
	var name string
	err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT ptr FROM label_ptr WHERE ip = ?`), addr.Unmap().String()).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: PTR of %s: %w", addr, err)
	}
	return name, true, nil
}

// RecordTag stores t unless its tag is stored already.
func (s *SQL) RecordTag(ctx context.Context, t TagRecord) error {
	return s.RecordTags(ctx, []TagRecord{t})
}

// RecordTags stores each record whose tag is not stored already, all in
// one transaction.
func (s *SQL) RecordTags(ctx context.Context, ts []TagRecord) error {
	if len(ts) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record tags: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.d.bind(`INSERT INTO label_tags (tag, scanner_ip, sensor, issued_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tag) DO NOTHING`))
	if err != nil {
		return fmt.Errorf("store: record tags: %w", err)
	}
	defer stmt.Close()
	for _, t := range ts {
		if _, err := stmt.ExecContext(ctx, t.Tag, t.Scanner.Unmap().String(), t.Sensor, t.IssuedAt.UnixMilli()); err != nil {
			return fmt.Errorf("store: record tag: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: record tags: %w", err)
	}
	return nil
}

// TagRecipient returns the stored record of tag.
func (s *SQL) TagRecipient(ctx context.Context, tag string) (TagRecord, bool, error) {
	t := TagRecord{Tag: tag}
	var ip string
	var ms int64
	err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT scanner_ip, sensor, issued_at FROM label_tags WHERE tag = ?`), tag).Scan(&ip, &t.Sensor, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return TagRecord{}, false, nil
	}
	if err != nil {
		return TagRecord{}, false, fmt.Errorf("store: tag recipient: %w", err)
	}
	if t.Scanner, err = netip.ParseAddr(ip); err != nil {
		return TagRecord{}, false, fmt.Errorf("store: stored tag recipient %q: %w", ip, err)
	}
	t.IssuedAt = time.UnixMilli(ms).UTC()
	return t, true, nil
}
