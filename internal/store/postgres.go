package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresDialect: numbered placeholders, PostgreSQL's column types, an
// advisory lock around migrations, COPY for probes.
var postgresDialect = dialect{
	name:           "PostgreSQL",
	bind:           numberedPlaceholders,
	text:           pgText,
	ddl:            pgDDL,
	lockMigrations: pgLockMigrations,
	insertProbes:   pgInsertProbes,
	compact: func(ctx context.Context, db *sql.DB) error {
		// Plain VACUUM makes the space reusable without locking writers
		// out; VACUUM FULL would give it back to the system but blocks
		// every sensor's ingest while it rewrites the table.
		_, err := db.ExecContext(ctx, `VACUUM (ANALYZE) probes, payloads`)
		return err
	},
	full: func(err error, _ string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == pgDiskFull
	},
}

// pgConnectTimeout bounds how long a wrong host or a server that is gone
// keeps a command waiting, unless the DSN says otherwise (connect_timeout).
const pgConnectTimeout = 10 * time.Second

// OpenPostgres opens the PostgreSQL database named by dsn (a postgres:// or
// postgresql:// URL, as libpq reads it) and brings every component's schema
// up to date. The database must exist; the tables are created in it.
func OpenPostgres(ctx context.Context, dsn string) (*SQL, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: bad PostgreSQL DSN: %w", err)
	}
	if !strings.Contains(dsn, "connect_timeout") {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	// Readers (identify) and writers (several ingests) run at once; a few
	// connections are enough for one process.
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: cannot open PostgreSQL database %s: %w", redactDSN(dsn), err)
	}
	s, err := setUp(ctx, db, postgresDialect)
	if err == nil {
		s.where = "PostgreSQL database " + redactDSN(dsn)
	}
	return s, err
}

// pgMaxConns bounds the connections of one process.
const pgMaxConns = 4

// Redacted is dsn fit for messages: a PostgreSQL URL without its password,
// a file path as it is.
func Redacted(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	return redactDSN(dsn)
}

// redactDSN hides the password of dsn for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// pgMigrationLock is the advisory lock key that serialises migrations.
const pgMigrationLock = 0x5347_4d49_4752 // "SGMIGR"

func pgLockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock))
	return err
}

// pgStaging is the per-connection table COPY fills; its rows go with each
// commit.
var pgStaging = `CREATE TEMP TABLE IF NOT EXISTS probes_in (
	ts_ns BIGINT, src_ip TEXT, src_port INTEGER, dst_ip TEXT, dst_port INTEGER, transport TEXT, service TEXT, sensor TEXT,
	payload_id BIGINT, fields TEXT, payload BYTEA, payload_diff BYTEA, payload_len INTEGER, source_file TEXT, source_off BIGINT
) ON COMMIT DELETE ROWS`

var pgMerge = `INSERT INTO probes (` + strings.Join(probeColumns, ", ") + `) SELECT ` + strings.Join(probeColumns, ", ") +
	` FROM probes_in ON CONFLICT DO NOTHING`

// pgInsertProbes COPYs the batch into the connection's staging table and
// moves it into probes in one INSERT that skips the probes already stored,
// all in one transaction: the unique key decides, so concurrent writers of
// the same probe store it once.
func pgInsertProbes(ctx context.Context, s *SQL, b *PreparedProbes) (int, error) {
	probes, rows := b.probes, b.rows
	// A pooled connection whose server went away while it was idle fails
	// at BEGIN, before anything was sent: it is dropped and the batch tried
	// on the next, up to a fresh one. Two writers storing the same probes in
	// different orders can deadlock; the server aborts one, whose whole
	// transaction is undone, and it tries again.
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// The failed try resolved payload ids in a transaction that
			// was undone: start from the cache again.
			rows = s.cache.splitProbes(probes, nil)
		}
		n, err := pgCopyProbes(ctx, s, rows)
		var pgErr *pgconn.PgError
		if (errors.Is(err, driver.ErrBadConn) || errors.As(err, &pgErr) && pgErr.Code == pgDeadlock) && attempt < pgMaxConns {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store: insert %d probes from %s on: %w", len(probes), probes[0].SrcIP, err)
		}
		return n, nil
	}
}

func pgCopyProbes(ctx context.Context, s *SQL, rows []probeRow) (int, error) {
	var added []*payloadEntry
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var inserted int64
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			if c.IsClosed() {
				return driver.ErrBadConn // nothing was done: database/sql drops it
			}
			return err
		}
		defer tx.Rollback(ctx)
		// Payload rows are deleted only by a prune, which takes the table
		// in EXCLUSIVE mode: from here to the commit, the ids this batch
		// refers to stay.
		if _, err := tx.Exec(ctx, `LOCK TABLE payloads IN ROW SHARE MODE`); err != nil {
			return err
		}
		if added, err = s.cache.resolvePayloads(ctx, pgxTx{tx}, rows); err != nil {
			return err
		}
		// New probes, the common case, go straight into the table: half
		// the server's work. When one is already stored the COPY fails
		// whole on the unique key, and the batch takes the staging table.
		if _, err := tx.Exec(ctx, `SAVEPOINT direct`); err != nil {
			return err
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"probes"}, probeColumns, newProbeRows(rows))
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			inserted = n
		case errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation:
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT direct`); err != nil {
				return err
			}
			if inserted, err = pgMergeProbes(ctx, tx, rows); err != nil {
				return err
			}
		default:
			return err
		}
		return tx.Commit(ctx)
	})
	if err == nil {
		s.cache.remember(added)
	}
	return int(inserted), err
}

// pgxTx is a payloadTx over a pgx transaction.
type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) text(s string) string { return pgText(s) }

func (t pgxTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, numberedPlaceholders(query), args...)
	return err
}

func (t pgxTx) query(ctx context.Context, query string, args []any, scan func(func(...any) error) error) error {
	rows, err := t.tx.Query(ctx, numberedPlaceholders(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, scan)
}

// PostgreSQL's SQLSTATEs for a duplicate key and a deadlock.
const (
	pgUniqueViolation = "23505"
	pgDiskFull        = "53100"
	pgDeadlock        = "40P01"
)

// pgMergeProbes COPYs probes into the connection's staging table and moves
// the ones not yet stored into probes.
func pgMergeProbes(ctx context.Context, tx pgx.Tx, probes []probeRow) (int64, error) {
	if _, err := tx.Exec(ctx, pgStaging); err != nil {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"probes_in"}, probeColumns, newProbeRows(probes)); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, pgMerge)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func newProbeRows(probes []probeRow) *probeRows {
	return &probeRows{probes: probes, i: -1, enc: probeEncoder{reuse: true, text: pgText}}
}

// probeRows feeds a batch to COPY (pgx.CopyFromSource), one reused row.
type probeRows struct {
	probes []probeRow
	i      int
	enc    probeEncoder
	row    []any
}

func (r *probeRows) Next() bool { r.i++; return r.i < len(r.probes) }
func (r *probeRows) Err() error { return nil }

func (r *probeRows) Values() ([]any, error) {
	r.row = r.enc.appendRow(r.row[:0], &r.probes[r.i])
	return r.row, nil
}

// pgText makes s storable in a PostgreSQL text column, which refuses NUL
// bytes and invalid UTF-8 that SQLite keeps: those become U+FFFD.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
