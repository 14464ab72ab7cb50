package pipeline

import (
	"sort"
	"testing"
)

// TestChunkedAcrossChunks appends past several chunk boundaries and reads
// the sequence, views of it that start and end inside chunks, and a view
// taken before later appends.
func TestChunkedAcrossChunks(t *testing.T) {
	const n = 3*chunkLen + 123
	var c chunked[int]
	var early chunked[int]
	for i := range n {
		if i == chunkLen/2 {
			early = c.slice(10, c.len())
		}
		c.add(i)
	}
	if c.len() != n {
		t.Fatalf("len %d, want %d", c.len(), n)
	}
	for i := range n {
		if *c.at(i) != i {
			t.Fatalf("at(%d) = %d", i, *c.at(i))
		}
	}
	seen := 0
	for i, v := range c.all() {
		if i != seen || *v != i {
			t.Fatalf("all yields (%d, %d) at step %d", i, *v, seen)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("all yields %d entries, want %d", seen, n)
	}
	for _, span := range [][2]int{{0, 0}, {5, 7}, {chunkLen - 3, chunkLen + 4}, {chunkLen, 2 * chunkLen}, {100, n}} {
		v := c.slice(span[0], span[1])
		if v.len() != span[1]-span[0] {
			t.Errorf("slice %v: len %d", span, v.len())
		}
		k := 0
		for i, x := range v.all() {
			if i != k || *x != span[0]+i || *v.at(i) != span[0]+i {
				t.Fatalf("slice %v: entry %d is %d", span, i, *x)
			}
			k++
		}
		if k != v.len() {
			t.Errorf("slice %v: all yields %d entries, want %d", span, k, v.len())
		}
		// a view of a view
		if w := v.slice(1, max(1, v.len()-1)); w.len() > 0 && *w.at(0) != span[0]+1 {
			t.Errorf("slice of slice %v starts at %d", span, *w.at(0))
		}
	}
	if early.len() != chunkLen/2-10 {
		t.Fatalf("the early view grew to %d entries", early.len())
	}
	k := 0
	for i, x := range early.all() {
		if *x != 10+i {
			t.Fatalf("early view: entry %d is %d", i, *x)
		}
		k++
	}
	if k != early.len() {
		t.Errorf("early view: all yields %d entries, want %d", k, early.len())
	}
	for i, x := range c.all() { // stopping early
		if i == 3 {
			break
		}
		_ = x
	}
}

// TestByTimeSortsStably sorts records spread over chunks by time, ties
// keeping their order.
func TestByTimeSortsStably(t *testing.T) {
	var rs records
	const n = chunkLen + 500
	for i := range n {
		rs.add(record{t: int64((n - i) / 3), pos: uint32(i)})
	}
	sort.Stable(byTime{&rs})
	for i := 1; i < n; i++ {
		a, b := rs.at(i-1), rs.at(i)
		if a.t > b.t || a.t == b.t && a.pos > b.pos {
			t.Fatalf("records %d and %d out of order: %+v %+v", i-1, i, *a, *b)
		}
	}
}
