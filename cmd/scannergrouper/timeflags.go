package main

import (
	"time"

	"github.com/spf13/pflag"
)

// parseTimeFlag accepts RFC 3339 or a bare date (midnight UTC); empty means
// "no bound".
func parseTimeFlag(name, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, value); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want RFC 3339 (2024-02-01T16:00:00Z) or a date (2024-02-01)", name, value)
}

// deprecatedAlias registers old, an earlier name of the flag new, on the same
// variable: hidden from help, and using it prints a deprecation note on
// stderr. Periods are --from and --to (exclusive) in every command; the old
// names keep scripts working for now.
func deprecatedAlias(fl *pflag.FlagSet, old, new string, p *string) {
	fl.StringVar(p, old, "", "old name of --"+new)
	fl.MarkDeprecated(old, "use --"+new)
}
