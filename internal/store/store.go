// Package store persists probes, labels and attributions behind one
// interface, Store, and owns every SQL statement of the system. Two backends
// implement it with the same statements and the same migrations: SQLite
// (pure Go, modernc.org/sqlite), the embedded default, and PostgreSQL (pgx
// v5), where a fleet of sensors writes into one place. What differs between
// them is listed in one place, the dialect (dialect.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
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
	FleetStore
	AbuseStore
	HistoryStore
	Close() error
}

// ProbeStore keeps the first probes of scanner sessions.
type ProbeStore interface {
	// InsertProbes stores probes, ignoring any already stored (same time,
	// addresses, ports and transport), and returns how many were new. A batch
	// is one transaction: it lands whole or not at all.
	InsertProbes(ctx context.Context, probes []probe.Probe) (inserted int, err error)
	// Probes iterates stored probes matching q in time order. Probes of
	// one tool may share their Fields slice and Payload bytes (stored once,
	// decoded once per query): callers treat both as read only, and copy
	// before changing them.
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
	// SrcIPs selects the probes of any of these addresses (with SrcIP:
	// of SrcIP and these); a lookup of many IPs reads them in one query.
	SrcIPs []netip.Addr
	Sensor string // only probes stored with this sensor name
	Limit  int
	// NoPayload leaves each probe's Payload nil (not read): the fields
	// are what the models and explanations need.
	NoPayload bool
	// Brief reads only what the models read: time, addresses, ports,
	// service, fields and parse error. Payload is nil and Transport,
	// Sensor, SourceFile and Offset are left empty: each column less is
	// work less per probe, on the slowest path of a large window.
	Brief bool
	// Keep, per service, names the only fields wanted of its probes (in
	// their order; a service not in it keeps all). The store cuts each
	// payload row's fields once, not each probe's, and does not decode a
	// probe's per-connection values unless one of them is kept.
	Keep map[string]map[string]bool
}

// ServiceCount summarises one service.
type ServiceCount struct {
	Service string `json:"service"`
	Probes  int    `json:"probes"`
	IPs     int    `json:"ips"`
}

// SQL is the implementation of Store over database/sql, for both backends;
// d says which one.
type SQL struct {
	db *sql.DB
	d  dialect
	// where names the database in messages: the SQLite file, or the
	// PostgreSQL database (without its password).
	where string
	// cache maps the payload contents this handle stored or met to their
	// rows.
	cache payloadCache
}

// ErrFull is wrapped by a write that failed because the database's disk is
// full (or, for SQLite, the file reached its max_page_count). The
// transaction was undone: what was stored before it is whole, the batch
// that failed is absent.
var ErrFull = errors.New("store full")

// Open opens (creating the schema if needed) the store named by dsn: a
// postgres:// or postgresql:// URL opens PostgreSQL, anything else is a
// SQLite file path. Callers get the interface, so the backend changes
// nothing for them.
func Open(ctx context.Context, dsn string) (Store, error) {
	var (
		s   *SQL
		err error
	)
	if IsPostgres(dsn) {
		s, err = OpenPostgres(ctx, dsn)
	} else {
		s, err = OpenSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err // not a Store holding a nil *SQL
	}
	return s, nil
}

