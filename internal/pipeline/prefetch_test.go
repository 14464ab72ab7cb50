package pipeline

import (
	"errors"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// numbered yields n probes (source ports 0..n-1), then err if set, and
// records whether it was stopped by its consumer.
func numbered(n int, err error, stopped *bool) func(func(probe.Probe, error) bool) {
	return func(yield func(probe.Probe, error) bool) {
		for i := range n {
			if !yield(probe.Probe{SrcPort: uint16(i)}, nil) {
				*stopped = true
				return
			}
		}
		if err != nil {
			yield(probe.Probe{}, err)
		}
	}
}

// prefetch hands over every probe in order, then the error, across chunk
// boundaries; a consumer that stops early stops the reader before the loop
// returns.
func TestPrefetchKeepsOrderErrorsAndStops(t *testing.T) {
	broken := errors.New("disk read failed")
	for _, tc := range []struct {
		name string
		n    int
		err  error
	}{
		{"empty", 0, nil},
		{"less than a chunk", 5, nil},
		{"exactly a chunk", prefetchChunk, nil},
		{"several chunks and a tail", 3*prefetchChunk + 7, nil},
		{"error after a tail", prefetchChunk + 3, broken},
		{"error at a chunk boundary", prefetchChunk, broken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stopped bool
			got := 0
			var gotErr error
			for p, err := range prefetch(numbered(tc.n, tc.err, &stopped)) {
				if err != nil {
					gotErr = err
					continue
				}
				if gotErr != nil {
					t.Fatal("a probe after the error")
				}
				if int(p.SrcPort) != got {
					t.Fatalf("probe %d came as number %d", p.SrcPort, got)
				}
				got++
			}
			if got != tc.n || !errors.Is(gotErr, tc.err) || (tc.err == nil && gotErr != nil) {
				t.Fatalf("got %d probes and %v, want %d and %v", got, gotErr, tc.n, tc.err)
			}
		})
	}
	var stopped bool
	seen := 0
	for range prefetch(numbered(10*prefetchChunk, nil, &stopped)) {
		seen++
		if seen == prefetchChunk+1 {
			break
		}
	}
	if !stopped {
		t.Fatal("the reader went on after the consumer stopped")
	}
}
