package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// liveMaxFlows bounds the session table of a live capture: each session
// costs a few hundred bytes, plus at most 32 KiB while its first message is
// incomplete.
const liveMaxFlows = 1 << 16

type liveFlags struct {
	iface      string
	bpf        string
	flushIdle  time.Duration
	statsEvery time.Duration
	ringMB     int
}

func (l *liveFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&l.iface, "interface", "", "capture live on this network interface (Linux, needs CAP_NET_RAW) until SIGINT/SIGTERM")
	fl.StringVar(&l.bpf, "bpf", "", "kernel filter for --interface: tcpdump expression (the subset in the README, Live capture) or tcpdump -ddd output")
	fl.DurationVar(&l.flushIdle, "flush-idle", 5*time.Second, "with --interface: store an incomplete first message after this much silence")
	fl.DurationVar(&l.statsEvery, "stats-every", 10*time.Second, "with --interface: print counters this often (0: only at the end)")
	fl.IntVar(&l.ringMB, "ring-mb", 32, "with --interface: kernel ring size in MiB (absorbs bursts)")
}

// runLive captures until SIGINT or SIGTERM; then everything received is
// stored and the counters printed, and the command succeeds.
func runLive(cmd *cobra.Command, st store.Store, l liveFlags, opts capture.Options) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := consoleFor(cmd).Logger()
	lopts := capture.LiveOptions{Interface: l.iface, Filter: l.bpf, FlushIdle: l.flushIdle, RingBytes: l.ringMB << 20}
	start := time.Now()
	lastReport := start
	log.Info("capturing", "interface", l.iface, "bpf", l.bpf, "max_sessions", opts.MaxFlows)
	res, err := ingest.RunLive(ctx, st, lopts, opts, func(r ingest.LiveResult) {
		if l.statsEvery > 0 && time.Since(lastReport) >= l.statsEvery {
			lastReport = time.Now()
			log.Info("live", liveCounters(r)...)
		}
	})
	if global.JSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "interface %s, %s: frames %d (kernel drops %d), packets %d, sessions %d (%d without handshake, %d evicted at the cap), first probes %d (%d flushed idle, %d cut at %d KiB), newly stored %d\n",
			l.iface, time.Since(start).Round(time.Millisecond), res.Frames, res.KernelDrops, res.Packets, res.Sessions, res.Midstream,
			res.Evicted, res.Probes, res.IdleFlushed, res.Truncated, probe.MaxPayload>>10, res.Stored)
		printServices(w, res.ByService)
	}
	return err
}

// checkStdin refuses a terminal: a capture stream is piped in.
func checkStdin(cmd *cobra.Command) error {
	if f, ok := cmd.InOrStdin().(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return usagef("- reads a capture stream from standard input, which is a terminal: pipe one in (tcpdump -w - | scannergrouper ingest -)")
	}
	return nil
}

// runStdin reads a capture stream from standard input. SIGINT or SIGTERM
// stops it even while a read blocks on the pipe; what was read is stored
// and the command succeeds, saying where it stopped.
func runStdin(cmd *cobra.Command, st store.Store, opts capture.Options, progress func(ingest.Result)) (ingest.Result, error) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := ingest.RunReader(ctx, st, capture.StdinName, cmd.InOrStdin(), opts, progress)
	if ctx.Err() != nil && cmd.Context().Err() == nil && (errors.Is(err, ingest.ErrStopped) || errors.Is(err, context.Canceled)) {
		consoleFor(cmd).Logger().Warn("stopped by signal; every probe read was stored", "where", userMessage(err))
		return res, nil
	}
	return res, err
}

func liveCounters(r ingest.LiveResult) []any {
	return []any{"frames", r.Frames, "kernel_drops", r.KernelDrops, "packets", r.Packets, "sessions", r.Sessions,
		"tracked", r.Tracked, "buffered_bytes", r.Buffered, "evicted", r.Evicted, "first_probes", r.Probes,
		"idle_flushed", r.IdleFlushed, "stored", r.Stored}
}