// OpenReader opens a store that another handle (Open) keeps up to date,
// for concurrent readers: SQLite's WAL lets conns connections read while
// the writer's handle writes. The schema is not migrated here. Reads go
// through a memory map of up to 1 GiB of the file (the OS's page cache,
// shared by the connections): a lookup's scattered pages cost no read
// system call each.
func OpenReader(ctx context.Context, dsn string, conns int) (Store, error) {
	if IsPostgres(dsn) {
		return Open(ctx, dsn)
	}
	conn := "file:" + dsn + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=mmap_size(1073741824)"
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dsn, err)
	}
	db.SetMaxOpenConns(max(conns, 1))
	db.SetMaxIdleConns(max(conns, 1))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dsn, err)
	}
	return &SQL{db: db, d: sqliteDialect}, nil
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// setUp brings every component's schema up to date on a freshly opened
// database, and closes it on failure.
func setUp(ctx context.Context, db *sql.DB, d dialect) (*SQL, error) {
	s := &SQL{db: db, d: d}
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
	if err := s.migrateFieldNames(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrateFieldNames brings the stored probes of every registered service up
// to its current field names (probe.Encoding.Renames): each renaming is one
// step of the component "fields:<service>", applied once, so a store filled
// by an older binary reads as if its probes had been parsed today.
func (s *SQL) migrateFieldNames(ctx context.Context) error {
	for _, name := range probe.ServiceNames() {
		renames := probe.EncodingOf(name).Renames
		if len(renames) == 0 {
			continue
		}
		steps := make([]string, len(renames))
		for i, r := range renames {
			step, err := renameStep(name, r)
			if err != nil {
				return err
			}
			steps[i] = step
		}
		if err := s.migrate(ctx, "fields:"+name, steps); err != nil {
			return err
		}
	}
	return nil
}

// renameStep is the SQL that renames fields of one service in the stored
// fields JSON of its payload rows (a probe's own per-probe fields are
// named by position, so they need no renaming). A renamed row keeps its
// key, the hash of its old content: a probe stored later with the new
// names gets a payload row of its own, the same content twice, which
// costs one row and reads the same. The JSON is always written by probe.Fields.AppendJSON, where
// a field starts with {"name":"<name>", and a quote inside a value is
// escaped, so that text can only be a field's start. Every old name first
// becomes a placeholder that no JSON can contain ({"name":#0,), then each
// placeholder becomes its new name: the renaming applies as a whole, so two
// names can swap.
func renameStep(service string, renames map[string]string) (string, error) {
	olds := make([]string, 0, len(renames))
	for old := range renames {
		olds = append(olds, old)
	}
	slices.Sort(olds) // the same SQL every time
	expr := "fields"
	for i, old := range olds {
		if !plainName(old) || !plainName(renames[old]) {
			return "", fmt.Errorf("store: field rename %q → %q of %s: names must be plain printable ASCII", old, renames[old], service)
		}
		expr = fmt.Sprintf(`replace(%s, '{"name":"%s",', '{"name":#%d,')`, expr, old, i)
	}
	for i, old := range olds {
		expr = fmt.Sprintf(`replace(%s, '{"name":#%d,', '{"name":"%s",')`, expr, i, renames[old])
	}
	if !plainName(service) {
		return "", fmt.Errorf("store: service name %q is not plain printable ASCII", service)
	}
	return fmt.Sprintf(`UPDATE payloads SET fields = %s WHERE service = '%s'`, expr, service), nil
}

// plainName reports whether a name needs no escaping, in JSON nor in an SQL
// string literal.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '\'' {
			return false
		}
	}
	return s != ""
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
	{"fleet", fleetSchema},
	{"abuse", abuseSchema},
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
	// Version 2: payloads stored once (payloads.go). The probe rows move to
	// a table keyed by their idempotency key (in SQLite the table is that
	// key's B-tree, WITHOUT ROWID: no separate unique index), which also
	// serves every time range; moveProbesToPayloads fills both from the
	// old table in this step's transaction.
	// A payload row's id is never reused (AUTOINCREMENT): a writer that
	// still caches the id of a pruned row must not find another content
	// under it.
	`CREATE TABLE payloads (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		hash        BLOB    NOT NULL UNIQUE,
		service     TEXT    NOT NULL,
		fields      TEXT    NOT NULL DEFAULT '[]',
		parse_error TEXT    NOT NULL DEFAULT '',
		payload     BLOB,
		payload_len INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE probes_v2 (
		ts_ns       BIGINT  NOT NULL,
		src_ip      TEXT    NOT NULL,
		src_port    INTEGER NOT NULL,
		dst_ip      TEXT    NOT NULL,
		dst_port    INTEGER NOT NULL,
		transport   TEXT    NOT NULL,
		service     TEXT    NOT NULL,
		sensor      TEXT    NOT NULL DEFAULT '',
		payload_id  BIGINT  NOT NULL,
		fields      TEXT,
		payload     BLOB,
		payload_diff BLOB,
		payload_len INTEGER NOT NULL DEFAULT 0,
		source_file TEXT    NOT NULL DEFAULT '',
		source_off  BIGINT  NOT NULL DEFAULT 0,
		PRIMARY KEY (ts_ns, src_ip, src_port, dst_ip, dst_port, transport)
	) WITHOUT ROWID;`,
	// Version 3: the moved table takes the old one's place.
	`DROP TABLE probes;
	ALTER TABLE probes_v2 RENAME TO probes;
	CREATE INDEX probes_src_ip ON probes (src_ip);`,
	// Version 4: SQLite's address index leads with the probe's hour (Go
	// code only: indexAddressesByHour).
	"",
}

