// Package benchutil helps benchmarks report throughput per CPU-second, which
// stays meaningful on a shared machine where wall-clock time does not.
package benchutil

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the user+system CPU time the process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Meter measures the CPU time of a benchmark's timed loop.
type Meter struct{ start time.Duration }

// Start begins measuring; call it right after b.ResetTimer.
func Start() Meter { return Meter{CPUTime()} }

// Report adds "<unit>/cpu-s" (count per CPU-second of the whole process,
// garbage collection included) and "<unit>/s" (per wall-clock second).
func (m Meter) Report(b *testing.B, count float64, unit string) {
	cpu := (CPUTime() - m.start).Seconds()
	if cpu > 0 {
		b.ReportMetric(count/cpu, unit+"/cpu-s")
	}
	b.ReportMetric(count/b.Elapsed().Seconds(), unit+"/s")
}
