package main

import (
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/console"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

// consoleFor is a command's console on its stderr: progress bars and short
// lines on a terminal, logfmt records otherwise (JSON records with --json).
func consoleFor(cmd *cobra.Command) *console.Console {
	w := cmd.ErrOrStderr()
	f, ok := w.(*os.File)
	tty := ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
	format := console.Logfmt
	if global.JSON {
		format = console.JSON
	}
	return console.New(w, tty, format)
}

// reportTo makes a training run log to c and draw its progress there.
func reportTo(opts *pipeline.Options, c *console.Console) {
	opts.Logger, opts.Progress = c.Logger(), c.Progress
}
