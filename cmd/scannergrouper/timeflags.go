package main

import (
	"fmt"
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

// requiredTimeFlag is parseTimeFlag for a flag that must be given.
func requiredTimeFlag(name, value string) (time.Time, error) {
	t, err := parseTimeFlag(name, value)
	if err == nil && t.IsZero() {
		err = usagef("--%s is required", name)
	}
	return t, err
}

// parseZone accepts UTC, a fixed offset (+08:00) or a zone name.
func parseZone(s string) (*time.Location, error) {
	if t, err := time.Parse("-07:00", s); err == nil {
		_, off := t.Zone()
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, usagef("--split-zone %q: want UTC, an offset such as +08:00, or a zone name (%v)", s, fmt.Sprint(err))
	}
	return loc, nil
}
