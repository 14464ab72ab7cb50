//go:build !amd64 || purego

package nn

const haveKernel = false

var haveWide = false

func kernel(k int, a, b, c []float32, ldc int) { kernelGeneric(k, a, b, c, ldc) }

func kernelWide(k int, a, b0, b1, c []float32, ldc int) bool { return false }
