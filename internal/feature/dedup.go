package feature

// Dedup collapses repeated encoded rows: unique holds each distinct row once
// in order of first appearance, counts[u] how many rows equal unique[u], and
// index[i] the unique row of images[i], so unique[index[i]] equals
// images[i]. Real scanner traffic repeats heavily (11 distinct images among
// 1,415 real HTTP probes), so training and inference can run per unique row
// and weight by count. Rows are the same when their ImageKey is. unique
// shares memory with images.
func Dedup(images [][]uint8) (unique [][]uint8, counts []int, index []int) {
	seen := make(map[ImageKey]int, len(images)/4+1)
	index = make([]int, len(images))
	for i, row := range images {
		k := KeyOf(row)
		u, ok := seen[k]
		if !ok {
			u = len(unique)
			unique = append(unique, row)
			counts = append(counts, 0)
			seen[k] = u
		}
		counts[u]++
		index[i] = u
	}
	return unique, counts, index
}
