//go:build openblas

package nn

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

// With -tags openblas every product goes through the CBLAS of the system
// (link with CGO_LDFLAGS="-lopenblas"; set OPENBLAS_NUM_THREADS=1 so
// OpenBLAS threads do not fight the goroutines, and OPENBLAS_CORETYPE, e.g.
// Haswell or SkylakeX, on CPUs an old OpenBLAS misdetects).
func init() {
	blas32.Use(netlib.Implementation{})
	useKernel = false
}
