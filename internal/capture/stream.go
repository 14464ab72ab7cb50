package capture

import (
	"context"
	"io"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// StdinName names standard input in errors ("stdin: offset 4711: ...") and
// in the SourceFile of the probes read from it.
const StdinName = "stdin"

// ExtractReader reads one pcap or pcapng stream (gzip-compressed or not) from
// r, such as `tcpdump -w -` piped to standard input, with the same session
// tracking and first-probe extraction as Extract. name stands for the stream
// in errors and in each probe's SourceFile; a probe's Offset is the byte
// offset of its packet record in the (decompressed) stream, as for files.
// A truncated or corrupt stream yields every probe before the damage and a
// *FileError naming name and the offset. When ctx is cancelled, reading
// stops and the sessions still open are emitted; an error from emit stops
// the run at once. r is not closed.
func ExtractReader(ctx context.Context, name string, r io.Reader, opts Options, emit func(probe.Probe) error) (Stats, error) {
	opts = opts.withDefaults()
	var stats Stats
	fr, err := openReader(name, io.NopCloser(r))
	if err != nil {
		return stats, err
	}
	defer fr.Close()
	stats.Files++
	t := newTracker(opts, &stats, emit)
	streamErr, err := t.readAll(ctx, name, fr)
	if err != nil && ctx.Err() == nil {
		return stats, err // emit failed: the store is gone
	}
	// Cancelled (SIGINT) or at the end: sessions still collecting are
	// emitted, so everything read is kept.
	if ferr := t.flush(); ferr != nil {
		return stats, ferr
	}
	if err != nil {
		return stats, err
	}
	return stats, streamErr
}

// readAll feeds every packet of fr to the tracker. A damaged input ends the
// read with inputErr (a *FileError); fatal is an error of ctx or emit.
func (t *tracker) readAll(ctx context.Context, name string, fr *fileReader) (inputErr, fatal error) {
	t.file = name
	var pkt packet
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		err := fr.next(&pkt)
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
		if err := t.handle(&pkt); err != nil {
			return nil, err
		}
	}
}
