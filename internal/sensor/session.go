package sensor

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// session is one TCP connection being served.
type session struct {
	s        *Sensor
	l        *tcpListener
	c        net.Conn
	src, dst netip.AddrPort
	deadline time.Time

	buf   []byte    // what the client sent so far (a pooled buffer)
	first time.Time // when its first byte arrived
	end   readEnd   // why the last read stopped
}

// readEnd says why reading a first message stopped.
type readEnd uint8

const (
	whole    readEnd = iota // the service says the message is complete
	capped                  // probe.MaxPayload bytes arrived
	timedOut                // the read deadline passed (or the sensor stops)
	closed                  // the client closed or reset the connection
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, probe.MaxPayload); return &b }}

// readUntil reads into cs.buf until done says the bytes hold a whole
// message, probe.MaxPayload bytes arrived, the deadline passes or the
// client closes. It may be called again to read a following message.
func (cs *session) readUntil(done func([]byte) bool) readEnd {
	if cs.buf == nil {
		cs.buf = (*bufPool.Get().(*[]byte))[:0]
	}
	for {
		// The cap first: services call a payload at the cap complete.
		if len(cs.buf) >= probe.MaxPayload {
			cs.end = capped
			return capped
		}
		if len(cs.buf) > 0 && done(cs.buf) {
			cs.end = whole
			return whole
		}
		n, err := cs.c.Read(cs.buf[len(cs.buf):probe.MaxPayload])
		if n > 0 {
			if cs.first.IsZero() {
				cs.first = time.Now()
			}
			cs.buf = cs.buf[:len(cs.buf)+n]
		}
		if err != nil {
			if len(cs.buf) >= probe.MaxPayload {
				cs.end = capped
			} else if len(cs.buf) > 0 && done(cs.buf) {
				cs.end = whole
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				cs.end = timedOut
			} else {
				cs.end = closed
			}
			return cs.end
		}
	}
}

// release returns the read buffer to the pool; the stored probe holds a
// copy.
func (cs *session) release() {
	if cs.buf != nil {
		b := cs.buf[:0]
		bufPool.Put(&b)
		cs.buf = nil
	}
}

// complete is the first-message rule of the listener's service: its own
// Complete once it recognises the bytes, and otherwise the rule capture
// ingest applies to any stream (so a TLS hello sent to the HTTP port is cut
// where TLS says, and garbage after probe.MinClassifyBytes).
func (cs *session) complete(b []byte) bool {
	if svc := cs.l.svc; svc != nil && svc.Detect(b, probe.TCP, cs.dst.Port()) != probe.NotMine {
		return svc.Complete(b, probe.TCP)
	}
	return probe.FirstMessageComplete(b, probe.TCP, cs.dst.Port())
}

// readFirst reads the first message by done and stores it; it returns the
// probe to answer, nil when the client sent nothing or the sensor stops.
func (cs *session) readFirst(done func([]byte) bool) *probe.Probe {
	cs.readUntil(done)
	p := cs.store()
	if p == nil || cs.s.isStopping() {
		return nil
	}
	return p
}

// store turns what the client sent into its first probe, exactly as
// capture ingest would (probe.Describe), counts how the read ended and
// queues the probe. It returns nil when the client sent nothing.
func (cs *session) store() *probe.Probe {
	st := &cs.s.stats
	if len(cs.buf) == 0 {
		st.silent.Add(1)
		return nil
	}
	switch cs.end {
	case capped:
		st.overCap.Add(1)
	case timedOut:
		if !cs.s.isStopping() {
			st.timeouts.Add(1)
		}
	}
	p := cs.s.newProbe(cs.first, cs.src, cs.dst, probe.TCP, cs.buf)
	cs.s.w.probe(p)
	return p
}

// newProbe describes payload (copied) as the first probe of a session and
// counts garbage and parse failures.
func (s *Sensor) newProbe(at time.Time, src, dst netip.AddrPort, tr probe.Transport, payload []byte) *probe.Probe {
	p := &probe.Probe{
		Time:      at.UTC(),
		SrcIP:     src.Addr(),
		SrcPort:   src.Port(),
		DstIP:     dst.Addr(),
		DstPort:   dst.Port(),
		Transport: tr,
		Sensor:    s.cfg.Sensor,
		Payload:   append([]byte(nil), payload...),
	}
	probe.Describe(p)
	switch {
	case p.Service == probe.Other:
		s.stats.garbage.Add(1)
	case p.ParseError != "":
		s.stats.malformed.Add(1)
	}
	return p
}

// write sends an answer within the write deadline.
func (cs *session) write(b []byte) bool {
	return cs.s.writeTo(cs.c, b)
}

func (s *Sensor) writeTo(c net.Conn, b []byte) bool {
	c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := c.Write(b); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			s.stats.writeErrors.Add(1)
		}
		return false
	}
	return true
}
