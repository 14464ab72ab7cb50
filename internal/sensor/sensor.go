// Package sensor is ScannerGrouper's own low-interaction honeypot. It
// listens for HTTP, TLS, DNS (UDP and TCP), SSH and RDP, reads each
// connection's first message the way capture ingest cuts it out of a pcap
// (the service's own Complete decides, within a read deadline and the
// probe.MaxPayload cap), answers with a minimal plausible reply (an HTTP page
// carrying a cookie tag, a real TLS handshake, a DNS answer, an SSH KEXINIT,
// an RDP Connection Confirm) and stores every first probe as the probe.Probe
// pcap ingest would store, through one batching writer.
//
// It never opens an outbound connection, bounds everything a client can make
// it hold (connections in total and per source IP, new connections per
// second per source IP, bytes, time) and reports what it refused as counters.
package sensor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Service names a listener may carry.
const (
	HTTP = "http"
	TLS  = "tls"
	DNS  = "dns"
	SSH  = "ssh"
	RDP  = "rdp"
)

// ServiceNames lists what --listen accepts, in the order docs list them.
var ServiceNames = []string{HTTP, TLS, DNS, SSH, RDP}

// Listen is one listener: a service on an address ("127.0.0.1:8080",
// "[::]:53"). A DNS listener binds UDP and TCP on the same port.
type Listen struct {
	Service string
	Addr    string
}

