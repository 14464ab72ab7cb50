package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var (
		format           string
		sensor           string
		honeypots        []string
		requireHandshake bool
		maxFlows         int
		live             liveFlags
	)
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH... | - | --interface IF",
		Short: "Extract the first probe of every session from captures or payload logs into the store",
		Long: `ingest reads pcap/pcapng files (gzip-compressed or not; directories are read
recursively in name order, one file per day is common) or payload CSV logs, finds
the first service probe of each TCP/UDP session, parses it (HTTP, TLS, DNS, SSH, RDP, other)
and stores it. Ingesting the same input twice stores each probe once.

Payload CSV (--format payload-csv; a folder is read recursively, its .csv files
in name order) needs a header row with the columns
time, src_ip, src_port, dst_ip, dst_port, transport, payload
(payload as hex or base64; name the column payload_hex or payload_base64 to force
one). Times are RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or Unix seconds.

"-" reads one pcap/pcapng stream (gzip or not) from standard input, e.g.
  tcpdump -i eth0 -w - 'tcp or udp' | scannergrouper ingest --sensor hp1 -
Its probes are stored with source_file "stdin" and the byte offset of their
packet in the stream; as for files, a probe is stored once (same time,
addresses, ports and transport), so feeding the same stream again adds nothing.

--interface IF captures live on a Linux interface through an AF_PACKET ring
(needs root or CAP_NET_RAW), with an optional kernel filter (--bpf: a tcpdump
expression of the documented subset, or the output of tcpdump -ddd EXPR). It
runs until SIGINT or SIGTERM, writes probes every second, emits a session's
first probe once it went silent for --flush-idle, prints counters every
--stats-every, and on the signal stores everything received before exiting.
  scannergrouper ingest --interface eth0 --bpf 'tcp port 80 or 443' --sensor hp1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if live.iface != "" {
				if len(args) > 0 {
					return usagef("--interface reads the network, not files: drop %q", args[0])
				}
				return nil
			}
			if live.bpf != "" {
				return usagef("--bpf filters a live capture: give --interface too")
			}
			return minArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			defer collectLessOften()()
			opts := capture.Options{Sensor: sensor, RequireHandshake: requireHandshake, MaxFlows: maxFlows}
			if live.iface != "" && !cmd.Flags().Changed("max-flows") {
				opts.MaxFlows = liveMaxFlows
			}
			for _, h := range honeypots {
				pfx, err := parsePrefixOrAddr(h)
				if err != nil {
					return usagef("--honeypot %q: %v", h, err)
				}
				opts.Honeypots = append(opts.Honeypots, pfx)
			}
			var f ingest.Format
			switch format {
			case "capture", "pcap", "pcapng":
				f = ingest.Capture
			case "payload-csv":
				f = ingest.PayloadCSV
			default:
				return usagef("--format %q: want capture or payload-csv", format)
			}
			stdin := slices.Contains(args, "-")
			if stdin && (len(args) > 1 || f != ingest.Capture) {
				return usagef("- (standard input) must be the only input, and a pcap/pcapng stream")
			}
			if stdin {
				if err := checkStdin(cmd); err != nil {
					return err
				}
			}
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			if live.iface != "" {
				return runLive(cmd, st, live, opts)
			}
			start := time.Now()
			last := start
			con := consoleFor(cmd)
			progress := func(r ingest.Result) {
				con.Progress("ingest", r.Extracted, 0, fmt.Sprintf("first probes, %d newly stored", r.Stored))
				if !con.Terminal() && time.Since(last) > 10*time.Second {
					last = time.Now()
					con.Logger().Info("ingesting", "first_probes", r.Extracted, "new", r.Stored)
				}
			}
			var res ingest.Result
			var runErr error
			if stdin {
				res, runErr = runStdin(cmd, st, opts, progress)
			} else {
				res, runErr = ingest.Run(cmd.Context(), st, f, args, opts, progress)
			}
			con.Done()
			if global.JSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				printIngestSummary(cmd, res, time.Since(start))
			}
			return runErr
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "capture", "input format: capture (pcap/pcapng) or payload-csv")
	fl.StringVar(&sensor, "sensor", "", "sensor (honeypot) name stored with each probe")
	fl.StringSliceVar(&honeypots, "honeypot", nil, "honeypot address or CIDR (repeatable): decides direction when a capture starts mid-connection")
	fl.BoolVar(&requireHandshake, "require-handshake", false, "ignore TCP sessions whose SYN was not captured")
	fl.IntVar(&maxFlows, "max-flows", 1<<20, fmt.Sprintf("bound on tracked sessions (memory stays constant; %d with --interface)", liveMaxFlows))
	live.register(fl)
	rootCmd.AddCommand(cmd)
}

func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func printIngestSummary(cmd *cobra.Command, r ingest.Result, took time.Duration) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "files %d, packets %d, sessions %d (%d without handshake), first probes %d, newly stored %d, in %s\n",
		r.Files, r.Packets, r.Sessions, r.Midstream, r.Probes, r.Stored, took.Round(time.Millisecond))
	printServices(w, r.ByService)
}

func printServices(w io.Writer, by map[string]int) {
	for _, s := range slices.Sorted(maps.Keys(by)) {
		fmt.Fprintf(w, "  %-6s %d\n", s, by[s])
	}
}
