package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/buildinfo"
)

func init() {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the module version and VCS revision of this binary",
		Long: `version prints the module version and the VCS revision (commit, time, whether
the work tree had uncommitted changes) that the Go toolchain stamped into this
binary. Saved models record the same information in manifest.json ("build").
A binary built with 'go run' or from outside a checkout has no revision.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			out := cmd.OutOrStdout()
			if global.JSON {
				return json.NewEncoder(out).Encode(info)
			}
			fmt.Fprintf(out, "scannergrouper %s\n", info.Version)
			fmt.Fprintf(out, "module    %s\n", info.Module)
			if info.Revision != "" {
				rev := info.Revision
				if info.Modified {
					rev += " (modified)"
				}
				fmt.Fprintf(out, "revision  %s\n", rev)
				if info.Time != "" {
					fmt.Fprintf(out, "time      %s\n", info.Time)
				}
			} else {
				fmt.Fprintln(out, "revision  unknown (no VCS information in this build)")
			}
			fmt.Fprintf(out, "go        %s\n", info.GoVersion)
			return nil
		},
	}
	rootCmd.AddCommand(cmd)
	// --version too, because that is what people type first.
	rootCmd.Version = buildinfo.Read().String()
}
