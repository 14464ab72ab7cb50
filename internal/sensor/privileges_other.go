//go:build !unix

package sensor

import "errors"

// DropPrivileges is only available on Unix systems.
func DropPrivileges(name string) error {
	return errors.New("sensor: --user is only supported on Unix systems")
}
