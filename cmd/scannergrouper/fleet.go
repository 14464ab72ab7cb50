package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	fleet := &cobra.Command{
		Use:   "fleet",
		Short: "The sensors writing into the store: list them, correct a sensor's clock",
		Long: `Sensors on several machines write into one store (PostgreSQL: --db postgres://...),
each ingest naming its sensor (ingest --sensor NAME). fleet list shows them;
fleet clock corrects a sensor whose clock is off: the offset is stored and added
to that sensor's probe times whenever probes are read (probes, train, identify,
evaluate, prune), for probes stored before and after; the stored times, and so
re-ingesting the same capture, stay as they are.`,
		Args: exactArgs(0),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the sensors with their probes and clock offsets",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sensors []store.Sensor
			if err := withStore(cmd, func(st store.Store) (err error) {
				sensors, err = st.Sensors(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), sensors)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SENSOR\tPROBES\tCLOCK OFFSET")
			for _, s := range sensors {
				name := s.Name
				if name == "" {
					name = "(none)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\n", name, s.Probes, s.ClockOffset)
			}
			return tw.Flush()
		},
	}
	var sensor, offset string
	clock := &cobra.Command{
		Use:   "clock --sensor NAME --offset DURATION",
		Short: "Set the correction added to a sensor's probe times (e.g. --offset -2.5s for a clock 2.5 s fast; 0 removes it)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sensor == "" {
				return usagef("--sensor is required")
			}
			off, err := time.ParseDuration(offset)
			if err != nil {
				return usagef("--offset %q: want a duration such as -2.5s or 1h", offset)
			}
			if err := withStore(cmd, func(st store.Store) error { return st.SetClockOffset(cmd.Context(), sensor, off) }); err != nil {
				return err
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), store.Sensor{Name: sensor, ClockOffset: off})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sensor %s: probe times read with %s added\n", sensor, off)
			return nil
		},
	}
	clock.Flags().StringVar(&sensor, "sensor", "", "sensor name (as given to ingest --sensor)")
	clock.Flags().StringVar(&offset, "offset", "", "correction added to its probe times (Go duration: -2.5s, 1h30m; 0 removes it)")
	fleet.AddCommand(list, clock)
	rootCmd.AddCommand(fleet)
}

func init() {
	var before string
	prune := &cobra.Command{
		Use:   "prune --before T",
		Short: "Delete the probes before T; labels, verdicts and models stay, and the store shrinks",
		Long: `prune deletes every stored probe whose (clock-corrected) time is before --before
and gives the room back: a SQLite store is vacuumed and shrinks; PostgreSQL's
VACUUM makes the room reusable by later probes without locking writers out
(run VACUUM FULL probes yourself to give it back to the system). Labels,
attributions and saved models are kept.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := requiredTimeFlag("before", before)
			if err != nil {
				return err
			}
			var n int64
			if err := withStore(cmd, func(st store.Store) (err error) {
				n, err = st.PruneProbes(cmd.Context(), t)
				return err
			}); err != nil {
				return err
			}
			if global.JSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"before": t, "deleted": n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d probes before %s\n", n, t.Format(time.RFC3339))
			return nil
		},
	}
	prune.Flags().StringVar(&before, "before", "", "delete probes before this time (RFC 3339 or YYYY-MM-DD)")
	rootCmd.AddCommand(prune)
}

// withStore opens the store of --db, runs f on it and closes it.
func withStore(cmd *cobra.Command, f func(store.Store) error) error {
	st, err := store.Open(cmd.Context(), global.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}
