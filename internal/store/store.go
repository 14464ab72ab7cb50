// Package store persists probes, labels and attributions behind one
// interface, Store, and owns every SQL statement of the system. SQLite (pure
// Go, modernc.org/sqlite) is the embedded default; the statements are kept
// close to what PostgreSQL also accepts so a fleet backend can follow as a
// second implementation of Store.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is what the rest of the system uses to keep and read state. It
// speaks in domain types only (no SQL, no handles), so a second backend is
// one more implementation of these interfaces and no caller changes.
type Store interface {
	ProbeStore
	LabelStore
	AttributionStore
	Close() error
}

// ProbeStore keeps the first probes of scanner sessions.
type ProbeStore interface {
	// InsertProbes stores probes, ignoring any already stored (same time,
	// addresses, ports and transport), and returns how many were new. A batch
	// is one transaction: it lands whole or not at all.
	InsertProbes(ctx context.Context, probes []probe.Probe) (inserted int, err error)
	// Probes iterates stored probes matching q in time order.
	Probes(ctx context.Context, q ProbeQuery) iter.Seq2[probe.Probe, error]
	// ServiceCounts returns probes and distinct source IPs per service.
	ServiceCounts(ctx context.Context, q ProbeQuery) ([]ServiceCount, error)
}

// ProbeQuery selects probes; zero fields do not filter.
type ProbeQuery struct {
	Service string
	From    time.Time // inclusive
	To      time.Time // exclusive
	SrcIP   netip.Addr
	Limit   int
}

// ServiceCount summarises one service.
type ServiceCount struct {
	Service string `json:"service"`
	Probes  int    `json:"probes"`
	IPs     int    `json:"ips"`
}

// SQL is the SQLite implementation of Store.
type SQL struct {
	db *sql.DB
}

// Open opens (creating if needed) the store named by dsn: for now a SQLite
// file path. Callers get the interface so that another backend, chosen by
// the form of dsn, changes nothing for them.
func Open(ctx context.Context, dsn string) (Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, errors.New("store: PostgreSQL is not supported yet; use a SQLite file path")
	}
	s, err := OpenSQLite(ctx, dsn)
	if err != nil {
		return nil, err // not a Store holding a nil *SQL
	}
	return s, nil
}

