package simulate

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

const mss = 1460

var (
	// The capture is taken on the honeypot's interface: scanner traffic
	// arrives from the upstream router's MAC.
	routerMAC   = net.HardwareAddr{0x00, 0x1c, 0x73, 0x00, 0x00, 0x01}
	honeypotMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

// packet is one frame to write, ordered by time then by creation.
type packet struct {
	ts   int64
	seq  int
	data []byte
}

// packetWriter serialises the packets of one day.
type packetWriter struct {
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
	out  []packet
}

func newPacketWriter() *packetWriter {
	return &packetWriter{
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
}

func (w *packetWriter) emit(ts int64, ls ...gopacket.SerializableLayer) error {
	if err := gopacket.SerializeLayers(w.buf, w.opts, ls...); err != nil {
		return err
	}
	w.out = append(w.out, packet{ts: ts, seq: len(w.out), data: slices.Clone(w.buf.Bytes())})
	return nil
}

// tcpFlags selects the flags of one segment.
type tcpFlags struct{ syn, ack, psh, fin, rst bool }

// addSession appends every frame of one session: the TCP handshake, the
// probe (split and retransmitted as drawn), the honeypot's reply, the close;
// or a UDP query and its response.
func (w *packetWriter) addSession(s *session) error {
	sh := s.shape
	src, dst := s.scanner.ip.AsSlice(), s.dst.AsSlice()
	ipID := sh.ipID
	fromScanner := func(ts int64, proto layers.IPProtocol, l4 gopacket.SerializableLayer, payload []byte) error {
		eth := &layers.Ethernet{SrcMAC: routerMAC, DstMAC: honeypotMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: sh.ttl, Protocol: proto, SrcIP: src, DstIP: dst, Id: ipID}
		ipID++
		return w.emitL4(ts, eth, ip, l4, payload)
	}
	hpID := uint16(sh.serverISN >> 16)
	fromHoneypot := func(ts int64, proto layers.IPProtocol, l4 gopacket.SerializableLayer, payload []byte) error {
		eth := &layers.Ethernet{SrcMAC: honeypotMAC, DstMAC: routerMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: dst, DstIP: src, Id: hpID, Flags: layers.IPv4DontFragment}
		hpID++
		return w.emitL4(ts, eth, ip, l4, payload)
	}
	if transports[s.service] == probe.UDP {
		t := s.synTime
		if err := fromScanner(t, layers.IPProtocolUDP, &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}, s.payload); err != nil {
			return err
		}
		return fromHoneypot(t+sh.serverDelay, layers.IPProtocolUDP, &layers.UDP{SrcPort: layers.UDPPort(s.dport), DstPort: layers.UDPPort(s.sport)}, s.reply)
	}
	cseq, hseq := sh.clientISN, sh.serverISN
	seg := func(fromS bool, ts int64, seq, ack uint32, f tcpFlags, payload []byte) error {
		t := &layers.TCP{Seq: seq, Ack: ack, SYN: f.syn, ACK: f.ack, PSH: f.psh, FIN: f.fin, RST: f.rst, Window: sh.window}
		if f.syn {
			t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{mss >> 8, mss & 0xff}}}
		}
		if fromS {
			t.SrcPort, t.DstPort = layers.TCPPort(s.sport), layers.TCPPort(s.dport)
			return fromScanner(ts, layers.IPProtocolTCP, t, payload)
		}
		t.SrcPort, t.DstPort = layers.TCPPort(s.dport), layers.TCPPort(s.sport)
		t.Window = 65160
		return fromHoneypot(ts, layers.IPProtocolTCP, t, payload)
	}
	half := sh.rtt / 2
	t := s.synTime
	steps := []func() error{
		func() error { return seg(true, t, cseq, 0, tcpFlags{syn: true}, nil) },
		func() error { return seg(false, t+50, hseq, cseq+1, tcpFlags{syn: true, ack: true}, nil) },
		func() error { return seg(true, t+sh.rtt, cseq+1, hseq+1, tcpFlags{ack: true}, nil) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if len(s.banner) > 0 {
		// A server that speaks first (SSH) sends its banner as soon as the
		// handshake is done; the client's segments acknowledge it.
		if err := seg(false, t+sh.rtt+30, hseq+1, cseq+1, tcpFlags{ack: true, psh: true}, s.banner); err != nil {
			return err
		}
		hseq += uint32(len(s.banner))
	}
	// Payload segments, as the scanner sent them (MSS-sized, or split in
	// two where the drawn shape says so).
	t = s.probeTime
	var chunks [][]byte
	rest := s.payload
	if sh.split > 0 && sh.split < len(rest) {
		chunks = append(chunks, rest[:sh.split])
		rest = rest[sh.split:]
	}
	for len(rest) > 0 {
		n := min(len(rest), mss)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	next := cseq + 1
	for i, c := range chunks {
		if i > 0 {
			t += sh.splitGap
		}
		if err := seg(true, t, next, hseq+1, tcpFlags{ack: true, psh: i == len(chunks)-1}, c); err != nil {
			return err
		}
		if i == 0 && sh.retransmit {
			// The honeypot's ACK was lost: the scanner resends the first
			// segment after its retransmission timeout.
			if err := seg(true, t+sh.rto, next, hseq+1, tcpFlags{ack: true, psh: len(chunks) == 1}, c); err != nil {
				return err
			}
			t += sh.rto
		}
		next += uint32(len(c))
	}
	// Honeypot: ACK, reply, and the close.
	t += sh.serverDelay
	if err := seg(false, t, hseq+1, next, tcpFlags{ack: true}, nil); err != nil {
		return err
	}
	t += 30
	if err := seg(false, t, hseq+1, next, tcpFlags{ack: true, psh: true}, s.reply); err != nil {
		return err
	}
	hnext := hseq + 1 + uint32(len(s.reply))
	t += sh.rtt
	switch {
	case sh.closeWithRST:
		return seg(true, t, next, 0, tcpFlags{rst: true}, nil)
	case sh.serverClosesFirst:
		if err := seg(false, t-sh.rtt+40, hnext, next, tcpFlags{fin: true, ack: true}, nil); err != nil {
			return err
		}
		if err := seg(true, t+10, next, hnext+1, tcpFlags{fin: true, ack: true}, nil); err != nil {
			return err
		}
		return seg(false, t+half+sh.rtt/2+60, hnext+1, next+1, tcpFlags{ack: true}, nil)
	default:
		if err := seg(true, t, next, hnext, tcpFlags{fin: true, ack: true}, nil); err != nil {
			return err
		}
		if err := seg(false, t+40, hnext, next+1, tcpFlags{fin: true, ack: true}, nil); err != nil {
			return err
		}
		return seg(true, t+40+sh.rtt, next+1, hnext+1, tcpFlags{ack: true}, nil)
	}
}

func (w *packetWriter) emitL4(ts int64, eth *layers.Ethernet, ip *layers.IPv4, l4 gopacket.SerializableLayer, payload []byte) error {
	switch l := l4.(type) {
	case *layers.TCP:
		if err := l.SetNetworkLayerForChecksum(ip); err != nil {
			return err
		}
	case *layers.UDP:
		if err := l.SetNetworkLayerForChecksum(ip); err != nil {
			return err
		}
	}
	return w.emit(ts, eth, ip, l4, gopacket.Payload(payload))
}

// writeDay writes one classic pcap with the day's frames in time order.
func writeDay(path string, sessions []*session) (int, error) {
	w := newPacketWriter()
	for _, s := range sessions {
		if err := w.addSession(s); err != nil {
			return 0, fmt.Errorf("session %s:%d: %w", s.scanner.ip, s.sport, err)
		}
	}
	slices.SortStableFunc(w.out, func(a, b packet) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return a.seq - b.seq
	})
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return 0, err
	}
	for _, p := range w.out {
		ci := gopacket.CaptureInfo{Timestamp: time.UnixMicro(p.ts).UTC(), CaptureLength: len(p.data), Length: len(p.data)}
		if err := pw.WritePacket(ci, p.data); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return len(w.out), f.Close()
}
