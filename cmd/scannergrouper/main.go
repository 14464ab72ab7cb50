// Command scannergrouper attributes Internet scanners seen by honeypots to the
// organisations behind them. This package only wires flags to the internal
// packages; each subcommand lives in its own file and registers itself on
// rootCmd from an init function.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// globalOptions are the flags every subcommand understands.
type globalOptions struct {
	DB   string
	JSON bool
	Seed int64
}

var global globalOptions

var rootCmd = &cobra.Command{
	Use:   "scannergrouper",
	Short: "Attribute Internet scanners seen by honeypots to their organisations",
	Long: `scannergrouper reads honeypot traffic (pcap/pcapng, payload CSV), extracts the
first service probe of each session (HTTP, TLS, DNS, SSH, RDP), and attributes each scanner
IP to the organisation behind it (Censys, Shodan, Shadowserver, ...) or "unknown".

State lives in one store (--db): a SQLite file, or a PostgreSQL database
(postgres://user@host/db) that a fleet of sensors writes into.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() {
	pf := rootCmd.PersistentFlags()
	pf.StringVar(&global.DB, "db", "./scannergrouper.db", "store: SQLite file path, or postgres://user:password@host:port/database")
	pf.BoolVar(&global.JSON, "json", false, "print results as JSON (one object, or JSON lines for listings) and log JSON records on stderr")
	pf.Int64Var(&global.Seed, "seed", 1, "seed for every random choice (same seed, same result)")
	rootCmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{err}
	})
}

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// usagef builds a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs reporting a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs at least %d argument(s)", cmd.CommandPath(), n)
		}
		return nil
	}
}

func main() {
	if _, err := limitMemory(); err != nil {
		fmt.Fprintf(os.Stderr, "scannergrouper: no memory limit for the garbage collector: %v\n", err)
	}
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI with args and returns the process exit code; tests
// call it directly.
func run(args []string) int {
	rootCmd.SetArgs(legacyArgs(args))
	cmd, err := rootCmd.ExecuteC()
	if err == nil {
		return exitOK
	}
	stderr := rootCmd.ErrOrStderr()
	fmt.Fprintf(stderr, "scannergrouper: %s\n", userMessage(err))
	var u usageError
	if errors.As(err, &u) || isCobraUsage(err) {
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return exitError
}
