package sensor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// item is one thing to store: a probe, or a cookie tag given out.
type item struct {
	probe *probe.Probe
	tag   store.TagRecord
}

// writer is the one goroutine that writes to the store: handlers queue
// items, it stores them in batches of up to BatchSize rows, at least every
// FlushEvery. A full queue makes handlers wait (everything received is
// stored); MaxConns bounds how many can wait.
type writer struct {
	sink  Sink
	in    chan item
	done  chan struct{}
	batch int
	every time.Duration
	stats *counters
	log   *slog.Logger
	err   error
}

func newWriter(sink Sink, cfg Config, stats *counters) *writer {
	return &writer{sink: sink, in: make(chan item, cfg.QueueSize), done: make(chan struct{}),
		batch: cfg.BatchSize, every: cfg.FlushEvery, stats: stats, log: cfg.Logger}
}

func (w *writer) probe(p *probe.Probe) {
	w.stats.probes.Add(1)
	w.in <- item{probe: p}
}

func (w *writer) tag(t store.TagRecord) {
	w.stats.tags.Add(1)
	w.in <- item{tag: t}
}

// close stores what is queued and returns the store errors of the run.
func (w *writer) close() error {
	close(w.in)
	<-w.done
	return w.err
}

func (w *writer) run() {
	defer close(w.done)
	probes := make([]probe.Probe, 0, w.batch)
	var tags []store.TagRecord
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	flush := func() {
		// The run's context may be cancelled already (a stop): what is
		// queued is stored regardless, with a bound on the wait.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if len(probes) > 0 {
			n, err := w.sink.InsertProbes(ctx, probes)
			w.stats.stored.Add(int64(n))
			if err != nil {
				w.fail(err, len(probes))
			}
		}
		if len(tags) > 0 {
			if err := w.sink.RecordTags(ctx, tags); err != nil {
				w.fail(err, len(tags))
			}
		}
		clear(probes) // drop payload references
		probes, tags = probes[:0], tags[:0]
	}
	for {
		select {
		case it, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			if it.probe != nil {
				probes = append(probes, *it.probe)
			} else {
				tags = append(tags, it.tag)
			}
			if len(probes)+len(tags) >= w.batch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func (w *writer) fail(err error, n int) {
	w.stats.storeErrors.Add(1)
	w.stats.lost.Add(int64(n))
	w.log.Error("sensor: store refused a batch", "rows", n, "err", err.Error())
	if w.err == nil { // the first cause; the log and the counters have the rest
		w.err = fmt.Errorf("sensor: store: %w", err)
	}
}
