package main

import (
	"time"
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
