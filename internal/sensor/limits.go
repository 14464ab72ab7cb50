package sensor

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// verdict is what the limiter says about a new connection or datagram.
type verdict uint8

const (
	admitted verdict = iota
	// busy: MaxConns connections are open, or the per-address table is
	// full of addresses that are all still active.
	busy
	// ipBusy: this address has MaxConnsPerIP connections open.
	ipBusy
	// rateLimited: this address opened connections (or sent datagrams)
	// faster than RatePerIP for longer than its burst.
	rateLimited
)

// limiter bounds connections in total and per source address, and the rate
// of new connections per source address (x/time/rate token buckets). The
// table of addresses is bounded: when it is full, addresses with nothing
// open whose bucket has refilled are forgotten (they would start afresh
// anyway); when none can be, new addresses are refused as busy.
type limiter struct {
	mu        sync.Mutex
	open      int
	maxOpen   int
	perIP     int
	limit     rate.Limit
	burst     int
	maxIPs    int
	ips       map[netip.Addr]*ipState
	lastSweep time.Time
}

type ipState struct {
	open   int
	bucket *rate.Limiter
}

func newLimiter(maxOpen, perIP int, perSecond float64, burst, maxIPs int) *limiter {
	l := &limiter{maxOpen: maxOpen, perIP: perIP, burst: burst, maxIPs: maxIPs, ips: map[netip.Addr]*ipState{}}
	l.limit = rate.Limit(perSecond)
	if perSecond < 0 || math.IsInf(perSecond, 1) {
		l.limit = rate.Inf
	}
	return l
}

// acquire admits a new connection from ip or says why not; an admitted
// connection must be released.
func (l *limiter) acquire(ip netip.Addr, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.maxOpen {
		return busy
	}
	st := l.state(ip, now)
	if st == nil {
		return busy
	}
	if st.open >= l.perIP {
		return ipBusy
	}
	if !st.bucket.AllowN(now, 1) {
		return rateLimited
	}
	st.open++
	l.open++
	return admitted
}

// allow admits one datagram from ip: only the rate applies.
func (l *limiter) allow(ip netip.Addr, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip, now)
	if st == nil {
		return busy
	}
	if !st.bucket.AllowN(now, 1) {
		return rateLimited
	}
	return admitted
}

func (l *limiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if st := l.ips[ip]; st != nil {
		st.open--
	}
}

// state returns ip's state, making it if the table has room.
func (l *limiter) state(ip netip.Addr, now time.Time) *ipState {
	if st := l.ips[ip]; st != nil {
		return st
	}
	if len(l.ips) >= l.maxIPs {
		// A sweep costs a pass over the table, so a table full of busy
		// addresses is swept at most once a second.
		if now.Sub(l.lastSweep) < time.Second {
			return nil
		}
		l.lastSweep = now
		for a, st := range l.ips {
			if st.open == 0 && (l.limit == rate.Inf || st.bucket.TokensAt(now) >= float64(l.burst)) {
				delete(l.ips, a)
			}
		}
		if len(l.ips) >= l.maxIPs {
			return nil
		}
	}
	st := &ipState{bucket: rate.NewLimiter(l.limit, l.burst)}
	l.ips[ip] = st
	return st
}

// tracked is the size of the address table (for tests).
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips)
}

// openConns is how many connections are open (for tests).
func (l *limiter) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}
