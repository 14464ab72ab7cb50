// Package ingest moves first probes from captures and payload logs into the
// store in batched transactions.
package ingest

import (
	"context"
	"errors"
	"io"
	"sync"

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
// memory (two batches are all ingest holds, one being written and one being
// filled: ≈ 32 MB of probes, however large the input). Both stores run at
// their best with many thousand rows per transaction: each transaction
// rewrites the index pages it touches. (A variable only so that tests can
// make batches small.)
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
				if ctx.Err() != nil || b.failed() != nil {
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

// batcher hands probes to the store in transactions of batchSize. A
// full batch goes to a writer goroutine while the next one is being
// extracted: parsing and the store's inserts cost about the same, so on two
// cores an ingest takes about the time of the slower one instead of their
// sum. At most two batches are held (one being written, one being filled),
// and batches are written one at a time in input order, so the store still
// holds the input up to a batch boundary whenever the process stops.
type batcher struct {
	st       store.Store
	res      Result // the caller's: only Stored comes from the writer
	batch    []probe.Probe
	progress func(Result)
	w        *writer // started at the first full batch
}

func newBatcher(st store.Store, progress func(Result)) *batcher {
	return &batcher{st: st, batch: make([]probe.Probe, 0, batchSize), progress: progress}
}

func (b *batcher) emit(p probe.Probe) error {
	b.res.Extracted++
	b.batch = append(b.batch, p)
	if len(b.batch) < batchSize {
		return nil
	}
	if b.w == nil {
		b.w = startWriter(b.st)
	}
	next, err := b.w.hand(b.batch)
	b.batch = next
	b.res.Stored = b.w.storedSoFar()
	if b.progress != nil {
		b.progress(b.res)
	}
	return err
}

// flush stores the pending batch and waits until every batch handed over
// is written. It runs even when the run was cancelled (SIGINT): what was
// received is stored before the command returns.
func (b *batcher) flush(context.Context) error {
	if b.w == nil {
		if len(b.batch) == 0 {
			return nil
		}
		b.w = startWriter(b.st)
	}
	var err error
	if len(b.batch) > 0 {
		b.batch, err = b.w.hand(b.batch)
	}
	if werr := b.w.wait(); err == nil {
		err = werr
	}
	b.res.Stored = b.w.storedSoFar()
	if b.progress != nil {
		b.progress(b.res)
	}
	return err
}

// failed is the store's first failure, if any: nothing is stored after it.
func (b *batcher) failed() error {
	if b.w == nil {
		return nil
	}
	return b.w.failure()
}

// finish stores the last batch, stops the writer and joins a store failure
// to runErr (once: runErr may be the same failure, returned through the
// extractor).
func (b *batcher) finish(ctx context.Context, runErr error) error {
	err := b.flush(ctx)
	if b.w != nil {
		b.w.stop()
	}
	if err != nil && !errors.Is(runErr, err) {
		return errors.Join(runErr, err)
	}
	return runErr
}

// writer stores the batches it is handed, in order, on a goroutine of its
// own. The hand-over is unbuffered: the writer takes batch k+1 only when
// batch k is stored, so memory stays at two batches and a failure of batch
// k is known when batch k+1 is handed over.
type writer struct {
	st    store.Store
	jobs  chan job
	spare chan []probe.Probe // written batches, emptied, for reuse
	done  chan struct{}
	busy  sync.WaitGroup

	mu     sync.Mutex
	stored int64
	err    error // the first failure: later batches are not stored
}

// job is a batch handed to the writer, prepared when the store can be.
type job struct {
	batch    []probe.Probe
	prepared *store.PreparedProbes
}

// preparer is a store that makes a batch into rows before its transaction
// (store.SQL): the batcher does that on the extracting goroutine while the
// writer stores the batch before, so the writer, which sets ingest's pace,
// has less to do.
type preparer interface {
	PrepareProbes(probes []probe.Probe) *store.PreparedProbes
	InsertPrepared(ctx context.Context, b *store.PreparedProbes) (int, error)
}

func startWriter(st store.Store) *writer {
	w := &writer{st: st, jobs: make(chan job), spare: make(chan []probe.Probe, 1), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *writer) run() {
	defer close(w.done)
	for j := range w.jobs {
		batch := j.batch
		if w.failure() == nil {
			// Not cancellable: a batch handed over is stored whole even
			// when the run is being stopped (SIGINT).
			var n int
			var err error
			if j.prepared != nil {
				n, err = w.st.(preparer).InsertPrepared(context.Background(), j.prepared)
			} else {
				n, err = w.st.InsertProbes(context.Background(), batch)
			}
			w.mu.Lock()
			w.stored += int64(n)
			w.err = err
			w.mu.Unlock()
		}
		clear(batch) // drop the payloads before the slice is reused
		select {
		case w.spare <- batch[:0]:
		default:
		}
		w.busy.Done()
	}
}

// hand gives batch to the writer and returns an empty batch to fill next,
// and the store's failure if one is known by then.
func (w *writer) hand(batch []probe.Probe) ([]probe.Probe, error) {
	j := job{batch: batch}
	if p, ok := w.st.(preparer); ok && w.failure() == nil {
		j.prepared = p.PrepareProbes(batch)
	}
	w.busy.Add(1)
	w.jobs <- j
	var next []probe.Probe
	select {
	case next = <-w.spare:
	default:
		next = make([]probe.Probe, 0, batchSize)
	}
	return next, w.failure()
}

// wait returns when every batch handed over is written, with the store's
// first failure.
func (w *writer) wait() error {
	w.busy.Wait()
	return w.failure()
}

// stop ends the writer once every batch is written.
func (w *writer) stop() {
	close(w.jobs)
	<-w.done
}

func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) storedSoFar() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stored
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