// migrationCode is Go code that runs after a step's SQL, in its
// transaction: per component, per version.
var migrationCode = map[string]map[int]func(ctx context.Context, s *SQL, tx *sql.Tx) error{
	"core": {2: moveProbesToPayloads, 4: indexAddressesByHour},
}

// hourNs is the width of the buckets that lead SQLite's address index.
const hourNs = int64(time.Hour)

// indexAddressesByHour replaces SQLite's index on src_ip by one on (hour
// of ts_ns, src_ip). Ingest writes probes in about time order, so the new
// entries of a batch land in the current hour's few pages of the index,
// where an index on src_ip alone takes them at random places of a B-tree
// that outgrows the page cache: every batch then rewrote tens of
// thousands of its pages, and ingest slowed down as the store grew.
//
// A lookup of one address uses the index by skip-scan, one seek per hour
// held (a month: 720), which SQLite's planner does only when its
// statistics say an hour holds many rows. The statistics are written here
// by hand, as SQLite documents (sqlite_stat1 "N R 2": R rows an hour), so
// that no ANALYZE of the whole table is needed, and reloaded.
//
// PostgreSQL keeps its index on src_ip: its B-tree has no skip-scan
// before version 18, and its server's buffers take the random inserts.
func indexAddressesByHour(ctx context.Context, s *SQL, tx *sql.Tx) error {
	if !s.d.indexesAddressesByHour {
		return nil
	}
	for _, q := range []string{
		`DROP INDEX IF EXISTS probes_src_ip`,
		fmt.Sprintf(`CREATE INDEX probes_hour_src_ip ON probes ((ts_ns / %d), src_ip)`, hourNs),
		`ANALYZE schema_migrations`, // a small table; creates sqlite_stat1
		`DELETE FROM sqlite_stat1 WHERE idx = 'probes_hour_src_ip'`,
		`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('probes', 'probes_hour_src_ip', '100000000 100000 2')`,
		`ANALYZE sqlite_schema`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index addresses by hour: %w", err)
		}
	}
	return nil
}

