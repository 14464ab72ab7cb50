//go:build unix

package sensor

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// DropPrivileges makes the process run as the named user and that user's
// primary group, with no supplementary groups, for good: call it after
// Bind, before the sensor reads a byte from the network. Only root can; a
// process that is not root gets an error (start it as the user, with
// CAP_NET_BIND_SERVICE for ports below 1024, instead). On Linux the change
// applies to every thread of the process.
func DropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("sensor: --user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("sensor: --user %s: uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("sensor: --user %s: gid %q", name, u.Gid)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("sensor: --user %s needs root; without root, run as that user (with CAP_NET_BIND_SERVICE for ports below 1024)", name)
	}
	if uid == 0 {
		return errors.New("sensor: --user names root; name an unprivileged user")
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("sensor: drop supplementary groups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("sensor: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("sensor: setuid %d: %w", uid, err)
	}
	// Setuid from root to another user drops every capability; a way back
	// would be a failure of the above.
	if syscall.Setuid(0) == nil {
		return errors.New("sensor: could regain root after dropping privileges")
	}
	return nil
}
