package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeUsage: serve refuses what it cannot run with exit code 2 and a
// message naming the flag, before opening anything.
func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-token")
	os.WriteFile(empty, []byte("\n"), 0o600)
	db := filepath.Join(dir, "sg.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--watch"},
		{[]string{"serve", "--watch", dir, "--replay", dir}, "exactly one"},
		{[]string{"serve", "--watch", dir, "--update-every", "2d"}, "--update-every"},
		{[]string{"serve", "--watch", dir, "--update-every", "11d"}, "--update-every"},
		{[]string{"serve", "--watch", dir, "--list-ttl", "soon"}, "--list-ttl"},
		{[]string{"serve", "--watch", dir, "--token-file", empty}, "empty"},
		{[]string{"serve", "--watch", dir, "--protect-reads"}, "token"},
		{[]string{"serve", "--replay", dir, "--speed", "0"}, "--speed"},
	} {
		code, _, stderr := runCLIAll(t, append([]string{"--db", db}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused serve created the store")
	}
}
