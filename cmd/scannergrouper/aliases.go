package main

import "github.com/spf13/pflag"

// deprecatedAlias registers old, an earlier name of the flag new, on the same
// variable: hidden from help, and using it prints a deprecation note on
// stderr. Periods are --from and --to (exclusive) in every command; the old
// names keep scripts working for now.
func deprecatedAlias(fl *pflag.FlagSet, old, new string, p *string) {
	fl.StringVar(p, old, "", "old name of --"+new)
	fl.MarkDeprecated(old, "use --"+new)
}
