package sensor

import (
	"context"
	"sync/atomic"
	"time"
)

// Stats are a sensor's counters since it started.
type Stats struct {
	Accepted  int64 `json:"accepted"`  // TCP connections accepted (served or refused)
	Datagrams int64 `json:"datagrams"` // UDP datagrams read
	Probes    int64 `json:"probes"`    // first probes handed to the writer
	Stored    int64 `json:"stored"`    // of those, new to the store
	Tags      int64 `json:"tags"`      // cookie tags given out (and recorded)

	// Causes: one log line each, with these counts.
	Garbage         int64 `json:"garbage"`          // bytes no service claims
	Malformed       int64 `json:"malformed"`        // claimed, but the parser rejected them
	Timeouts        int64 `json:"timeouts"`         // the read deadline passed mid-message
	Silent          int64 `json:"silent"`           // connected and sent nothing before the deadline or close
	OverCap         int64 `json:"over_cap"`         // the first message reached the payload cap
	RateLimited     int64 `json:"rate_limited"`     // refused: the source opened or sent too fast
	IPBusy          int64 `json:"ip_busy"`          // refused: the source had too many open connections
	Busy            int64 `json:"busy"`             // refused: the sensor had too many open connections
	HandshakeFailed int64 `json:"handshake_failed"` // TLS handshakes that did not finish
	WriteErrors     int64 `json:"write_errors"`     // answers that could not be written
	AcceptErrors    int64 `json:"accept_errors"`
	Panics          int64 `json:"panics"`
	StoreErrors     int64 `json:"store_errors"` // batches the store refused
	Lost            int64 `json:"lost"`         // probes and tags in those batches
}

type counters struct {
	accepted, datagrams, probes, stored, tags            atomic.Int64
	garbage, malformed, timeouts, silent, overCap        atomic.Int64
	rateLimited, ipBusy, busy, handshakeFailed           atomic.Int64
	writeErrors, acceptErrors, panics, storeErrors, lost atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Accepted: c.accepted.Load(), Datagrams: c.datagrams.Load(), Probes: c.probes.Load(), Stored: c.stored.Load(), Tags: c.tags.Load(),
		Garbage: c.garbage.Load(), Malformed: c.malformed.Load(), Timeouts: c.timeouts.Load(), Silent: c.silent.Load(), OverCap: c.overCap.Load(),
		RateLimited: c.rateLimited.Load(), IPBusy: c.ipBusy.Load(), Busy: c.busy.Load(), HandshakeFailed: c.handshakeFailed.Load(),
		WriteErrors: c.writeErrors.Load(), AcceptErrors: c.acceptErrors.Load(), Panics: c.panics.Load(), StoreErrors: c.storeErrors.Load(), Lost: c.lost.Load(),
	}
}

func (c *counters) refused(v verdict) {
	switch v {
	case busy:
		c.busy.Add(1)
	case ipBusy:
		c.ipBusy.Add(1)
	case rateLimited:
		c.rateLimited.Add(1)
	}
}

// cause is a counter that gets a log line: its name, what it counts.
type cause struct {
	name, what string
	n          int64
}

// causes lists the counters that get log lines.
func (st Stats) causes() []cause {
	return []cause{
		{"garbage", "first messages no service recognises", st.Garbage},
		{"malformed", "first messages their service could not parse", st.Malformed},
		{"timeouts", "first messages cut by the read deadline", st.Timeouts},
		{"silent", "connections that sent nothing", st.Silent},
		{"over-cap", "first messages cut at the payload cap", st.OverCap},
		{"rate-limited", "connections or datagrams refused: source too fast", st.RateLimited},
		{"ip-busy", "connections refused: source has too many open", st.IPBusy},
		{"busy", "connections refused: sensor at its connection limit", st.Busy},
		{"handshake-failed", "TLS handshakes that did not finish", st.HandshakeFailed},
		{"write-errors", "answers that could not be written", st.WriteErrors},
		{"accept-errors", "failed accepts", st.AcceptErrors},
		{"panics", "handlers recovered from a panic", st.Panics},
		{"store-errors", "batches the store refused", st.StoreErrors},
	}
}

func (s *Sensor) reportLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	if s.cfg.ReportEvery < 0 {
		return
	}
	t := time.NewTicker(s.cfg.ReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.report(false)
		}
	}
}

// report logs one line per cause whose counter moved since the last report
// (every cause with a count at the end), then the totals.
func (s *Sensor) report(final bool) {
	st := s.stats.snapshot()
	s.mu.Lock()
	prev := s.reported
	s.reported = st
	s.mu.Unlock()
	log := s.cfg.Logger
	pc := prev.causes()
	for i, c := range st.causes() {
		if delta := c.n - pc[i].n; delta > 0 || (final && c.n > 0) {
			log.Warn("sensor: "+c.name, "what", c.what, "new", delta, "total", c.n)
		}
	}
	msg := "sensor: probes"
	if final {
		msg = "sensor: stopped"
	}
	if final || st.Probes != prev.Probes || st.Accepted != prev.Accepted || st.Datagrams != prev.Datagrams {
		log.Info(msg, "accepted", st.Accepted, "datagrams", st.Datagrams, "probes", st.Probes, "stored", st.Stored,
			"tags", st.Tags, "lost", st.Lost)
	}
}
