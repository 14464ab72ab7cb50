package ingest

import (
	"context"
	"errors"
	"io"
)

// ErrStopped ends a stream whose reading was stopped (SIGINT, SIGTERM)
// before it ended; the capture.FileError around it names the offset.
var ErrStopped = errors.New("reading stopped (interrupted): every probe before this offset is stored")

// stopReader lets a cancelled context end a Read that blocks on a pipe
// (standard input has no deadlines): a goroutine reads ahead by one chunk,
// and Read returns ErrStopped once ctx is done. On a stop, the goroutine is
// left blocked in its Read until the input ends or the process exits.
type stopReader struct {
	ctx    context.Context
	chunks chan chunk
	rest   []byte
	err    error
}

type chunk struct {
	data []byte
	err  error
}

const stopReaderChunk = 64 << 10

func newStopReader(ctx context.Context, r io.Reader) *stopReader {
	s := &stopReader{ctx: ctx, chunks: make(chan chunk, 1)}
	go func() {
		for {
			buf := make([]byte, stopReaderChunk)
			n, err := r.Read(buf)
			if n > 0 || err != nil {
				select {
				case s.chunks <- chunk{buf[:n], err}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *stopReader) Read(p []byte) (int, error) {
	for len(s.rest) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		// A chunk already read wins over a stop: it was received.
		select {
		case c := <-s.chunks:
			s.rest, s.err = c.data, c.err
			continue
		default:
		}
		select {
		case c := <-s.chunks:
			s.rest, s.err = c.data, c.err
		case <-s.ctx.Done():
			s.err = ErrStopped
		}
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}
