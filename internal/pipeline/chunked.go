package pipeline

import "iter"

// chunkBits sets the length of a chunked's chunks: 65,536 entries, 2 MiB
// of records.
const (
	chunkBits = 16
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// chunked is a sequence that grows in chunks of chunkLen entries, or a
// view of entries lo..lo+n of another's chunks (slice). A load appends
// tens of millions of records: a slice grown by append copies all it holds
// at each growth and for a moment holds it twice (a tenth of a load's CPU,
// and most of its peak memory); chunks are never copied. The first chunk
// grows as a slice does, so a small sequence costs what it holds.
//
// Only a sequence's owner appends, at its end; a view taken before shares
// the chunks and keeps seeing its own entries only.
type chunked[T any] struct {
	chunks [][]T
	lo, n  int
}

// len is the number of entries.
func (c *chunked[T]) len() int { return c.n }

// at is entry i.
func (c *chunked[T]) at(i int) *T {
	j := c.lo + i
	return &c.chunks[j>>chunkBits][j&chunkMask]
}

// add appends v.
func (c *chunked[T]) add(v T) {
	j := c.lo + c.n
	k := j >> chunkBits
	if k == len(c.chunks) {
		var chunk []T
		if k > 0 {
			chunk = make([]T, 0, chunkLen)
		}
		c.chunks = append(c.chunks, chunk)
	}
	c.chunks[k] = append(c.chunks[k][:j&chunkMask], v)
	c.n++
}

// slice is the view of entries lo..hi-1.
func (c *chunked[T]) slice(lo, hi int) chunked[T] {
	return chunked[T]{chunks: c.chunks, lo: c.lo + lo, n: hi - lo}
}

// all yields each entry with its index, in order.
func (c *chunked[T]) all() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		i := 0
		for j := c.lo; i < c.n; {
			chunk := c.chunks[j>>chunkBits]
			off := j & chunkMask
			part := chunk[off:min(len(chunk), off+c.n-i)]
			if len(part) == 0 {
				return // (a view's entries are all in its chunks)
			}
			for k := range part {
				if !yield(i, &part[k]) {
					return
				}
				i++
			}
			j += len(part)
		}
	}
}

// chunkedOf is a sequence of vs.
func chunkedOf[T any](vs ...T) chunked[T] {
	var c chunked[T]
	for _, v := range vs {
		c.add(v)
	}
	return c
}
