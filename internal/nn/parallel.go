package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelBlocks splits [0, n) into consecutive blocks of grain elements
// and calls fn(block, lo, hi) for each, on up to GOMAXPROCS goroutines.
// Block boundaries depend only on n and grain, so a reduction that keeps one
// partial result per block and combines them in block order is
// bit-identical whatever the number of cores.
func parallelBlocks(n, grain int, fn func(block, lo, hi int)) {
	if n <= 0 {
		return
	}
	blocks := (n + grain - 1) / grain
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 {
		for b := 0; b < blocks; b++ {
			fn(b, b*grain, min(n, (b+1)*grain))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= blocks {
					return
				}
				fn(b, b*grain, min(n, (b+1)*grain))
			}
		}()
	}
	wg.Wait()
}

// elementGrain is the block size for element-wise loops: large enough that
// goroutine hand-off is negligible.
const elementGrain = 1 << 15
