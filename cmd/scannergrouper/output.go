package main

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// writeJSON prints v as one line of JSON. Under the global --json every
// command that prints a result prints it this way (or as JSON lines, one
// record per line, for listings), so scripts never parse tables.
func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// legacyArgs rewrites old spellings that cobra alone cannot accept.
//
// evaluate took its report file as --json FILE before --json became the
// global "print JSON" switch; a local string flag of that name would shadow
// the global one. evaluate takes no positional arguments, so a plain word
// right after --json (other than the command name) can only be the old
// report file: it becomes --report FILE, and a bare --json stays the global
// switch.
func legacyArgs(args []string) []string {
	cmd, _, err := rootCmd.Find(args)
	if err != nil || cmd.Name() != "evaluate" {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "--json" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && args[i+1] != cmd.Name() {
			out = append(out, "--report", args[i+1])
			i++
			continue
		}
		if v, ok := strings.CutPrefix(a, "--json="); ok {
			if _, err := strconv.ParseBool(v); err != nil {
				out = append(out, "--report="+v)
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
