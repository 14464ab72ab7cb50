package nn

import (
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Packed GEMM: C += op(A)·op(B) split into row blocks (MC) or column blocks
// (NC) of C, each owned by one goroutine and accumulated over K in fixed KC
// blocks, so the floating-point order of every C element is independent of
// the number of goroutines. The
// inner MR×NR micro-kernel is AVX2/FMA assembly where the CPU has it
// (kernel_amd64.s); elsewhere gonum's pure-Go blas32 does the product.
const (
	gemmMR = 4
	gemmNR = 16
	gemmKC = 256
	gemmMC = 64
	gemmNC = 256
)

// useKernel selects the packed micro-kernel path (set at init where the CPU
// supports it; tests may switch it off to compare with gonum).
var useKernel = haveKernel

// gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices.
func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if !useKernel || alpha != 1 {
		if k == 0 {
			scaleRows(m, n, beta, c, ldc)
			return
		}
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	scaleRows(m, n, beta, c, ldc)
	if k == 0 {
		return
	}
	// Parallelise over whichever side of C has more blocks; the other
	// operand is packed once for all tasks, each task packs its own block.
	mpad := (m + gemmMR - 1) / gemmMR * gemmMR
	npad := (n + gemmNR - 1) / gemmNR * gemmNR
	splitRows := (m+gemmMC-1)/gemmMC >= (n+gemmNC-1)/gemmNC
	var shared []float32
	var tasks int
	if splitRows {
		shared = make([]float32, k*npad)
		for pc := 0; pc < k; pc += gemmKC {
			packB(shared[pc*npad:], transB, b, ldb, pc, 0, min(gemmKC, k-pc), n)
		}
		tasks = (m + gemmMC - 1) / gemmMC
	} else {
		shared = make([]float32, k*mpad)
		for pc := 0; pc < k; pc += gemmKC {
			packA(shared[pc*mpad:], transA, a, lda, 0, pc, m, min(gemmKC, k-pc))
		}
		tasks = (n + gemmNC - 1) / gemmNC
	}
	workers := min(runtime.GOMAXPROCS(0), tasks)
	// Small products are not worth a goroutine.
	if m*n*k < 1<<16 {
		workers = 1
	}
	run := func(next *atomic.Int64) {
		var own []float32
		if splitRows {
			own = make([]float32, gemmMC*gemmKC)
		} else {
			own = make([]float32, gemmNC*gemmKC)
		}
		var tmp [gemmMR * gemmNR]float32
		for {
			t := int(next.Add(1) - 1)
			if t >= tasks {
				return
			}
			ic, mcl, jc, ncl := 0, m, 0, n
			if splitRows {
				ic = t * gemmMC
				mcl = min(gemmMC, m-ic)
			} else {
				jc = t * gemmNC
				ncl = min(gemmNC, n-jc)
			}
			for pc := 0; pc < k; pc += gemmKC {
				kcl := min(gemmKC, k-pc)
				var ap, bp []float32
				if splitRows {
					packA(own, transA, a, lda, ic, pc, mcl, kcl)
					ap, bp = own, shared[pc*npad:]
				} else {
					packB(own, transB, b, ldb, pc, jc, kcl, ncl)
					ap, bp = shared[pc*mpad:], own
				}
				for jr := 0; jr < ncl; {
					// The shared operand starts at row/column 0 (ic or jc is 0
					// on that side), so panel indices are jr/NR and ir/MR.
					panels := 1
					if haveWide && jr+2*gemmNR <= ncl {
						panels = 2
					}
					bpan := bp[(jr/gemmNR)*kcl*gemmNR:]
					for ir := 0; ir < mcl; ir += gemmMR {
						apan := ap[(ir/gemmMR)*kcl*gemmMR:]
						ci := (ic+ir)*ldc + jc + jr
						if ir+gemmMR <= mcl && jr+panels*gemmNR <= ncl {
							if panels == 2 && kernelWide(kcl, apan, bpan, bpan[kcl*gemmNR:], c[ci:], ldc) {
								continue
							}
							for q := 0; q < panels; q++ {
								kernel(kcl, apan, bpan[q*kcl*gemmNR:], c[ci+q*gemmNR:], ldc)
							}
							continue
						}
						for q := 0; q < panels; q++ {
							clear(tmp[:])
							kernel(kcl, apan, bpan[q*kcl*gemmNR:], tmp[:], gemmNR)
							for r := 0; r < min(gemmMR, mcl-ir); r++ {
								row := c[ci+q*gemmNR+r*ldc:]
								for j := 0; j < min(gemmNR, ncl-jr-q*gemmNR); j++ {
									row[j] += tmp[r*gemmNR+j]
								}
							}
						}
					}
					jr += panels * gemmNR
				}
			}
		}
	}
	var next atomic.Int64
	if workers == 1 {
		run(&next)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(&next)
		}()
	}
	wg.Wait()
}

