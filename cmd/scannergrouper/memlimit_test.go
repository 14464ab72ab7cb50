package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/pbnjay/memory"
)

// TestLimitMemory sets the collector's soft limit to a share of the
// machine's memory (or the cgroup's, which is no larger), and leaves a
// GOMEMLIMIT the user set alone.
func TestLimitMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("AUTOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT or AUTOMEMLIMIT is set in this environment")
	}
	total := memory.TotalMemory()
	if total == 0 {
		t.Skip("the machine's memory is unknown here")
	}
	debug.SetMemoryLimit(math.MaxInt64)
	limit, err := limitMemory()
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("limitMemory returned %d, the runtime has %d", limit, got)
	}
	if limit <= 0 || uint64(limit) > uint64(float64(total)*memoryShare) {
		t.Errorf("limit %d, want at most %.0f (%.0f%% of %d)", limit, float64(total)*memoryShare, memoryShare*100, total)
	}

	t.Setenv("GOMEMLIMIT", "123MiB")
	debug.SetMemoryLimit(123 << 20)
	if limit, err := limitMemory(); err != nil || limit != 123<<20 {
		t.Errorf("with GOMEMLIMIT set: limit %d, %v; want it left at %d", limit, err, 123<<20)
	}
}

// Ingest collects less often unless GOGC says otherwise, and puts the
// previous setting back when it ends.
func TestCollectLessOften(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	restore := collectLessOften()
	if got := debug.SetGCPercent(streamGCPercent); got != streamGCPercent {
		t.Errorf("GOGC %d, want %d", got, streamGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d after restore, want 100", got)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // what the runtime read from it at start
	collectLessOften()()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("with GOGC=150 set: GOGC %d, want it left at 150", got)
	}
}
