package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// briefKey is what a brief read takes of a probe besides its time and
// its own fields, in one column: the pure-Go SQLite locks the connection
// for each column of each row, which made reading the columns one by one
// cost twice what stepping through the rows and reading this one does.
const briefKey = `src_ip || ' ' || dst_ip || ' ' || service || ' ' || src_port || ' ' || dst_port || ' ' || payload_id`

// briefBatchRows is how many rows the reader of a brief read copies out
// before handing them over: enough that the hand-over costs nothing next
// to reading them, few enough that the batches in flight stay small.
const briefBatchRows = 1024

// briefBatch is rows of a brief read as the reader copied them: row i's
// key is buf[starts[i]:ownAt[i]] and its own fields buf[ownAt[i]:ends[i]]
// (nil when ownNull[i]).
type briefBatch struct {
	ts                  []int64
	starts, ownAt, ends []int
	ownNull             []bool
	buf                 []byte
	err                 error // the read ended on it, after the rows
}

func (b *briefBatch) reset() {
	b.ts, b.starts, b.ownAt, b.ends, b.ownNull, b.buf, b.err = b.ts[:0], b.starts[:0], b.ownAt[:0], b.ends[:0], b.ownNull[:0], b.buf[:0], nil
}

// readBrief yields the probes of a brief read's rows. Reading a row
// (stepping the query, copying its columns out) and making it a probe
// (parsing its key, joining its payload row's fields) cost about alike, so
// they run on two goroutines: a load of a month, where the reading alone
// kept one core busy while the other waited, goes about a third faster on
// two cores. The rows come in order; when yield stops, the reader is
// stopped before readBrief returns.
func readBrief(ctx context.Context, rows *sql.Rows, payloads *payloadSource, yield func(probe.Probe, error) bool) {
	full := make(chan *briefBatch, 1)
	free := make(chan *briefBatch, 3)
	for range cap(free) {
		free <- &briefBatch{}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		var ts int64
		var key, own sql.RawBytes
		for {
			var b *briefBatch
			select {
			case b = <-free:
			case <-stop:
				return
			}
			b.reset()
			more := true
			if err := ctx.Err(); err != nil {
				// (database/sql ends a query whose context is done on a
				// goroutine of its own, rows later or, with every row
				// received already, not at all)
				b.err, more = fmt.Errorf("store: read probes: %w", err), false
			}
			for more && len(b.ts) < briefBatchRows {
				if more = rows.Next(); !more {
					b.err = rows.Err()
					if b.err != nil {
						b.err = fmt.Errorf("store: read probes: %w", b.err)
					}
					break
				}
				if err := rows.Scan(&ts, &key, &own); err != nil {
					b.err, more = fmt.Errorf("store: scan probe: %w", err), false
					break
				}
				b.ts = append(b.ts, ts)
				b.starts = append(b.starts, len(b.buf))
				b.buf = append(b.buf, key...)
				b.ownAt = append(b.ownAt, len(b.buf))
				b.buf = append(b.buf, own...)
				b.ends = append(b.ends, len(b.buf))
				b.ownNull = append(b.ownNull, own == nil)
			}
			select {
			case full <- b:
			case <-stop:
				return
			}
			if !more {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	var keys briefKeys
	for b := range full {
		for i, ts := range b.ts {
			p := probe.Probe{Time: time.Unix(0, ts).UTC()}
			pid, err := keys.parse(b.buf[b.starts[i]:b.ownAt[i]], &p)
			if err != nil {
				yield(p, fmt.Errorf("store: scan probe: %w", err))
				return
			}
			var own []byte
			if !b.ownNull[i] {
				own = b.buf[b.ownAt[i]:b.ends[i]]
			}
			// (no payload: a brief read has none)
			if err := payloads.complete(ctx, &p, pid, own, nil, 0); !yield(p, err) || err != nil {
				return
			}
		}
		if b.err != nil {
			yield(probe.Probe{}, b.err)
			return
		}
		free <- b
	}
}

// briefKeys parses briefKey values, keeping each service's name once.
type briefKeys struct {
	services map[string]string
}

// parse reads a briefKey value into p's addresses, ports and service, and
// returns the payload row's id.
func (b *briefKeys) parse(key []byte, p *probe.Probe) (pid int64, err error) {
	var parts [6][]byte
	rest := key
	for i := range parts {
		sep := bytes.IndexByte(rest, ' ')
		if i == len(parts)-1 {
			sep = len(rest)
		}
		if sep < 0 {
			return 0, fmt.Errorf("bad probe key %q: want 6 parts", key)
		}
		parts[i], rest = rest[:sep], rest[min(sep+1, len(rest)):]
	}
	if p.SrcIP, err = netip.ParseAddr(string(parts[0])); err != nil {
		return 0, fmt.Errorf("bad src_ip: %w", err)
	}
	if p.DstIP, err = netip.ParseAddr(string(parts[1])); err != nil {
		return 0, fmt.Errorf("bad dst_ip: %w", err)
	}
	sport, err1 := strconv.ParseUint(string(parts[3]), 10, 16)
	dport, err2 := strconv.ParseUint(string(parts[4]), 10, 16)
	pid, err3 := strconv.ParseInt(string(parts[5]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, fmt.Errorf("bad probe key %q: %w", key, err)
	}
	p.Service = b.service(parts[2])
	p.SrcPort, p.DstPort = uint16(sport), uint16(dport)
	return pid, nil
}

// service is s as a string shared by every probe of the service.
func (b *briefKeys) service(s []byte) string {
	if v, ok := b.services[string(s)]; ok {
		return v
	}
	if b.services == nil {
		b.services = map[string]string{}
	}
	v := string(s)
	b.services[v] = v
	return v
}
