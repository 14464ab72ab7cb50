//go:build !amd64 || purego

package nn

const haveKernel = false

func kernel(k int, a, b, c []float32, ldc int) { kernelGeneric(k, a, b, c, ldc) }
