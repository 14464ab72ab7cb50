//go:build unix

package store

import (
	"os"
	"path/filepath"
	"syscall"
)

// lowRoom is the free space under which a failed write is taken for a full
// disk: a batch of probes needs a few MB, with its WAL pages twice.
const lowRoom = 64 << 20

// noRoom reports whether a write to the file at path may have failed for
// lack of room: its file system has less than lowRoom free for this user,
// or the file (or its -wal) has reached the process's file size limit
// (ulimit -f; RLIM_INFINITY is all ones).
func noRoom(path string) bool {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &fs); err == nil && uint64(fs.Bavail)*uint64(fs.Bsize) < lowRoom {
		return true
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil || lim.Cur >= 1<<62 {
		return false
	}
	for _, p := range []string{path, path + "-wal", path + "-journal"} {
		if st, err := os.Stat(p); err == nil && uint64(st.Size())+lowRoom/16 > uint64(lim.Cur) {
			return true
		}
	}
	return false
}