func scaleRows(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// packA copies op(A)[ic:ic+mcl, pc:pc+kcl] into MR-row panels, k-major,
// zero-padding the last panel.
func packA(ap []float32, trans bool, a []float32, lda, ic, pc, mcl, kcl int) {
	for ir := 0; ir < mcl; ir += gemmMR {
		pan := ap[(ir/gemmMR)*kcl*gemmMR : (ir/gemmMR+1)*kcl*gemmMR]
		rows := min(gemmMR, mcl-ir)
		if trans {
			for p := 0; p < kcl; p++ {
				src := a[(pc+p)*lda+ic+ir:]
				dst := pan[p*gemmMR : p*gemmMR+gemmMR]
				copy(dst, src[:rows])
				clear(dst[rows:])
			}
			continue
		}
		if rows == gemmMR {
			// Four read streams, sequential writes.
			base := (ic+ir)*lda + pc
			r0 := a[base : base+kcl]
			r1 := a[base+lda : base+lda+kcl]
			r2 := a[base+2*lda : base+2*lda+kcl]
			r3 := a[base+3*lda : base+3*lda+kcl]
			for p := range r0 {
				d := pan[p*gemmMR : p*gemmMR+gemmMR : p*gemmMR+gemmMR]
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
			}
			continue
		}
		for r := 0; r < gemmMR; r++ {
			if r >= rows {
				for p := 0; p < kcl; p++ {
					pan[p*gemmMR+r] = 0
				}
				continue
			}
			src := a[(ic+ir+r)*lda+pc : (ic+ir+r)*lda+pc+kcl]
			for p, v := range src {
				pan[p*gemmMR+r] = v
			}
		}
	}
}

// packB copies op(B)[pc:pc+kcl, jc:jc+ncl] into NR-column panels, k-major,
// zero-padding the last panel.
func packB(bp []float32, trans bool, b []float32, ldb, pc, jc, kcl, ncl int) {
	for jr := 0; jr < ncl; jr += gemmNR {
		pan := bp[(jr/gemmNR)*kcl*gemmNR : (jr/gemmNR+1)*kcl*gemmNR]
		cols := min(gemmNR, ncl-jr)
		if !trans {
			for p := 0; p < kcl; p++ {
				dst := pan[p*gemmNR : p*gemmNR+gemmNR]
				src := b[(pc+p)*ldb+jc+jr:]
				if cols == gemmNR {
					// A fixed-size array copy compiles to plain moves, no
					// memmove call.
					*(*[gemmNR]float32)(dst) = *(*[gemmNR]float32)(src)
					continue
				}
				copy(dst, src[:cols])
				clear(dst[cols:])
			}
			continue
		}
		for j := 0; j < gemmNR; j++ {
			if j >= cols {
				for p := 0; p < kcl; p++ {
					pan[p*gemmNR+j] = 0
				}
				continue
			}
			src := b[(jc+jr+j)*ldb+pc : (jc+jr+j)*ldb+pc+kcl]
			for p, v := range src {
				pan[p*gemmNR+j] = v
			}
		}
	}
}

// kernelGeneric is the portable micro-kernel: C[MR×NR] += Σ_p a[p]·b[p].
func kernelGeneric(k int, a, b, c []float32, ldc int) {
	var acc [gemmMR * gemmNR]float32
	for p := 0; p < k; p++ {
		av := a[p*gemmMR : p*gemmMR+gemmMR]
		bv := b[p*gemmNR : p*gemmNR+gemmNR]
		for r := 0; r < gemmMR; r++ {
			x := av[r]
			row := acc[r*gemmNR : r*gemmNR+gemmNR]
			for j, y := range bv {
				row[j] += x * y
			}
		}
	}
	for r := 0; r < gemmMR; r++ {
		row := c[r*ldc : r*ldc+gemmNR]
		for j := range row {
			row[j] += acc[r*gemmNR+j]
		}
	}
}
