package pipeline

import (
	"iter"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// prefetchChunk is how many probes the reader hands over at a time: enough
// that the hand-over costs nothing next to reading them, few enough that
// the probes in flight stay a few megabytes.
const prefetchChunk = 2048

// prefetch reads seq on a goroutine of its own, a chunk ahead of the
// caller: reading a probe from the store (stepping SQLite, decoding its
// fields) costs about three times what interning it costs, so on two cores
// a load takes about the reading alone. Probes come in seq's order, and an
// error ends the sequence as it would have. When the caller stops early,
// the reader is stopped (so the store's query is closed) before prefetch's
// loop returns.
func prefetch(seq iter.Seq2[probe.Probe, error]) iter.Seq2[probe.Probe, error] {
	return func(yield func(probe.Probe, error) bool) {
		type chunk struct {
			probes []probe.Probe
			err    error
		}
		chunks := make(chan chunk, 1)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(chunks)
			buf := make([]probe.Probe, 0, prefetchChunk)
			send := func(c chunk) bool {
				select {
				case chunks <- c:
					return true
				case <-stop:
					return false
				}
			}
			for p, err := range seq {
				if err != nil {
					if len(buf) > 0 && !send(chunk{probes: buf}) {
						return
					}
					send(chunk{err: err})
					return
				}
				buf = append(buf, p)
				if len(buf) == prefetchChunk {
					if !send(chunk{probes: buf}) {
						return
					}
					buf = make([]probe.Probe, 0, prefetchChunk)
				}
			}
			if len(buf) > 0 {
				send(chunk{probes: buf})
			}
		}()
		defer func() {
			close(stop)
			<-done
		}()
		for c := range chunks {
			for _, p := range c.probes {
				if !yield(p, nil) {
					return
				}
			}
			if c.err != nil {
				yield(probe.Probe{}, c.err)
				return
			}
		}
	}
}
