package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
)

// CheckpointFormat is the version of the on-disk layout written by
// WriteCheckpoint.
const CheckpointFormat = 1

var checkpointMagic = [8]byte{'S', 'G', 'N', 'N', 'C', 'K', 'P', 'T'}

// Limits applied when reading, so a corrupt or hostile file cannot make the
// reader allocate without bound.
const (
	maxBlob    = 64 << 20
	maxTensors = 1 << 16
	maxName    = 1 << 10
	maxDims    = 8
)

// NamedArray is one float32 array of a checkpoint.
type NamedArray struct {
	Name  string
	Shape []int
	Data  []float32
}

// Checkpoint is everything needed to resume training: arrays (model, EMA,
// optimiser state, buffers), the iteration, and two opaque blobs: Layout
// (the owner's architecture/config description, checked on load) and Meta
// (caller data, e.g. a feature-layout version).
type Checkpoint struct {
	Iteration int64
	Layout    []byte
	Meta      []byte
	Arrays    []NamedArray
}

// Encode writes the checkpoint: magic, format, iteration, layout, meta,
// arrays, then a CRC-32 (IEEE) of everything before it. Little-endian.
func (c *Checkpoint) Encode(w io.Writer) error {
	var buf bytes.Buffer
	buf.Write(checkpointMagic[:])
	le := binary.LittleEndian
	put32 := func(v uint32) { buf.Write(le.AppendUint32(nil, v)) }
	put64 := func(v uint64) { buf.Write(le.AppendUint64(nil, v)) }
	putBlob := func(b []byte) { put64(uint64(len(b))); buf.Write(b) }
	put32(CheckpointFormat)
	put64(uint64(c.Iteration))
	putBlob(c.Layout)
	putBlob(c.Meta)
	put32(uint32(len(c.Arrays)))
	for _, a := range c.Arrays {
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) {
			return fmt.Errorf("nn: array %s has shape %v but %d values", a.Name, a.Shape, len(a.Data))
		}
		putBlob([]byte(a.Name))
		put32(uint32(len(a.Shape)))
		for _, d := range a.Shape {
			put64(uint64(d))
		}
		for _, v := range a.Data {
			put32(math.Float32bits(v))
		}
	}
	put32(crc32.ChecksumIEEE(buf.Bytes()))
	_, err := w.Write(buf.Bytes())
	return err
}

// DecodeCheckpoint parses a checkpoint, verifying magic, format and CRC.
func DecodeCheckpoint(data []byte) (*Checkpoint, error) {
	if len(data) < len(checkpointMagic)+8 {
		return nil, errors.New("nn: checkpoint too short")
	}
	if !bytes.Equal(data[:8], checkpointMagic[:]) {
		return nil, errors.New("nn: not a checkpoint (bad magic)")
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(tail) {
		return nil, errors.New("nn: checkpoint checksum mismatch (truncated or corrupt)")
	}
	r := &reader{b: body, off: 8}
	if f := r.u32(); f != CheckpointFormat {
		if r.err != nil {
			return nil, r.err
		}
		return nil, fmt.Errorf("nn: checkpoint format %d, this build reads %d", f, CheckpointFormat)
	}
	c := &Checkpoint{Iteration: int64(r.u64())}
	c.Layout = r.blob(maxBlob)
	c.Meta = r.blob(maxBlob)
	n := r.u32()
	if n > maxTensors {
		return nil, fmt.Errorf("nn: checkpoint declares %d arrays", n)
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := string(r.blob(maxName))
		nd := r.u32()
		if nd > maxDims {
			return nil, fmt.Errorf("nn: array %q has %d dimensions", name, nd)
		}
		shape := make([]int, nd)
		count := uint64(1)
		for d := range shape {
			v := r.u64()
			// The remaining bytes bound every dimension product.
			if v > uint64(len(body)) || count*max(v, 1) > uint64(len(body)) {
				return nil, fmt.Errorf("nn: array %q dimension %d too large at offset %d", name, v, r.off)
			}
			shape[d] = int(v)
			count *= v
		}
		if r.err != nil {
			break
		}
		if count*4 > uint64(len(body)-r.off) {
			return nil, fmt.Errorf("nn: array %q truncated at offset %d", name, r.off)
		}
		vals := make([]float32, count)
		for k := range vals {
			vals[k] = math.Float32frombits(r.u32())
		}
		c.Arrays = append(c.Arrays, NamedArray{Name: name, Shape: shape, Data: vals})
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("nn: %d trailing bytes in checkpoint", len(body)-r.off)
	}
	return c, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = fmt.Errorf("nn: checkpoint truncated at offset %d", r.off)
		return false
	}
	return true
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) blob(limit int) []byte {
	n := r.u64()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.err = fmt.Errorf("nn: blob of %d bytes at offset %d exceeds %d", n, r.off, limit)
		return nil
	}
	if !r.need(int(n)) {
		return nil
	}
	v := append([]byte(nil), r.b[r.off:r.off+int(n)]...)
	r.off += int(n)
	return v
}

// WriteCheckpoint writes c to path atomically (atomicfile), so a crash
// leaves either the old or the new checkpoint, never a mix.
func WriteCheckpoint(path string, c *Checkpoint) error {
	if err := atomicfile.Write(path, c.Encode); err != nil {
		return fmt.Errorf("nn: checkpoint %s: %w", path, err)
	}
	return nil
}

// ReadCheckpoint reads and verifies a checkpoint file.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	c, err := DecodeCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
