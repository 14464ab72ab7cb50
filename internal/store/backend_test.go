package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// backend is one implementation of Store under test.
type backend struct {
	name string
	// newDSN makes a new, empty store and returns what opens it; it is
	// removed when the test ends.
	newDSN func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "t.db") }},
	{"postgres", func(t *testing.T) string { return sharedtest.PostgresDSN(t) }},
}

// forEachBackend runs f once per backend, as subtests named after them.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// open opens a new, empty store of b, closed when the test ends.
func (b backend) open(t *testing.T) *SQL {
	t.Helper()
	return openDSN(t, b.newDSN(t))
}

// openDSN opens the store at dsn, closed when the test ends.
func openDSN(t *testing.T, dsn string) *SQL {
	t.Helper()
	s, err := openSQL(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openSQL is Open returning the implementation.
func openSQL(ctx context.Context, dsn string) (*SQL, error) {
	if IsPostgres(dsn) {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dsn)
}

// exec runs a statement written with ? placeholders on s.
func exec(t *testing.T, s *SQL, query string, args ...any) {
	t.Helper()
	if _, err := s.db.ExecContext(context.Background(), s.d.bind(query), args...); err != nil {
		t.Fatal(err)
	}
}

// refuseInserts makes every INSERT into table whose org is org fail with
// message, standing for any failure half-way through a write (disk full,
// constraint): a trigger, written in each backend's own syntax.
func refuseInserts(t *testing.T, s *SQL, table, org, message string) {
	t.Helper()
	if s.d.name == sqliteDialect.name {
		exec(t, s, fmt.Sprintf(`CREATE TRIGGER refuse_%[2]s BEFORE INSERT ON %[1]s
			WHEN NEW.org = '%[2]s' BEGIN SELECT RAISE(ABORT, '%[3]s'); END`, table, org, message))
		return
	}
	exec(t, s, fmt.Sprintf(`CREATE FUNCTION refuse_%[2]s() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.org = '%[2]s' THEN RAISE EXCEPTION '%[3]s'; END IF; RETURN NEW; END $$`, table, org, message))
	exec(t, s, fmt.Sprintf(`CREATE TRIGGER refuse_%[2]s BEFORE INSERT ON %[1]s FOR EACH ROW EXECUTE FUNCTION refuse_%[2]s()`, table, org))
}

// batchIngest returns an ingest of all into s in batches of size, as the
// ingest command writes: it reports the probes new to the store, the
// batches stored and the first error (after which it stops).
func batchIngest(s *SQL, all []probe.Probe, size int) func() (stored, ok int, err error) {
	return func() (stored, ok int, err error) {
		for i := 0; i+size <= len(all); i += size {
			n, err := s.InsertProbes(context.Background(), all[i:i+size])
			if err != nil {
				return stored, ok, err
			}
			stored += n
			ok++
		}
		return stored, ok, nil
	}
}
