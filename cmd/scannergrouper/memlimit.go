package main

import (
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// memoryShare is the share of the machine's memory (or of the cgroup's
// limit, in a container) the Go heap aims to stay under.
const memoryShare = 0.9

// limitMemory gives the garbage collector a soft limit: memoryShare of
// the cgroup's memory limit, or of the machine's memory outside one.
// Training and identification hold every probe of a period as a small
// record; the collector's default lets the heap grow to twice what is
// live, which on a month of a large sensor fleet is more than the machine
// has. Near the limit the collector runs sooner instead. GOMEMLIMIT, when
// set, wins; AUTOMEMLIMIT=off leaves the default, AUTOMEMLIMIT=0.7 sets
// another share.
func limitMemory() (int64, error) {
	return memlimit.Set(memlimit.WithRatio(memoryShare),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)))
}

// streamGCPercent is GOGC for ingest, which streams: its heap is small
// and bounded (two batches of probes and the payload cache) but it
// allocates for every probe it parses, so at the default of 100 the
// collector runs every few tens of MB and, while marking, takes one of two
// cores from the parse-and-write pipeline. 400 costs a few hundred MB
// (0.4 → 0.8 GB ingesting 7.8 M probes) for 10–25 % less CPU
// (BENCHMARKS.md); the soft memory limit still bounds the heap on a small
// machine.
const streamGCPercent = 400

// collectLessOften sets GOGC to streamGCPercent unless GOGC is set, and
// returns what puts the previous value back (tests run commands in one
// process).
func collectLessOften() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(streamGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
