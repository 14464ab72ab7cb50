package feature

import (
	"bytes"
	"hash/maphash"
)

// Dedup collapses repeated encoded rows: unique holds each distinct row once
// in order of first appearance, counts[u] how many rows equal unique[u], and
// index[i] the unique row of images[i], so unique[index[i]] equals
// images[i]. Real scanner traffic repeats heavily (11 distinct images among
// 1,415 real HTTP probes), so training and inference can run per unique row
// and weight by count. unique shares memory with images.
func Dedup(images [][]uint8) (unique [][]uint8, counts []int, index []int) {
	seed := maphash.MakeSeed()
	// Rows are bucketed by hash; equal hashes are confirmed byte by byte, so
	// a collision can never merge two different rows.
	buckets := make(map[uint64][]int, len(images)/4+1)
	index = make([]int, len(images))
	for i, row := range images {
		h := maphash.Bytes(seed, row)
		u := -1
		for _, cand := range buckets[h] {
			if bytes.Equal(unique[cand], row) {
				u = cand
				break
			}
		}
		if u < 0 {
			u = len(unique)
			unique = append(unique, row)
			counts = append(counts, 0)
			buckets[h] = append(buckets[h], u)
		}
		counts[u]++
		index[i] = u
	}
	return unique, counts, index
}
