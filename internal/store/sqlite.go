package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDialect: the statements as written, one connection, multi-row
// inserts.
var sqliteDialect = dialect{
	name:                   "SQLite",
	bind:                   sameText,
	text:                   sameText,
	ddl:                    sameText,
	lockMigrations:         func(context.Context, *sql.Tx) error { return nil }, // one writer at a time already
	insertProbes:           sqliteInsertProbes,
	byAddress:              " INDEXED BY probes_hour_src_ip",
	indexesAddressesByHour: true,
	interleavesQueries:     true,
	compact: func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, `VACUUM`)
		return err
	},
	full: sqliteFull,
}

// SQLite's result codes for a full disk: SQLITE_FULL (the disk said
// ENOSPC, or the database reached its max_page_count) and
// SQLITE_IOERR_WRITE (any other failed write, such as EFBIG past the file
// size limit).
const (
	sqliteFullCode   = 13
	sqliteIOErrWrite = 10 | 3<<8
)

// pingSQLite opens db's connection, which sets its pragmas. Processes
// that create a store at the same moment can get SQLITE_BUSY from them at
// once, busy_timeout notwithstanding (seen within 30 ms with the timeout at
// 10 s, about one time in thirty in TestConcurrentOpensMigrateOnce): the
// switch of a new file to WAL. So the connection is tried again, for as
// long as busy_timeout would have waited.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	const wait, tries = 10 * time.Millisecond, 1000
	for i := 0; ; i++ {
		err := db.PingContext(ctx)
		var e *sqlite.Error
		if err == nil || i == tries-1 || !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func sqliteFull(err error, path string) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code()&0xff == sqliteFullCode || e.Code() == sqliteIOErrWrite && noRoom(path)
}

// OpenSQLite opens (creating if needed) the SQLite store at path and brings
// every component's schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	// WAL lets readers (identify, reports) run while an ingest writes;
	// busy_timeout makes concurrent CLI invocations wait instead of failing,
	// and immediate transactions take the write lock when they begin, so
	// two writers (or two first opens migrating) queue instead of failing
	// when a read lock cannot be upgraded. A 64 MiB page cache holds a
	// batch's index pages; temporary structures stay in memory.
	conn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)&_txlock=immediate"
	db, err := sql.Open("sqlite", conn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer; a single connection also keeps temp tables
	// and pragmas consistent.
	db.SetMaxOpenConns(1)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s, err := setUp(ctx, db, sqliteDialect)
	if err == nil {
		s.where = path
	}
	return s, err
}

// sqliteRowsPerInsert is how many probes one INSERT statement carries:
// SQLite's cost is mostly per statement step, so 64 rows a statement (896
// parameters, well under SQLite's limit of 32766) cut it by as much.
const sqliteRowsPerInsert = 64

// insertProbesSQL is the INSERT of n probes; verb is the statement up to
// the table's name included ("INSERT OR IGNORE INTO probes").
func insertProbesSQL(verb string, n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(probeColumns)), ", ") + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	return verb + ` (` + strings.Join(probeColumns, ", ") + `) VALUES ` + rows
}

// sqliteIgnore stores what is new: OR IGNORE (SQLite's own) rather than ON
// CONFLICT DO NOTHING, since a statement that cannot abort half-way needs
// no statement journal, which would copy every page it changes.
const sqliteIgnore = "INSERT OR IGNORE INTO probes"

// sqliteInsertProbes stores probes in one transaction, their new payload
// contents first, then the probes, 64 rows a statement.
func sqliteInsertProbes(ctx context.Context, s *SQL, b *PreparedProbes) (int, error) {
	rows := b.rows
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	added, err := s.cache.resolvePayloads(ctx, sqlTx{tx, s.d}, rows)
	if err != nil {
		return 0, err
	}
	inserted, err := insertRows(ctx, tx, s.d, sqliteIgnore, rows)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit probes: %w", err)
	}
	s.cache.remember(added)
	return inserted, nil
}

// insertRows stores rows with multi-row statements of verb in tx and
// returns how many were new.
func insertRows(ctx context.Context, tx *sql.Tx, d dialect, verb string, rows []probeRow) (int, error) {
	full, err := tx.PrepareContext(ctx, d.bind(insertProbesSQL(verb, sqliteRowsPerInsert)))
	if err != nil {
		return 0, err
	}
	defer full.Close()
	var one *sql.Stmt
	enc := probeEncoder{text: d.text}
	args := make([]any, 0, sqliteRowsPerInsert*len(probeColumns))
	inserted := 0
	for len(rows) > 0 {
		stmt := full
		n := sqliteRowsPerInsert
		if len(rows) < n {
			if one == nil {
				if one, err = tx.PrepareContext(ctx, d.bind(insertProbesSQL(verb, 1))); err != nil {
					return 0, err
				}
				defer one.Close()
			}
			stmt, n = one, 1
		}
		args = args[:0]
		for i := range rows[:n] {
			args = enc.appendRow(args, &rows[i])
		}
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("store: insert probes from %s on: %w", rows[0].p.SrcIP, err)
		}
		k, _ := res.RowsAffected()
		inserted += int(k)
		rows = rows[n:]
	}
	return inserted, nil
}
