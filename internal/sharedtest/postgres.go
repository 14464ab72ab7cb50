package sharedtest

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgresEnv names the variable holding the postgres:// URL of a database
// tests may create schemas in; .ci/run starts a throwaway server and sets
// it.
const PostgresEnv = "SCANNERGROUPER_TEST_POSTGRES"

// PostgresBase returns the test server's URL, or skips the test saying why.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" && os.Getenv("CI") == "true" {
		// CI must run them: .ci/run starts the server and sets the variable.
		t.Fatalf("%s is not set under CI: .ci/run should have started a PostgreSQL server", PostgresEnv)
	}
	if base == "" {
		t.Skipf("%s is not set: no PostgreSQL server to test against (.ci/run starts a throwaway one; "+
			"or set it to the postgres:// URL of a database these tests may create schemas in)", PostgresEnv)
	}
	return base
}

var schemaSeq atomic.Int64

// PostgresDSN creates a schema of the test's own in the test server's
// database and returns a URL whose search_path is that schema: the test
// starts from an empty store, and the schema is dropped when it ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresBase(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", PostgresEnv, err)
	}
	schema := fmt.Sprintf("sgtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("test server at %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
