// Package ingest moves first probes from captures and payload logs into the
// store in batched transactions.
package ingest

import (
	"context"
	"errors"
	"io"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Format names an input format.
type Format string

const (
	Capture    Format = "capture"     // pcap / pcapng, gzip or not, files or directories
	PayloadCSV Format = "payload-csv" // one payload-carrying packet per row; files or directories of .csv
)

// batchSize trades transaction overhead against work lost on a crash and
// memory (a batch is all ingest holds: ≈ 16 MB of probes, however large the
// input). Both stores run at their best with many thousand rows per
// transaction: each transaction rewrites the index pages it touches. (A
// variable only so that tests can make batches small.)
var batchSize = 16384

// Result reports what an ingest did.
type Result struct {
	capture.Stats
	Extracted int64 `json:"-"`      // first probes handed to the store so far (for progress)
	Stored    int64 `json:"stored"` // probes new to the store (the rest were already there)
}

// Run extracts first probes from paths and stores them. Probes already
// stored (same time, addresses, ports, transport) are skipped, so running it
// twice on the same files stores each probe once. Errors in one input file
// are reported after the others were ingested; everything stored before an
// error stays stored.
func Run(ctx context.Context, st store.Store, format Format, paths []string, opts capture.Options, progress func(Result)) (Result, error) {
	b := newBatcher(st, progress)
	var inputErrs []error
	switch format {
	case PayloadCSV:
		files, err := capture.ListPayloadCSV(paths)
		if err != nil {
			return b.res, err
		}
		for _, path := range files {
			s, err := capture.ExtractPayloadCSV(ctx, path, opts, b.emit)
			b.res.add(s)
			if err != nil {
				if ctx.Err() != nil || b.storeErr != nil {
					// Cancelled, or the store failed (a full disk): stop
					// here rather than drop batch after batch.
					return b.res, b.finish(ctx, err)
				}
				inputErrs = append(inputErrs, err)
			}
		}
	default:
		s, err := capture.Extract(ctx, paths, opts, b.emit)
		b.res.Stats = s
		if err != nil {
			var fe *capture.FileError
			if !errors.As(err, &fe) {
				// Not a per-file problem (cancelled, store failure): stop, but
				// still keep what was extracted.
				return b.res, b.finish(ctx, err)
			}
			inputErrs = append(inputErrs, err)
		}
	}
	return b.res, b.finish(ctx, errors.Join(inputErrs...))
}

// RunReader extracts first probes from one pcap/pcapng stream (gzip or not),
// such as standard input, and stores them; name ("stdin") stands for the
// stream in errors and in each probe's source_file. As with files, a probe
// already stored (same time, addresses, ports, transport) is skipped, so
// feeding the same stream twice stores each probe once, and a damaged
// stream keeps every probe before the damage and reports its offset. A
// cancelled ctx (SIGINT) ends even a read that blocks on a pipe: what was
// read is stored and the error wraps ErrStopped with the offset.
func RunReader(ctx context.Context, st store.Store, name string, r io.Reader, opts capture.Options, progress func(Result)) (Result, error) {
	b := newBatcher(st, progress)
	if ctx.Done() != nil {
		r = newStopReader(ctx, r)
	}
	s, err := capture.ExtractReader(ctx, name, r, opts, b.emit)
	b.res.Stats = s
	return b.res, b.finish(ctx, err)
}

// batcher hands probes to the store in transactions of batchSize.
type batcher struct {
	st       store.Store
	res      Result
	batch    []probe.Probe
	progress func(Result)
	// storeErr is the store's first failure: nothing more is stored after
	// it, so that the store holds the input up to a batch boundary.
	storeErr error
}

func newBatcher(st store.Store, progress func(Result)) *batcher {
	return &batcher{st: st, batch: make([]probe.Probe, 0, batchSize), progress: progress}
}

func (b *batcher) emit(p probe.Probe) error {
	b.res.Extracted++
	b.batch = append(b.batch, p)
	if len(b.batch) == batchSize {
		return b.flush(context.Background())
	}
	return nil
}

// flush stores the pending batch. It runs even when the run was cancelled
// (SIGINT): what was received is stored before the command returns.
func (b *batcher) flush(ctx context.Context) error {
	if b.storeErr != nil {
		return b.storeErr
	}
	if len(b.batch) == 0 {
		return nil
	}
	n, err := b.st.InsertProbes(context.WithoutCancel(ctx), b.batch)
	b.storeErr = err
	b.res.Stored += int64(n)
	b.batch = b.batch[:0]
	if b.progress != nil {
		b.progress(b.res)
	}
	return err
}

// finish stores the last batch and joins a store failure to runErr (once:
// runErr may be the same failure, returned through the extractor).
func (b *batcher) finish(ctx context.Context, runErr error) error {
	if err := b.flush(ctx); err != nil && !errors.Is(runErr, err) {
		return errors.Join(runErr, err)
	}
	return runErr
}

func (r *Result) add(s capture.Stats) {
	r.Files += s.Files
	r.Packets += s.Packets
	r.Sessions += s.Sessions
	r.Midstream += s.Midstream
	r.Retransmissions += s.Retransmissions
	r.Evicted += s.Evicted
	r.Truncated += s.Truncated
	r.DroppedSegments += s.DroppedSegments
	r.Probes += s.Probes
	for k, v := range s.ByService {
		if r.ByService == nil {
			r.ByService = map[string]int{}
		}
		r.ByService[k] += v
	}
}

// LiveResult reports a live capture.
type LiveResult struct {
	capture.LiveStats
	Stored int64 `json:"stored"` // probes new to the store
}

// RunLive captures on the interface lopts names until ctx is done (SIGINT,
// SIGTERM) and stores first probes in batches: every lopts.TickEvery
// (default 1 s), or sooner when batchSize probes are waiting. When ctx ends,
// every first probe still being collected is emitted and stored before
// RunLive returns. report, when set, gets the counters at every tick.
func RunLive(ctx context.Context, st store.Store, lopts capture.LiveOptions, opts capture.Options, report func(LiveResult)) (LiveResult, error) {
	b := newBatcher(st, nil)
	var res LiveResult
	lopts.Tick = func(ls capture.LiveStats) error {
		err := b.flush(ctx)
		res.LiveStats, res.Stored = ls, b.res.Stored
		if report != nil {
			report(res)
		}
		return err
	}
	ls, err := capture.Live(ctx, lopts, opts, b.emit)
	err = b.finish(ctx, err)
	res.LiveStats, res.Stored = ls, b.res.Stored
	return res, err
}