// ParseListen reads "SERVICE=ADDR:PORT".
func ParseListen(s string) (Listen, error) {
	svc, addr, ok := strings.Cut(s, "=")
	if !ok {
		return Listen{}, fmt.Errorf("sensor: listener %q: want SERVICE=ADDR:PORT", s)
	}
	svc = strings.ToLower(strings.TrimSpace(svc))
	known := false
	for _, n := range ServiceNames {
		known = known || n == svc
	}
	if !known {
		return Listen{}, fmt.Errorf("sensor: listener %q: service %q is not one of %s", s, svc, strings.Join(ServiceNames, ", "))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Listen{}, fmt.Errorf("sensor: listener %q: %v", s, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return Listen{}, fmt.Errorf("sensor: listener %q: port %q is not a number 0..65535", s, port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return Listen{}, fmt.Errorf("sensor: listener %q: %q is not an IP address (host names are not resolved)", s, host)
		}
	}
	return Listen{Service: svc, Addr: addr}, nil
}

// Sink is where probes and cookie-tag records go: the store.
type Sink interface {
	InsertProbes(ctx context.Context, probes []probe.Probe) (int, error)
	RecordTags(ctx context.Context, tags []store.TagRecord) error
}

// Config tunes a sensor; New fills in defaults for zero fields.
type Config struct {
	// Sensor is stored with every probe and carried in every cookie tag.
	Sensor string
	Listen []Listen

	// ReadTimeout bounds the wait for a connection's whole first message
	// (default 10 s); WriteTimeout bounds each answer (default 5 s).
	ReadTimeout, WriteTimeout time.Duration
	// MaxConns bounds concurrent TCP connections (default 2048);
	// MaxConnsPerIP those of one source address (default 64).
	MaxConns, MaxConnsPerIP int
	// RatePerIP is how many new connections or datagrams per second one
	// source address gets, with bursts of BurstPerIP (defaults 50 and
	// 200); a negative rate turns the limit off. MaxTrackedIPs bounds the
	// table of per-address state (default 65536).
	RatePerIP     float64
	BurstPerIP    int
	MaxTrackedIPs int

	// Tagger makes the cookie tags of HTTP answers; nil answers without
	// a tag.
	Tagger *label.Tagger
	// CookieName names the cookie (default "sid"); ServerHeader is the
	// Server header of every HTTP answer (default an nginx).
	CookieName, ServerHeader string
	// Certificate is served by TLS listeners; nil makes a self-signed one
	// for TLSHost (default "localhost") at New.
	Certificate *tls.Certificate
	TLSHost     string
	// SSHIdent is the server identification string, without CR LF.
	SSHIdent string
	// DNSAnswer is the address of every A answer (default 192.0.2.1,
	// TEST-NET-1); DNSVersion the version.bind TXT.
	DNSAnswer  netip.Addr
	DNSVersion string

	// BatchSize, FlushEvery and QueueSize tune the store writer (defaults
	// 1024 rows, 250 ms, 16384 queued items).
	BatchSize  int
	FlushEvery time.Duration
	QueueSize  int

	// Logger gets the start and stop lines and, every ReportEvery (default
	// one minute; negative: only at stop), one line per cause whose
	// counter moved.
	Logger      *slog.Logger
	ReportEvery time.Duration
}

// Defaults a zero Config field takes.
const (
	DefaultReadTimeout   = 10 * time.Second
	DefaultWriteTimeout  = 5 * time.Second
	DefaultMaxConns      = 2048
	DefaultMaxConnsPerIP = 64
	DefaultRatePerIP     = 50
	DefaultBurstPerIP    = 200
	DefaultMaxTrackedIPs = 1 << 16
	DefaultCookieName    = "sid"
	DefaultServerHeader  = "nginx/1.22.1"
	DefaultTLSHost       = "localhost"
	DefaultSSHIdent      = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
	DefaultDNSVersion    = "9.18.28-1~deb12u2-Debian"
)

// DefaultDNSAnswer is the A record of every answer unless configured.
var DefaultDNSAnswer = netip.MustParseAddr("192.0.2.1")

func (c Config) withDefaults() Config {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.RatePerIP == 0 {
		c.RatePerIP = DefaultRatePerIP
	}
	if c.BurstPerIP <= 0 {
		c.BurstPerIP = DefaultBurstPerIP
	}
	if c.MaxTrackedIPs <= 0 {
		c.MaxTrackedIPs = DefaultMaxTrackedIPs
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	if c.ServerHeader == "" {
		c.ServerHeader = DefaultServerHeader
	}
	if c.TLSHost == "" {
		c.TLSHost = DefaultTLSHost
	}
	if c.SSHIdent == "" {
		c.SSHIdent = DefaultSSHIdent
	}
	if !c.DNSAnswer.IsValid() {
		c.DNSAnswer = DefaultDNSAnswer
	}
	if c.DNSVersion == "" {
		c.DNSVersion = DefaultDNSVersion
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1024
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 250 * time.Millisecond
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 16384
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReportEvery == 0 {
		c.ReportEvery = time.Minute
	}
	return c
}

// Sensor is a set of listeners sharing limits, counters and one writer.
type Sensor struct {
	cfg     Config
	tlsConf *tls.Config
	lim     *limiter
	stats   counters

	tcp []*tcpListener
	udp []*udpListener

	mu       sync.Mutex
	stopping atomic.Bool // set under mu, read anywhere
	conns    map[net.Conn]struct{}
	reported Stats // the counters at the last report
	wg       sync.WaitGroup

	w *writer
}

type tcpListener struct {
	service string
	ln      net.Listener
	port    uint16
	// svc is the registered service of that name, nil while none is
	// (ssh and rdp until their modules land).
	svc probe.Service
}

type udpListener struct {
	service string
	pc      *net.UDPConn
	port    uint16
}

// Bound is one open socket.
type Bound struct {
	Service string
	Network string // "tcp" or "udp"
	Addr    netip.AddrPort
}

// New checks cfg and prepares the TLS certificate; it opens nothing.
func New(cfg Config) (*Sensor, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Listen) == 0 {
		return nil, errors.New("sensor: no listener (--listen SERVICE=ADDR:PORT)")
	}
	s := &Sensor{cfg: cfg, conns: map[net.Conn]struct{}{}}
	s.lim = newLimiter(cfg.MaxConns, cfg.MaxConnsPerIP, cfg.RatePerIP, cfg.BurstPerIP, cfg.MaxTrackedIPs)
	for _, l := range cfg.Listen {
		if l.Service == TLS && s.tlsConf == nil {
			conf, err := tlsConfig(cfg)
			if err != nil {
				return nil, err
			}
			s.tlsConf = conf
		}
	}
	return s, nil
}

// Bind opens every listener. Run it before dropping privileges: binding
// ports below 1024 needs root or CAP_NET_BIND_SERVICE, serving does not.
func (s *Sensor) Bind() error {
	for _, l := range s.cfg.Listen {
		if err := s.bind(l); err != nil {
			s.closeListeners()
			return err
		}
	}
	return nil
}

func (s *Sensor) bind(l Listen) error {
	if l.Service != DNS {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("sensor: listen %s on %s: %w", l.Service, l.Addr, err)
		}
		s.addTCP(l.Service, ln)
		return nil
	}
	// DNS takes the same port over UDP and TCP. With port 0 the kernel
	// picks the TCP one, and a few tries find one free for UDP too.
	host, port, _ := net.SplitHostPort(l.Addr)
	var lastErr error
	for try := 0; try < 20; try++ {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("sensor: listen dns/tcp on %s: %w", l.Addr, err)
		}
		_, got, _ := net.SplitHostPort(ln.Addr().String())
		ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, got))
		if err != nil {
			ln.Close()
			return fmt.Errorf("sensor: dns/udp on %s: %w", l.Addr, err)
		}
		pc, err := net.ListenUDP("udp", ua)
		if err == nil {
			// Room for a burst of datagrams while the loop is busy; the
			// kernel caps it at net.core.rmem_max.
			pc.SetReadBuffer(4 << 20)
			s.addTCP(DNS, ln)
			s.udp = append(s.udp, &udpListener{service: DNS, pc: pc, port: uint16(ua.Port)})
			return nil
		}
		ln.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return fmt.Errorf("sensor: listen dns/udp on %s: %w", l.Addr, lastErr)
}