// migrate applies the steps of component whose index is not yet recorded,
// one transaction a step. Each transaction first takes the dialect's
// migration lock and then reads the recorded version, so processes opening
// the same database at once apply every step exactly once.
func (s *SQL) migrate(ctx context.Context, component string, steps []string) error {
	for {
		done, err := s.migrateStep(ctx, component, steps)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next step of component, if any, and reports
// whether component is up to date.
func (s *SQL) migrateStep(ctx context.Context, component string, steps []string) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migrate %s: %w", component, err)
	}
	defer tx.Rollback()
	if err := s.d.lockMigrations(ctx, tx); err != nil {
		return false, fmt.Errorf("store: migrate %s: %w", component, err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return false, fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, s.d.bind(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?`), component).Scan(&have); err != nil {
		return false, fmt.Errorf("store: schema version of %s: %w", component, err)
	}
	if have > len(steps) {
		return false, fmt.Errorf("store: the %s schema of this %s store is version %d, newer than this binary knows (%d); upgrade scannergrouper",
			component, s.d.name, have, len(steps))
	}
	if have == len(steps) {
		return true, tx.Commit()
	}
	v := have + 1
	if steps[v-1] != "" { // "": a step of Go code only
		if _, err := tx.ExecContext(ctx, s.d.ddl(steps[v-1])); err != nil {
			return false, fmt.Errorf("store: migrate %s to version %d: %w", component, v, err)
		}
	}
	if code := migrationCode[component][v]; code != nil {
		if err := code(ctx, s, tx); err != nil {
			return false, fmt.Errorf("store: migrate %s to version %d: %w", component, v, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)`),
		component, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migrate %s to version %d: %w", component, v, err)
	}
	return v == len(steps), nil
}

// Close closes the database.
func (s *SQL) Close() error { return s.db.Close() }

// InsertProbes stores a batch in one transaction, in the dialect's fastest
// way; the unique key (time, addresses, ports, transport) makes a probe
// stored twice, by one writer or by two at once, land once.
func (s *SQL) InsertProbes(ctx context.Context, probes []probe.Probe) (int, error) {
	return s.InsertPrepared(ctx, s.PrepareProbes(probes))
}

// PreparedProbes is a batch of probes made into rows ahead of its
// transaction.
type PreparedProbes struct {
	probes []probe.Probe
	rows   []probeRow
}

// PrepareProbes does the part of storing probes that needs no database:
// it finds the payload rows the writer's cache knows and encodes what
// each probe stores of its own. Ingest prepares the next batch while the
// writer stores this one (InsertPrepared): on two cores that takes a
// sixth of the work off the writer, which sets ingest's pace. The probes
// must not change until the batch is stored.
func (s *SQL) PrepareProbes(probes []probe.Probe) *PreparedProbes {
	return &PreparedProbes{probes: probes, rows: s.cache.splitProbes(probes, nil)}
}

// InsertPrepared stores a prepared batch as InsertProbes does. Payload
// rows stored since the batch was prepared are found in the transaction.
func (s *SQL) InsertPrepared(ctx context.Context, b *PreparedProbes) (int, error) {
	probes := b.probes
	if len(probes) == 0 {
		return 0, nil
	}
	n, err := s.d.insertProbes(ctx, s, b)
	if err != nil && s.d.full(err, s.where) {
		return 0, fmt.Errorf("%w: no space left for %s: a batch of %d probes (from %s on) was not stored; "+
			"everything stored before it is kept. Free space and run the same ingest again: "+
			"probes already stored are skipped (%v)", ErrFull, s.where, len(probes), probes[0].Time.Format(time.RFC3339), unwrapAll(err))
	}
	return n, err
}

// unwrapAll returns the innermost error's message: the database's own
// words, without the context the batch insert added.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// probeColumns are the columns a probe is written to, in the order of
// probeEncoder.appendRow.
var probeColumns = []string{"ts_ns", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "service", "sensor",
	"payload_id", "fields", "payload", "payload_diff", "payload_len", "source_file", "source_off"}

// probeEncoder turns probe rows into column values.
type probeEncoder struct {
	// reuse: the row's values are consumed before the next row is made
	// (COPY), so the text of the addresses can live in buffers reused from
	// row to row, handed over as bytes; otherwise each row gets strings of
	// its own.
	reuse         bool
	src, dst      []byte
	text          func(string) string // what a text value is stored as
	sensor, sfile string
}

// appendRow appends the values of r's columns to row: NULL fields when the
// probe has no per-probe field, a NULL payload when it is its payload
// row's or a diff against it.
func (e *probeEncoder) appendRow(row []any, r *probeRow) []any {
	p := r.p
	text := e.text
	if text == nil {
		text = sameText
	}
	// The sensor and file name repeat from probe to probe: converted once.
	if p.Sensor != e.sensor {
		e.sensor = text(p.Sensor)
	}
	if p.SourceFile != e.sfile {
		e.sfile = text(p.SourceFile)
	}
	var src, dst, fields, payload, diff any
	if e.reuse {
		e.src, e.dst = p.SrcIP.AppendTo(e.src[:0]), p.DstIP.AppendTo(e.dst[:0])
		src, dst = e.src, e.dst
		if r.fields != nil {
			fields = r.fields
		}
	} else {
		src, dst = p.SrcIP.String(), p.DstIP.String()
		if r.fields != nil {
			fields = string(r.fields)
		}
	}
	if r.payload != nil {
		payload = r.payload
	}
	if r.diff != nil {
		diff = r.diff
	}
	return append(row, p.Time.UnixNano(), src, int64(p.SrcPort), dst, int64(p.DstPort),
		string(p.Transport), p.Service, e.sensor, r.payloadID, fields, payload, diff, r.length, e.sfile, p.Offset)
}

// probeSource is the FROM clause, time expression and WHERE clause that
// select q's probes. A probe's time is its sensor's clock plus the offset
// set for that sensor (SetClockOffset), applied here, as probes are read:
// when no offset is set the stored time is used as it is and the time index
// serves the range; otherwise the range is first widened by the offsets
// (still on the index), then applied to the corrected times.
type probeSource struct {
	from, ts, where string
	args            []any
}

// With join, the offsets come from a join with the sensors table, the
// fastest way; without, from a subquery per probe.
func (s *SQL) probeSource(ctx context.Context, q ProbeQuery, join bool) (probeSource, error) {
	src := probeSource{from: "probes", ts: "ts_ns"}
	if q.SrcIP.IsValid() || len(q.SrcIPs) > 0 {
		// One address has few probes: its index, then a small sort. Left
		// to itself SQLite walks (service, ts_ns) for the ORDER BY, every
		// probe of the service (2 s a lookup at SD-25 size).
		src.from += s.d.byAddress
	}
	lo, hi, set, err := s.clockOffsets(ctx)
	if err != nil {
		return src, err
	}
	switch {
	case set && join:
		src.from += " LEFT JOIN sensors ON sensors.name = probes.sensor"
		src.ts = "(ts_ns + COALESCE(sensors.clock_offset_ns, 0))"
	case set:
		src.ts = "(ts_ns + COALESCE((SELECT clock_offset_ns FROM sensors WHERE sensors.name = probes.sensor), 0))"
	}
	var conds []string
	cond := func(c string, args ...any) {
		conds = append(conds, c)
		src.args = append(src.args, args...)
	}
	if q.Service != "" {
		cond("service = ?", q.Service)
	}
	if q.Sensor != "" {
		cond("sensor = ?", q.Sensor)
	}
	if !q.From.IsZero() {
		cond("ts_ns >= ?", q.From.UnixNano()-hi)
		if set {
			cond(src.ts+" >= ?", q.From.UnixNano())
		}
	}
	if !q.To.IsZero() {
		cond("ts_ns < ?", q.To.UnixNano()-lo)
		if set {
			cond(src.ts+" < ?", q.To.UnixNano())
		}
	}
	if addrs := q.addresses(); len(addrs) == 1 {
		cond("src_ip = ?", addrs[0])
	} else if len(addrs) > 1 {
		cond("src_ip IN (?"+strings.Repeat(", ?", len(addrs)-1)+")", addrs...)
	}
	if len(conds) > 0 {
		src.where = " WHERE " + strings.Join(conds, " AND ")
	}
	return src, nil
}

// addresses are the source addresses q selects, as stored (none: any).
func (q ProbeQuery) addresses() []any {
	var out []any
	seen := map[netip.Addr]bool{}
	for _, a := range append([]netip.Addr{q.SrcIP}, q.SrcIPs...) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a.String())
		}
	}
	return out
}