// OpenSQLite opens (creating if needed) the SQLite store at path and brings
// every component's schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	// WAL lets readers (identify, reports) run while an ingest writes;
	// busy_timeout makes concurrent CLI invocations wait instead of failing.
	conn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer; a single connection also keeps temp tables
	// and pragmas consistent.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &SQL{db: db}
	// Every component's tables are brought up to date here, once, so no
	// caller needs to know about schemas. Components keep their own version
	// sequences: a database made by an older binary, in which some
	// component never ran, gains that component's tables and keeps the rest.
	for _, c := range components {
		if err := s.migrate(ctx, c.name, c.steps); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// components lists the versioned schemas in the order Open applies them.
// The names are stored in schema_migrations and must never change.
var components = []struct {
	name  string
	steps []string
}{
	{"core", coreSchema},
	{"label", labelSchema},
	{"attribution", attributionSchema},
}

// coreSchema is append-only: a released step is never edited, a change is a
// new step.
var coreSchema = []string{
	`CREATE TABLE probes (
		id          INTEGER PRIMARY KEY,
		ts_ns       BIGINT  NOT NULL,
		src_ip      TEXT    NOT NULL,
		src_port    INTEGER NOT NULL,
		dst_ip      TEXT    NOT NULL,
		dst_port    INTEGER NOT NULL,
		transport   TEXT    NOT NULL,
		service     TEXT    NOT NULL,
		sensor      TEXT    NOT NULL DEFAULT '',
		fields      TEXT    NOT NULL DEFAULT '[]',
		payload     BLOB,
		payload_len INTEGER NOT NULL DEFAULT 0,
		parse_error TEXT    NOT NULL DEFAULT '',
		source_file TEXT    NOT NULL DEFAULT '',
		source_off  BIGINT  NOT NULL DEFAULT 0,
		UNIQUE (ts_ns, src_ip, src_port, dst_ip, dst_port, transport)
	);
	CREATE INDEX probes_service_ts ON probes (service, ts_ns);
	CREATE INDEX probes_src_ip ON probes (src_ip);`,
}

// migrate applies the steps of component whose index is not yet recorded.
func (s *SQL) migrate(ctx context.Context, component string, steps []string) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?`, component).Scan(&have); err != nil {
		return fmt.Errorf("store: schema version of %s: %w", component, err)
	}
	if have > len(steps) {
		return fmt.Errorf("store: %s schema version %d is newer than this binary knows (%d); upgrade scannergrouper", component, have, len(steps))
	}
	for v := have + 1; v <= len(steps); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, steps[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migrate %s to version %d: %w", component, v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)`,
			component, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migrate %s to version %d: %w", component, v, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *SQL) Close() error { return s.db.Close() }

// InsertProbes stores a batch in one transaction.
func (s *SQL) InsertProbes(ctx context.Context, probes []probe.Probe) (int, error) {
	if len(probes) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO probes
		(ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service, sensor, fields, payload, payload_len, parse_error, source_file, source_off)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	inserted := 0
	var fields []byte
	for i := range probes {
		p := &probes[i]
		fields = p.Fields.AppendJSON(fields[:0])
		payload := p.Payload
		if len(payload) > probe.StoredPayloadCap {
			payload = payload[:probe.StoredPayloadCap]
		}
		res, err := stmt.ExecContext(ctx, p.Time.UnixNano(), p.SrcIP.String(), p.SrcPort, p.DstIP.String(), p.DstPort,
			string(p.Transport), p.Service, p.Sensor, string(fields), payload, len(p.Payload), p.ParseError, p.SourceFile, p.Offset)
		if err != nil {
			return 0, fmt.Errorf("store: insert probe from %s: %w", p.SrcIP, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			inserted++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit probes: %w", err)
	}
	return inserted, nil
}

func (q ProbeQuery) where() (string, []any) {
	var conds []string
	var args []any
	if q.Service != "" {
		conds = append(conds, "service = ?")
		args = append(args, q.Service)
	}
	if !q.From.IsZero() {
		conds = append(conds, "ts_ns >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		conds = append(conds, "ts_ns < ?")
		args = append(args, q.To.UnixNano())
	}
	if q.SrcIP.IsValid() {
		conds = append(conds, "src_ip = ?")
		args = append(args, q.SrcIP.String())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Probes iterates matching probes ordered by time, then by id.
func (s *SQL) Probes(ctx context.Context, q ProbeQuery) iter.Seq2[probe.Probe, error] {
	return func(yield func(probe.Probe, error) bool) {
		where, args := q.where()
		query := `SELECT ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service, sensor, fields, payload, parse_error, source_file, source_off
			FROM probes` + where + ` ORDER BY ts_ns, id`
		if q.Limit > 0 {
			query += fmt.Sprintf(" LIMIT %d", q.Limit)
		}
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			yield(probe.Probe{}, fmt.Errorf("store: query probes: %w", err))
			return
		}
		defer rows.Close()
		var dec probe.FieldsDecoder
		for rows.Next() {
			p, err := scanProbe(rows, &dec)
			if !yield(p, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(probe.Probe{}, fmt.Errorf("store: read probes: %w", err))
		}
	}
}

func scanProbe(rows *sql.Rows, dec *probe.FieldsDecoder) (probe.Probe, error) {
	var (
		p            probe.Probe
		ts           int64
		src, dst, tr string
		fjs          sql.RawBytes
	)
	if err := rows.Scan(&ts, &src, &p.SrcPort, &dst, &p.DstPort, &tr, &p.Service, &p.Sensor, &fjs, &p.Payload, &p.ParseError, &p.SourceFile, &p.Offset); err != nil {
		return p, fmt.Errorf("store: scan probe: %w", err)
	}
	p.Time = time.Unix(0, ts).UTC()
	p.Transport = probe.Transport(tr)
	var err error
	if p.SrcIP, err = netip.ParseAddr(src); err != nil {
		return p, fmt.Errorf("store: bad src_ip %q: %w", src, err)
	}
	if p.DstIP, err = netip.ParseAddr(dst); err != nil {
		return p, fmt.Errorf("store: bad dst_ip %q: %w", dst, err)
	}
	if p.Fields, err = dec.Decode(fjs); err != nil {
		return p, fmt.Errorf("store: bad fields JSON: %w", err)
	}
	return p, nil
}

// ServiceCounts counts probes and distinct source IPs per service.
func (s *SQL) ServiceCounts(ctx context.Context, q ProbeQuery) ([]ServiceCount, error) {
	q.Service = ""
	where, args := q.where()
	rows, err := s.db.QueryContext(ctx, `SELECT service, COUNT(*), COUNT(DISTINCT src_ip) FROM probes`+where+` GROUP BY service ORDER BY service`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count probes: %w", err)
	}
	defer rows.Close()
	var out []ServiceCount
	for rows.Next() {
		var c ServiceCount
		if err := rows.Scan(&c.Service, &c.Probes, &c.IPs); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

var _ Store = (*SQL)(nil)
