package sensor

import (
	"runtime"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
)

// BenchmarkConnections is the sensor's throughput with the store writing:
// b.N HTTP connections over loopback from 256 client addresses (32 at a
// time), each a request, a tagged answer, a stored probe and a stored tag.
// The time includes the final flush, so conns/s counts only what reached
// the store; conns/cpu-s divides by the CPU time of the whole process, the
// load generator's included, so on an idle 2-core machine the wall rate is
// at least twice it. The target: ≥ 5,000 conns/s on 2 cores.
func BenchmarkConnections(b *testing.B) {
	h := startSensor(b, Config{Listen: []Listen{{HTTP, "127.0.0.1:0"}}})
	srcs := sources(256)
	addr := h.addr(HTTP, "tcp")
	b.ResetTimer()
	m := benchutil.Start()
	ok := hammer(b, addr, b.N, 32, srcs)
	st := h.stop()
	b.StopTimer()
	if ok != int64(b.N) || st.Stored != int64(b.N) || st.Tags != int64(b.N) {
		b.Fatalf("%d connections: %d answered, %d probes stored, %d tags; counters %+v", b.N, ok, st.Stored, st.Tags, st)
	}
	m.Report(b, float64(b.N), "conns")
}

// BenchmarkIdle2000 reports what 2,000 silent connections cost the
// process (target ≤ 200 MB), measured as in TestIdleConnectionsCheap.
func BenchmarkIdle2000(b *testing.B) {
	const n = 2000
	for b.Loop() {
		h := startSensor(b, Config{Listen: []Listen{{HTTP, "127.0.0.1:0"}}, ReadTimeout: time.Minute})
		runtime.GC()
		before := rss(b)
		conns := holdIdle(b, h, n)
		after := rss(b)
		for _, c := range conns {
			c.Close()
		}
		h.stop()
		b.ReportMetric(float64(after-before)/(1<<20), "MB/2000-idle")
	}
}