// probeOrder orders probes by (corrected) time, then by the rest of their
// key: the order of the table itself.
const probeOrder = ` ORDER BY 1, src_ip, src_port, dst_ip, dst_port, transport`

// Probes iterates matching probes ordered by (corrected) time, then by the
// rest of their key. First it reads the payload rows the selection refers
// to, decoding each one's fields once; then the probes, each sharing its
// payload row's fields (or a copy with its per-probe fields filled in) and
// payload: callers treat a probe's Fields and Payload as read only.
func (s *SQL) Probes(ctx context.Context, q ProbeQuery) iter.Seq2[probe.Probe, error] {
	return func(yield func(probe.Probe, error) bool) {
		src, err := s.probeSource(ctx, q, true)
		if err != nil {
			yield(probe.Probe{}, err)
			return
		}
		limit := ""
		if q.Limit > 0 {
			limit = fmt.Sprintf(" LIMIT %d", q.Limit)
		}
		// One snapshot for both queries: a probe stored meanwhile, with a
		// payload row stored meanwhile, is not half seen.
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
		if err != nil {
			yield(probe.Probe{}, fmt.Errorf("store: query probes: %w", err))
			return
		}
		defer tx.Rollback()
		payloads, err := s.readPayloads(ctx, tx, q, src, limit)
		if err != nil {
			yield(probe.Probe{}, err)
			return
		}
		payload := "payload, payload_diff"
		if q.NoPayload {
			payload = "NULL, NULL"
		}
		columns := src.ts + `, src_ip, src_port, dst_ip, dst_port, transport, service, sensor, payload_id, fields, ` + payload +
			`, payload_len, source_file, source_off`
		if q.Brief {
			columns = src.ts + `, ` + briefKey + `, fields`
		}
		query := `SELECT ` + columns + ` FROM ` + src.from + src.where + probeOrder + limit
		rows, err := tx.QueryContext(ctx, s.d.bind(query), src.args...)
		if err != nil {
			yield(probe.Probe{}, fmt.Errorf("store: query probes: %w", err))
			return
		}
		defer rows.Close()
		if q.Brief {
			readBrief(ctx, rows, payloads, yield)
			return
		}
		for rows.Next() {
			p, err := scanProbe(ctx, rows, payloads)
			if !yield(p, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(probe.Probe{}, fmt.Errorf("store: read probes: %w", err))
		}
	}
}

// storedPayload is a payload row as Probes reads it.
type storedPayload struct {
	fields     probe.Fields
	parseError string
	payload    []byte
	// With ProbeQuery.Keep for its service: the names kept, the fields
	// cut to them, and whether a per-connection field is among them (then
	// each probe's fields are filled in, then cut).
	keep         map[string]bool
	kept         probe.Fields
	perProbeKept bool
}

// payloadsReadWhole bounds the payload rows Probes reads without asking
// which ones the selection refers to.
var payloadsReadWhole int64 = 1 << 14 // a variable for tests

// readPayloads reads the payload rows q's probes refer to, each one's
// fields decoded once (without payloads when q.NoPayload). A store's
// payload rows are few: when there are at most payloadsReadWhole, a
// selection of every probe of a period reads them all (those of q's
// service). Otherwise SQLite reads each row when a probe first refers to
// it (one lookup by id, on the same connection as the probes' query),
// and PostgreSQL, whose connection runs one query at a time, reads those
// the selection refers to first, in a second pass over the probes.
func (s *SQL) readPayloads(ctx context.Context, tx *sql.Tx, q ProbeQuery, src probeSource, limit string) (*payloadSource, error) {
	payload := "payload"
	if q.NoPayload || q.Brief {
		payload = "NULL"
	}
	query := `SELECT id, service, fields, parse_error, ` + payload + ` FROM payloads`
	var args []any
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM payloads`).Scan(&last); err != nil {
		return nil, fmt.Errorf("store: count payloads: %w", err)
	}
	out := &payloadSource{rows: map[int64]*storedPayload{}, keep: q.Keep}
	switch {
	case last <= payloadsReadWhole && limit == "" && len(q.addresses()) == 0:
		if q.Service != "" {
			query += ` WHERE service = ?`
			args = append(args, q.Service)
		}
	case s.d.interleavesQueries:
		stmt, err := tx.PrepareContext(ctx, query+` WHERE id = ?`)
		if err != nil {
			return nil, fmt.Errorf("store: query payloads: %w", err)
		}
		out.byID = stmt
		return out, nil
	default:
		ids := `SELECT payload_id FROM ` + src.from + src.where
		if limit != "" {
			ids += strings.Replace(probeOrder, "1", src.ts, 1) + limit
		}
		query += ` WHERE id IN (` + ids + `)`
		args = src.args
	}
	rows, err := tx.QueryContext(ctx, s.d.bind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: query payloads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := out.scan(rows); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read payloads: %w", err)
	}
	return out, nil
}

// payloadSource gives Probes the payload rows its probes refer to: read
// before the probes, or, when byID is set, each on first use.
type payloadSource struct {
	rows map[int64]*storedPayload
	byID *sql.Stmt                  // the payloads query for one id; closed with its transaction
	keep map[string]map[string]bool // ProbeQuery.Keep
	dec  probe.FieldsDecoder        // the payload rows' fields and the probes' own
}

// scan decodes one row of the payloads query (id, service, fields, parse
// error, payload) into ps.rows.
func (ps *payloadSource) scan(rows *sql.Rows) error {
	var (
		id      int64
		service string
		fjs     sql.RawBytes
		p       storedPayload
	)
	if err := rows.Scan(&id, &service, &fjs, &p.parseError, &p.payload); err != nil {
		return fmt.Errorf("store: scan payload: %w", err)
	}
	var err error
	if p.fields, err = ps.dec.Decode(fjs); err != nil {
		return fmt.Errorf("store: bad fields JSON of payload %d: %w", id, err)
	}
	p.keep = ps.keep[service]
	if p.keep != nil {
		p.kept = p.fields.Keep(p.keep)
		for _, name := range probe.EncodingOf(service).PerProbe {
			p.perProbeKept = p.perProbeKept || p.keep[name]
		}
		if !p.perProbeKept {
			// only the kept fields are read: a month's random DNS names
			// make hundreds of thousands of payload rows, all held
			// until the query ends
			p.fields = nil
		}
	}
	ps.rows[id] = &p
	return nil
}

// get returns payload row id, or nil when it is not stored.
func (ps *payloadSource) get(ctx context.Context, id int64) (*storedPayload, error) {
	if p := ps.rows[id]; p != nil || ps.byID == nil {
		return p, nil
	}
	rows, err := ps.byID.QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: read payload %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := ps.scan(rows); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read payload %d: %w", id, err)
	}
	return ps.rows[id], nil
}

func scanProbe(ctx context.Context, rows *sql.Rows, payloads *payloadSource) (probe.Probe, error) {
	var (
		p             probe.Probe
		ts, pid, plen int64
		src, dst, tr  string
		own, diff     sql.RawBytes
	)
	if err := rows.Scan(&ts, &src, &p.SrcPort, &dst, &p.DstPort, &tr, &p.Service, &p.Sensor, &pid, &own, &p.Payload, &diff, &plen, &p.SourceFile, &p.Offset); err != nil {
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
	return p, payloads.complete(ctx, &p, pid, own, diff, plen)
}

// complete gives p what its payload row holds: fields (joined with the
// probe's own, own), parse error and payload (the probe's own, or the
// row's patched by diff, or nothing when plen is 0).
func (payloads *payloadSource) complete(ctx context.Context, p *probe.Probe, pid int64, own, diff []byte, plen int64) error {
	shared, err := payloads.get(ctx, pid)
	if err != nil {
		return err
	}
	if shared == nil {
		return fmt.Errorf("store: probe of %s at %s refers to payload %d, which is not stored", p.SrcIP, p.Time.Format(time.RFC3339Nano), pid)
	}
	p.ParseError = shared.parseError
	switch {
	case plen == 0:
		p.Payload = nil
	case p.Payload != nil:
	case diff != nil && shared.payload != nil:
		if p.Payload, err = applyDiff(shared.payload, diff); err != nil {
			return fmt.Errorf("store: probe of %s at %s: %w", p.SrcIP, p.Time.Format(time.RFC3339Nano), err)
		}
	default:
		p.Payload = shared.payload
	}
	if shared.keep != nil && !shared.perProbeKept {
		p.Fields = shared.kept
		return nil
	}
	if p.Fields, err = joinFields(shared.fields, own, &payloads.dec); err != nil {
		return fmt.Errorf("store: bad fields JSON: %w", err)
	}
	if shared.keep != nil {
		p.Fields = p.Fields.Keep(shared.keep)
	}
	return nil
}

// ServiceCounts counts probes and distinct source IPs per service.
func (s *SQL) ServiceCounts(ctx context.Context, q ProbeQuery) ([]ServiceCount, error) {
	q.Service = ""
	src, err := s.probeSource(ctx, q, true)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT service, COUNT(*), COUNT(DISTINCT src_ip) FROM `+src.from+src.where+` GROUP BY service ORDER BY service`), src.args...)
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