func (s *Sensor) addTCP(service string, ln net.Listener) {
	svc, _ := probe.Lookup(service)
	ap := addrPort(ln.Addr())
	s.tcp = append(s.tcp, &tcpListener{service: service, ln: ln, port: ap.Port(), svc: svc})
}

// Addrs lists the open sockets (with the ports the kernel chose for port 0).
func (s *Sensor) Addrs() []Bound {
	var out []Bound
	for _, l := range s.tcp {
		out = append(out, Bound{Service: l.service, Network: "tcp", Addr: addrPort(l.ln.Addr())})
	}
	for _, u := range s.udp {
		out = append(out, Bound{Service: u.service, Network: "udp", Addr: addrPort(u.pc.LocalAddr())})
	}
	return out
}

func (s *Sensor) closeListeners() {
	for _, l := range s.tcp {
		l.ln.Close()
	}
	for _, u := range s.udp {
		u.pc.Close()
	}
}

// Run serves until ctx is done, then stops gracefully: listeners close,
// every open connection stops reading at once and keeps what it received
// as its probe, and the writer stores everything before Run returns. The
// error is about the store only (a batch it refused); serving never fails.
func (s *Sensor) Run(ctx context.Context, sink Sink) error {
	if len(s.tcp)+len(s.udp) == 0 {
		if err := s.Bind(); err != nil {
			return err
		}
	}
	s.w = newWriter(sink, s.cfg, &s.stats)
	go s.w.run()
	for _, b := range s.Addrs() {
		s.cfg.Logger.Info("sensor: listening", "service", b.Service, "network", b.Network, "addr", b.Addr.String(), "sensor", s.cfg.Sensor)
	}
	var serving sync.WaitGroup
	for _, l := range s.tcp {
		serving.Add(1)
		go func() { defer serving.Done(); s.acceptLoop(l) }()
	}
	for _, u := range s.udp {
		serving.Add(1)
		go func() { defer serving.Done(); s.udpLoop(u) }()
	}
	reportDone := make(chan struct{})
	go s.reportLoop(ctx, reportDone)

	<-ctx.Done()
	s.mu.Lock()
	s.stopping.Store(true)
	now := time.Now()
	for c := range s.conns {
		c.SetReadDeadline(now)
	}
	s.mu.Unlock()
	s.closeListeners()
	serving.Wait()
	s.wg.Wait()
	err := s.w.close()
	<-reportDone
	s.report(true)
	return err
}

// Stats returns the counters so far.
func (s *Sensor) Stats() Stats { return s.stats.snapshot() }

// track registers a live connection so that a stop can cut its read short;
// it reports false when the sensor is stopping already.
func (s *Sensor) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Sensor) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Sensor) isStopping() bool { return s.stopping.Load() }

func (s *Sensor) acceptLoop(l *tcpListener) {
	backoff := time.Duration(0)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, do not spin.
			s.stats.acceptErrors.Add(1)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.stats.accepted.Add(1)
		src := addrPort(c.RemoteAddr())
		if v := s.lim.acquire(src.Addr(), time.Now()); v != admitted {
			s.stats.refused(v)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset: nothing of ours lingers for a flood
			}
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.handle(l, c, src)
	}
}

func (s *Sensor) handle(l *tcpListener, c net.Conn, src netip.AddrPort) {
	defer s.wg.Done()
	defer s.lim.release(src.Addr())
	defer c.Close()
	defer func() {
		if r := recover(); r != nil {
			s.stats.panics.Add(1)
			s.cfg.Logger.Error("sensor: recovered from a panic", "service", l.service, "src", src.String(), "panic", fmt.Sprint(r))
		}
	}()
	if !s.track(c) {
		return
	}
	defer s.untrack(c)
	cs := &session{s: s, l: l, c: c, src: src, dst: addrPort(c.LocalAddr())}
	cs.deadline = time.Now().Add(s.cfg.ReadTimeout)
	c.SetReadDeadline(cs.deadline)
	switch l.service {
	case HTTP:
		cs.serveHTTP()
	case TLS:
		cs.serveTLS()
	case DNS:
		cs.serveDNSTCP()
	case SSH:
		cs.serveSSH()
	case RDP:
		cs.serveRDP()
	}
}

// addrPort turns a net.Addr of ours into an AddrPort without IPv4-mapped
// forms, as capture stores addresses.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
