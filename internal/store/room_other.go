//go:build !unix

package store

// noRoom cannot tell on this system why a write failed: only SQLITE_FULL
// counts as a full disk.
func noRoom(string) bool { return false }
