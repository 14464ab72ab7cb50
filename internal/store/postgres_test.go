package store

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// A DSN that cannot work fails at Open with a message naming PostgreSQL
// and the database, never the password, and without a long wait.
func TestOpenPostgresWrongDSN(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on: take one, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name, dsn, want string
	}{
		{"bad URL", "postgres://sg:secret@127.0.0.1:notaport/sg", "bad PostgreSQL DSN"},
		{"nothing listening", "postgres://sg:secret@" + closed + "/sg?connect_timeout=2", "cannot open PostgreSQL database postgres://sg:xxxxx@" + closed},
	}
	if base := os.Getenv(sharedtest.PostgresEnv); base != "" {
		cases = append(cases, struct{ name, dsn, want string }{"no such database", replaceDBName(t, base, "no_such_db_sg"), "cannot open PostgreSQL database"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(ctx, c.dsn)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q: want it to contain %q and no password", err, c.want)
			}
			t.Logf("%v", err)
			if time.Since(start) > 8*time.Second {
				t.Errorf("took %s to fail", time.Since(start))
			}
		})
	}
}

func replaceDBName(t *testing.T, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// proxy stands between the store and the test server; cutting it is the
// server going away for the store (every connection drops, new ones are
// refused) without disturbing other tests that use the server.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
	}
}

// cut drops every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// A server that goes away in the middle of an ingest fails the ingest with
// an error; every batch is whole or absent; once the server is back,
// ingesting the same input again stores exactly what was missing.
func TestPostgresServerGoneMidIngest(t *testing.T) {
	dsn := sharedtest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	s := openDSN(t, u.String())
	ctx := context.Background()

	const batches, size = 40, 1000
	all := manyProbes(0, batches*size, "hp-a")
	ingest := batchIngest(s, all, size)
	// The server goes away once a few batches are in.
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			if err := s.db.QueryRow(`SELECT COUNT(*) FROM probes`).Scan(&n); err == nil && n >= 3*size {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		px.cut()
	}()
	stored, ok, err := ingest()
	<-done
	if err == nil {
		t.Fatalf("all %d batches stored although the server went away", ok)
	}
	t.Logf("server gone after %d batches: %v", ok, err)
	// While it is away, opening fails too, clearly.
	if s2, err := Open(ctx, u.String()); err == nil {
		s2.Close()
		t.Fatal("opened a store whose server is away")
	} else if !strings.Contains(err.Error(), "cannot open PostgreSQL database") {
		t.Errorf("open while away: %v", err)
	}
	px.restore()
	direct := openDSN(t, dsn)
	rows, distinct := countProbes(t, direct)
	// The batch in flight is whole or absent: its commit may have landed
	// before the answer was lost.
	if rows != distinct || (rows != ok*size && rows != (ok+1)*size) {
		t.Fatalf("after the cut: %d rows (%d distinct), %d batches acknowledged", rows, distinct, ok)
	}
	// Resume: the same input again, on the same store handle.
	again, _, err := ingest()
	if err != nil {
		t.Fatalf("ingest after the server came back: %v", err)
	}
	rows, distinct = countProbes(t, direct)
	if rows != len(all) || distinct != rows || stored+again > len(all) || again != len(all)-ok*size && again != len(all)-(ok+1)*size {
		t.Fatalf("after resuming: %d rows (%d distinct) of %d; %d stored before, %d after", rows, distinct, len(all), stored, again)
	}
}
