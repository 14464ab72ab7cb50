package main

import (
	"slices"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	// The registry is filled by this import; the valid --service names
	// come from it, never from a list written here.
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
)

// serviceNames are the registered services (internal/service/all).
func serviceNames() []string {
	var names []string
	for _, s := range probe.Services() {
		names = append(names, s.Name())
	}
	return names
}

// checkName returns a usage error naming the valid values unless value is
// one of them: a misspelt service or org must not run and find nothing.
func checkName(flag, value string, valid []string) error {
	if slices.Contains(valid, value) {
		return nil
	}
	return usagef("--%s %q: unknown; want one of %s", flag, value, strings.Join(valid, ", "))
}
