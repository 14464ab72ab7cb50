//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

var haveKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveWide enables the AVX-512 kernel for pairs of full B panels.
var haveWide = haveKernel && cpu.X86.HasAVX512F

//go:noescape
func kernel4x32(k int, a, b0, b1, c *float32, ldc int)

// kernelWide computes two adjacent full tiles: C[4×32] += A·[B0 B1]. It
// reports false (doing nothing) where AVX-512 is unavailable.
func kernelWide(k int, a, b0, b1, c []float32, ldc int) bool {
	if !haveWide || k == 0 {
		return false
	}
	_ = a[k*gemmMR-1]
	_ = b0[k*gemmNR-1]
	_ = b1[k*gemmNR-1]
	_ = c[3*ldc+2*gemmNR-1]
	kernel4x32(k, &a[0], &b0[0], &b1[0], &c[0], ldc)
	return true
}

// kernel4x16 is implemented in kernel_amd64.s: C[4×16] (row stride ldc)
// += Σ_p a[4p:4p+4]ᵀ·b[16p:16p+16], with FMA accumulation in p order.
//
//go:noescape
func kernel4x16(k int, a, b, c *float32, ldc int)

func kernel(k int, a, b, c []float32, ldc int) {
	if !haveKernel {
		kernelGeneric(k, a, b, c, ldc)
		return
	}
	// Bounds the assembly relies on.
	_ = a[k*gemmMR-1]
	_ = b[k*gemmNR-1]
	_ = c[3*ldc+gemmNR-1]
	kernel4x16(k, &a[0], &b[0], &c[0], ldc)
}
