package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var out, preset string
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--preset small]",
		Short: "Run the main job on built-in data: simulate a honeypot world, ingest it, summarise",
		Long: `demo needs nothing but the binary: it generates a synthetic honeypot world
(simulate --preset small), ingests its daily captures into a fresh store and prints
what was found per service. Everything it writes goes under --out.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			cfg, err := simulate.PresetConfig(preset, uint64(global.Seed))
			if err != nil {
				return usagef("%v", err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			dbPath := global.DB
			if !cmd.Flags().Changed("db") {
				dbPath = filepath.Join(out, "scannergrouper.db")
				// A demo always starts from a clean store.
				for _, suffix := range []string{"", "-wal", "-shm"} {
					os.Remove(dbPath + suffix)
				}
			}
			start := time.Now()
			fmt.Fprintf(w, "1. simulating the %q world (seed %d) into %s ...\n", preset, global.Seed, out)
			world, err := simulate.Generate(ctx, cfg, filepath.Join(out, "world"))
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "   %d first probes over %d weeks, %d daily pcaps (%s)\n",
				world.Counts.Probes.Total(), world.Weeks, len(world.PcapFiles), time.Since(start).Round(time.Millisecond))

			fmt.Fprintf(w, "2. ingesting the captures into %s ...\n", dbPath)
			st, err := store.Open(ctx, dbPath)
			if err != nil {
				return err
			}
			defer st.Close()
			t := time.Now()
			honeypots, err := prefixesOf(world.Honeypots)
			if err != nil {
				return err
			}
			res, err := ingest.Run(ctx, st, ingest.Capture, []string{filepath.Join(out, "world", "pcap")}, capture.Options{Sensor: "demo", Honeypots: honeypots}, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "   %d packets, %d sessions, %d first probes stored (%s)\n", res.Packets, res.Sessions, res.Stored, time.Since(t).Round(time.Millisecond))

			counts, err := st.ServiceCounts(ctx, store.ProbeQuery{})
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "3. first probes per service:")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "service\tprobes\tscanner IPs\t")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%d\t%d\t\n", c.Service, c.Probes, c.IPs)
			}
			tw.Flush()
			fmt.Fprintf(w, "\nDone in %s. Look at the probes with:\n  scannergrouper probes --db %s --service tls --limit 10\n",
				time.Since(start).Round(time.Millisecond), dbPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "demo-out", "folder for the world, the store and reports")
	cmd.Flags().StringVar(&preset, "preset", "small", "world size: tiny, small or sd24")
	rootCmd.AddCommand(cmd)
}

func prefixesOf(addrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range addrs {
		p, err := parsePrefixOrAddr(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
