package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// The packed GEMM agrees with gonum's reference Sgemm for every transpose
// combination, ragged sizes (tile edges, several K blocks) and beta 0/1.
func TestGemmMatchesGonum(t *testing.T) {
	if !haveKernel {
		t.Skip("no AVX2/FMA micro-kernel on this CPU; gemm is gonum itself")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 16, 256}, {5, 17, 257}, {67, 300, 513}, {130, 33, 20}, {64, 256, 0}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 1} {
					a := randSlice(rng, m*k)
					b := randSlice(rng, k*n)
					lda, ldb := k, n
					if ta {
						lda = m
					}
					if tb {
						ldb = k
					}
					c := randSlice(rng, m*n)
					want := append([]float32(nil), c...)
					gemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, n)
					if k > 0 {
						tA, tB := blas.NoTrans, blas.NoTrans
						if ta {
							tA = blas.Trans
						}
						if tb {
							tB = blas.Trans
						}
						blas32.Implementation().Sgemm(tA, tB, m, n, k, 1, a, max(lda, 1), b, max(ldb, 1), beta, want, n)
					} else if beta == 0 {
						clear(want)
					}
					for i := range c {
						if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*math.Sqrt(float64(k)+1) {
							t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v beta=%v: c[%d]=%v want %v", m, n, k, ta, tb, beta, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

// The result is bit-identical for any GOMAXPROCS.
func TestGemmDeterministicAcrossProcs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, n, k := 300, 290, 700
	a, b := randSlice(rng, m*k), randSlice(rng, k*n)
	c1 := make([]float32, m*n)
	gemm(false, false, m, n, k, 1, a, k, b, n, 0, c1, n)
	prev := runtime.GOMAXPROCS(1)
	c2 := make([]float32, m*n)
	gemm(false, false, m, n, k, 1, a, k, b, n, 0, c2, n)
	runtime.GOMAXPROCS(4)
	c3 := make([]float32, m*n)
	gemm(false, false, m, n, k, 1, a, k, b, n, 0, c3, n)
	runtime.GOMAXPROCS(prev)
	for i := range c1 {
		if c1[i] != c2[i] || c1[i] != c3[i] {
			t.Fatalf("element %d differs: %v %v %v", i, c1[i], c2[i], c3[i])
		}
	}
}

func TestKernelGenericMatchesAssembly(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	k := 37
	a, b := randSlice(rng, k*gemmMR), randSlice(rng, k*gemmNR)
	c1 := randSlice(rng, 3*20+gemmNR)
	c2 := append([]float32(nil), c1...)
	kernel(k, a, b, c1, 20)
	kernelGeneric(k, a, b, c2, 20)
	for i := range c1 {
		if d := math.Abs(float64(c1[i] - c2[i])); d > 1e-4 {
			t.Fatalf("c[%d] %v vs %v", i, c1[i], c2[i])
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, n, k := 8192, 64, 288
	x, w := randSlice(rng, m*k), randSlice(rng, n*k)
	c := make([]float32, m*n)
	for _, impl := range []struct {
		name         string
		kernel, wide bool
	}{{"packed", true, true}, {"packed-avx2-only", true, false}, {"gonum", false, false}} {
		b.Run(impl.name, func(b *testing.B) {
			prev, prevWide := useKernel, haveWide
			useKernel = impl.kernel && haveKernel
			haveWide = impl.wide && prevWide
			defer func() { useKernel, haveWide = prev, prevWide }()
			for i := 0; i < b.N; i++ {
				gemm(false, true, m, n, k, 1, x, k, w, k, 0, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// The AVX-512 kernel runs the same per-element FMA chains as the AVX2 one:
// results are bit-identical with and without it.
func TestWideKernelBitIdentical(t *testing.T) {
	if !haveWide {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][3]int{{70, 100, 300}, {8, 32, 5}, {131, 64, 513}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b := randSlice(rng, m*k), randSlice(rng, k*n)
		wide := make([]float32, m*n)
		gemm(false, false, m, n, k, 1, a, k, b, n, 0, wide, n)
		haveWide = false
		narrow := make([]float32, m*n)
		gemm(false, false, m, n, k, 1, a, k, b, n, 0, narrow, n)
		haveWide = true
		for i := range wide {
			if wide[i] != narrow[i] {
				t.Fatalf("%v: element %d %v vs %v", sz, i, wide[i], narrow[i])
			}
		}
	}
}
