package capture

import (
	"time"
)

// LiveOptions configure a live capture (Live). The zero value of each
// duration or size picks its default.
type LiveOptions struct {
	// Interface is the network interface to read, e.g. "eth0" or "lo".
	Interface string
	// Filter is a BPF filter run in the kernel: an expression of the
	// pcapfilter subset or `tcpdump -ddd` output; empty takes everything.
	Filter string
	// FlushIdle emits the first probe of a session whose first message is
	// still incomplete once the session has been silent this long (default
	// 5 s): a scanner that sends half a request and waits is still stored.
	// Sessions themselves are forgotten after Options.TCPIdle/UDPIdle.
	FlushIdle time.Duration
	// TickEvery is how often Tick is called (default 1 s).
	TickEvery time.Duration
	// Tick, when set, is called every TickEvery and once at the end, from
	// the capture's own goroutine (no locking needed), with the counters so
	// far; ingest uses it to write batches on time. An error stops the
	// capture.
	Tick func(LiveStats) error
	// RingBytes is the size of the kernel ring the capture reads from
	// (default 32 MiB): it absorbs bursts while a batch is being written.
	RingBytes int
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.FlushIdle <= 0 {
		o.FlushIdle = 5 * time.Second
	}
	if o.TickEvery <= 0 {
		o.TickEvery = time.Second
	}
	if o.RingBytes <= 0 {
		o.RingBytes = 32 << 20
	}
	return o
}

// LiveStats are a live capture's counters. Stats.Packets counts the TCP and
// UDP packets handed to session tracking.
type LiveStats struct {
	Stats
	// Frames were read from the kernel ring; KernelDrops were lost in the
	// kernel because the ring was full (the capture fell behind);
	// PreFilter were frames queued before the kernel filter was attached
	// and dropped by the same filter run here.
	Frames      int64 `json:"frames"`
	KernelDrops int64 `json:"kernel_drops"`
	PreFilter   int64 `json:"prefilter_dropped"`
	// Tracked is the number of sessions tracked now (bounded by
	// Options.MaxFlows); Buffered the bytes they hold in incomplete first
	// messages (at most 2 * probe.MaxPayload each).
	Tracked  int   `json:"tracked_sessions"`
	Buffered int64 `json:"buffered_bytes"`
	// IdleFlushed counts first probes emitted because their session went
	// silent before the message was complete.
	IdleFlushed int64 `json:"idle_flushed"`
}

// LiveSourceName is the source_file of probes captured on iface; their
// Offset is the frame's number in the capture (1 for the first frame read).
func LiveSourceName(iface string) string { return "live:" + iface }

// finishIdle emits the first probe of every session whose first message is
// incomplete and that has been silent for longer than after. The session
// stays tracked (later payloads are not probes). The flow list runs from
// least to most recently seen, so the walk stops at the first recent one.
func (t *tracker) finishIdle(now time.Time, after time.Duration) (int64, error) {
	var n int64
	for f := t.head; f != nil && now.Sub(f.lastSeen) > after; f = f.next {
		if f.state == collecting && len(f.buf) > 0 {
			n++
		}
		if err := t.finish(f); err != nil {
			return n, err
		}
	}
	return n, nil
}

// usage fills the tracker's share of live counters.
func (t *tracker) usage(ls *LiveStats) {
	ls.Tracked = len(t.flows)
	ls.Buffered = 0
	for f := t.head; f != nil; f = f.next {
		ls.Buffered += int64(len(f.buf) + pendingBytes(f))
	}
}
