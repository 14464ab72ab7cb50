package capture

import (
	"net/netip"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// flowKey names a conversation independent of direction: endpoint a sorts
// before endpoint b.
type flowKey struct {
	a, b   netip.Addr
	pa, pb uint16
	udp    bool
}

func makeKey(p *packet) (k flowKey, fromA bool) {
	c := p.Src.Compare(p.Dst)
	if c < 0 || (c == 0 && p.SrcPort <= p.DstPort) {
		return flowKey{p.Src, p.Dst, p.SrcPort, p.DstPort, p.UDP}, true
	}
	return flowKey{p.Dst, p.Src, p.DstPort, p.SrcPort, p.UDP}, false
}

type flowState uint8

const (
	// waiting: no payload from the initiator yet.
	waiting flowState = iota
	// collecting: reassembling the initiator's first message.
	collecting
	// done: the first probe was emitted (or can never be: the capture
	// started after it); later payloads of this session are not probes.
	done
)

// segment is an out-of-order piece of the initiator's stream.
type segment struct {
	seq  uint32
	data []byte
}

// maxPendingSegments bounds out-of-order buffering per flow; together with
// probe.MaxPayload it bounds a flow's memory.
const maxPendingSegments = 16

type flow struct {
	key        flowKey
	clientIsA  bool
	state      flowState
	seqKnown   bool
	clientFIN  bool
	serverFIN  bool
	nextSeq    uint32
	buf        []byte
	pending    []segment
	firstTime  time.Time
	firstOff   int64
	firstFile  string
	lastSeen   time.Time
	prev, next *flow // intrusive LRU list, oldest first
}

// tracker follows sessions across all files of one extraction and emits the
// first probe of each. Its memory is bounded by maxFlows flows of at most
// probe.MaxPayload bytes each, evicting the least recently seen flows.
type tracker struct {
	opts       Options
	flows      map[flowKey]*flow
	head, tail *flow
	emit       func(probe.Probe) error
	file       string
	stats      *Stats
	now        time.Time
}

func newTracker(opts Options, stats *Stats, emit func(probe.Probe) error) *tracker {
	return &tracker{opts: opts, flows: make(map[flowKey]*flow), emit: emit, stats: stats}
}

func (t *tracker) unlink(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		t.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

func (t *tracker) pushBack(f *flow) {
	f.prev = t.tail
	if t.tail != nil {
		t.tail.next = f
	} else {
		t.head = f
	}
	t.tail = f
}

func (t *tracker) touch(f *flow, now time.Time) {
	f.lastSeen = now
	if t.tail != f {
		t.unlink(f)
		t.pushBack(f)
	}
}

func (t *tracker) add(k flowKey, clientIsA bool, now time.Time) *flow {
	f := &flow{key: k, clientIsA: clientIsA, lastSeen: now}
	t.flows[k] = f
	t.pushBack(f)
	return f
}

// remove forgets a flow, emitting what it collected.
func (t *tracker) remove(f *flow) error {
	err := t.finish(f)
	t.unlink(f)
	delete(t.flows, f.key)
	return err
}

// evict drops flows idle for longer than their timeout and, when the table is
// over its bound, the least recently seen ones.
func (t *tracker) evict(now time.Time) error {
	for f := t.head; f != nil; f = t.head {
		idle := t.opts.TCPIdle
		if f.key.udp {
			idle = t.opts.UDPIdle
		}
		if now.Sub(f.lastSeen) <= idle && len(t.flows) <= t.opts.MaxFlows {
			return nil
		}
		if len(t.flows) > t.opts.MaxFlows {
			t.stats.Evicted++
		}
		if err := t.remove(f); err != nil {
			return err
		}
	}
	return nil
}

func (t *tracker) isHoneypot(a netip.Addr) bool {
	for _, p := range t.opts.Honeypots {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// senderLooksLikeClient decides the direction of a conversation whose start
// was not captured: a payload a service recognises as a request comes from
// the client; otherwise the ephemeral (higher) port is the client's.
func (t *tracker) senderLooksLikeClient(p *packet) bool {
	if len(t.opts.Honeypots) > 0 {
		return !t.isHoneypot(p.Src)
	}
	tr := probe.TCP
	if p.UDP {
		tr = probe.UDP
	}
	if len(p.Payload) > 0 {
		// A request says who the client is, unless the service's server
		// speaks the same way first (an SSH identification line).
		if svc := probe.Classify(p.Payload, tr, p.DstPort); svc != nil && !probe.SpeaksFirst(svc) {
			return true
		}
	}
	return p.SrcPort > p.DstPort
}

func (t *tracker) handle(p *packet) error {
	t.stats.Packets++
	if p.Time.After(t.now) {
		t.now = p.Time
	}
	if err := t.evict(t.now); err != nil {
		return err
	}
	if p.UDP {
		return t.handleUDP(p)
	}
	return t.handleTCP(p)
}

func (t *tracker) handleUDP(p *packet) error {
	k, fromA := makeKey(p)
	f := t.flows[k]
	if f != nil && p.Time.Sub(f.lastSeen) > t.opts.UDPIdle {
		if err := t.remove(f); err != nil {
			return err
		}
		f = nil
	}
	if f != nil {
		t.touch(f, p.Time)
		return nil
	}
	if len(p.Payload) == 0 {
		return nil
	}
	client := t.senderLooksLikeClient(p)
	f = t.add(k, fromA == client, p.Time)
	t.stats.Sessions++
	if !client || t.isHoneypot(p.Src) {
		f.state = done
		return nil
	}
	f.state = collecting
	f.buf = append(f.buf, capPayload(p.Payload)...)
	f.firstTime, f.firstOff, f.firstFile = p.Time, p.Offset, t.file
	return t.finish(f)
}

func capPayload(b []byte) []byte {
	if len(b) > probe.MaxPayload {
		return b[:probe.MaxPayload]
	}
	return b
}

func (t *tracker) handleTCP(p *packet) error {
	k, fromA := makeKey(p)
	f := t.flows[k]
	if p.SYN && !p.ACK {
		// A new SYN on a finished flow starts a new session (port reuse).
		if f != nil && (f.state == done || !f.seqKnown || f.nextSeq != p.Seq+1) {
			if err := t.remove(f); err != nil {
				return err
			}
			f = nil
		}
		if f == nil {
			f = t.add(k, fromA, p.Time)
			t.stats.Sessions++
			f.seqKnown, f.nextSeq = true, p.Seq+1
			if t.isHoneypot(p.Src) {
				f.state = done // the honeypot's own outgoing connection
			}
		}
		t.touch(f, p.Time)
		return nil
	}
	if f == nil {
		if t.opts.RequireHandshake {
			return nil
		}
		switch {
		case p.SYN && p.ACK:
			// The SYN was missed but the SYN-ACK tells us who the client is
			// and, through its acknowledgement, where the client's data starts.
			f = t.add(k, !fromA, p.Time)
			f.seqKnown, f.nextSeq = true, p.Ack
			t.stats.Sessions++
			return nil
		case len(p.Payload) == 0 || p.RST:
			return nil // no state for bare ACKs, FINs and backscatter
		}
		client := t.senderLooksLikeClient(p)
		f = t.add(k, fromA == client, p.Time)
		t.stats.Sessions++
		t.stats.Midstream++
		if !client && !t.speaksFirst(p) {
			f.state = done // we missed the request this reply answers
		}
	}
	t.touch(f, p.Time)
	fromClient := fromA == f.clientIsA
	if p.SYN && p.ACK && fromClient == false && !f.seqKnown {
		f.seqKnown, f.nextSeq = true, p.Ack
	}
	if fromClient && len(p.Payload) > 0 && f.state != done {
		if err := t.addSegment(f, p); err != nil {
			return err
		}
	} else if !fromClient && len(p.Payload) > 0 && f.state == collecting && !t.serverTalks(f) {
		// The honeypot answered: whatever the client sent so far is the
		// whole first message as far as the server was concerned.
		if err := t.finish(f); err != nil {
			return err
		}
	}
	switch {
	case p.RST:
		return t.remove(f)
	case p.FIN:
		// A half-closed connection can still carry the other side's data,
		// so the session ends only when both sides have closed.
		if fromClient {
			f.clientFIN = true
		} else {
			f.serverFIN = true
		}
		if f.clientFIN && f.serverFIN {
			return t.remove(f)
		}
		return t.finish(f)
	}
	return nil
}

// addSegment reassembles the initiator's stream in sequence order; bytes
// already seen (retransmissions) are counted once.
func (t *tracker) addSegment(f *flow, p *packet) error {
	if f.state == waiting {
		f.state = collecting
		f.firstTime, f.firstOff, f.firstFile = p.Time, p.Offset, t.file
		if !f.seqKnown {
			f.seqKnown, f.nextSeq = true, p.Seq
		}
	}
	data, seq := p.Payload, p.Seq
	if p.NoSeq {
		seq = f.nextSeq // payload logs keep no sequence numbers: rows arrive in order
	}
	rel := int32(seq - f.nextSeq)
	if rel < 0 {
		if int(-rel) >= len(data) {
			t.stats.Retransmissions++
			return nil
		}
		data, rel = data[-rel:], 0
	}
	if rel > 0 {
		if int(rel)+len(data) > probe.MaxPayload {
			return nil // past what a first probe keeps
		}
		if len(f.pending) < maxPendingSegments && pendingBytes(f)+len(data) <= probe.MaxPayload {
			f.pending = append(f.pending, segment{seq, append([]byte(nil), data...)})
		} else {
			t.stats.DroppedSegments++
		}
		return nil
	}
	t.appendInOrder(f, data)
	for progressed := true; progressed; {
		progressed = false
		for i := 0; i < len(f.pending); i++ {
			s := f.pending[i]
			r := int32(s.seq - f.nextSeq)
			if r > 0 {
				continue
			}
			if int(-r) < len(s.data) {
				t.appendInOrder(f, s.data[-r:])
			}
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			progressed = true
			break
		}
	}
	if t.complete(f) {
		return t.finish(f)
	}
	return nil
}

// pendingBytes is what a flow holds out of order; with the in-order buffer
// it bounds the flow's memory at 2 * probe.MaxPayload.
func pendingBytes(f *flow) int {
	n := 0
	for _, s := range f.pending {
		n += len(s.data)
	}
	return n
}

func (t *tracker) appendInOrder(f *flow, data []byte) {
	room := probe.MaxPayload - len(f.buf)
	if len(data) > room {
		data = data[:room]
		t.stats.Truncated++
	}
	f.buf = append(f.buf, data...)
	f.nextSeq += uint32(len(data))
}

func (t *tracker) complete(f *flow) bool {
	return probe.FirstMessageComplete(f.buf, probe.TCP, t.serverPort(f))
}

// speaksFirst reports a server payload of a protocol whose server talks
// first (an SSH banner): it answers nothing, so the client's first message
// may still come.
func (t *tracker) speaksFirst(p *packet) bool {
	svc := probe.Classify(p.Payload, probe.TCP, p.SrcPort)
	return svc != nil && probe.SpeaksFirst(svc)
}

// serverTalks reports a flow whose client speaks a protocol whose server
// talks on its own (SSH): the server's identification and KEXINIT answer
// nothing, so they do not end the client's first message.
func (t *tracker) serverTalks(f *flow) bool {
	svc := probe.Classify(f.buf, probe.TCP, t.serverPort(f))
	return svc != nil && probe.SpeaksFirst(svc)
}

func (t *tracker) serverPort(f *flow) uint16 {
	if f.clientIsA {
		return f.key.pb
	}
	return f.key.pa
}

// finish emits the flow's first probe if it has one and marks it done.
func (t *tracker) finish(f *flow) error {
	if f.state != collecting || len(f.buf) == 0 {
		if f.state == collecting {
			f.state = done
		}
		return nil
	}
	f.state = done
	pr := probe.Probe{
		Time:       f.firstTime,
		SrcPort:    f.key.pa,
		DstPort:    f.key.pb,
		SrcIP:      f.key.a,
		DstIP:      f.key.b,
		Transport:  probe.TCP,
		Sensor:     t.opts.Sensor,
		Payload:    f.buf,
		SourceFile: f.firstFile,
		Offset:     f.firstOff,
	}
	if !f.clientIsA {
		pr.SrcIP, pr.DstIP, pr.SrcPort, pr.DstPort = f.key.b, f.key.a, f.key.pb, f.key.pa
	}
	if f.key.udp {
		pr.Transport = probe.UDP
	}
	probe.Describe(&pr)
	f.buf, f.pending = nil, nil
	t.stats.count(pr.Service)
	return t.emit(pr)
}

// flush emits every flow still collecting, at the end of the input.
func (t *tracker) flush() error {
	for f := t.head; f != nil; f = t.head {
		if err := t.remove(f); err != nil {
			return err
		}
	}
	return nil
}
