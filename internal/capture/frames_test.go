package capture

import (
	"bytes"
	"compress/gzip"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// seg describes one packet of a synthetic conversation.
type seg struct {
	src, dst      string
	sport, dport  uint16
	udp           bool
	syn, ack, fin bool
	rst           bool
	seq, ackNo    uint32
	payload       []byte
	at            time.Duration // offset from the capture start
}

var t0 = time.Date(2024, 2, 1, 7, 19, 9, 0, time.UTC)

// ipLayers returns the network layer for a segment and its transport's
// checksum hook.
func ipLayers(s seg) (gopacket.SerializableLayer, gopacket.LayerType, func(gopacket.SerializableLayer)) {
	src, dst := net.ParseIP(s.src), net.ParseIP(s.dst)
	proto := layers.IPProtocolTCP
	if s.udp {
		proto = layers.IPProtocolUDP
	}
	if src.To4() != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.To4(), DstIP: dst.To4()}
		return ip, layers.LayerTypeIPv4, func(l gopacket.SerializableLayer) { setNet(l, ip) }
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	return ip, layers.LayerTypeIPv6, func(l gopacket.SerializableLayer) { setNet(l, ip) }
}

func setNet(l gopacket.SerializableLayer, nl gopacket.NetworkLayer) {
	switch t := l.(type) {
	case *layers.TCP:
		t.SetNetworkLayerForChecksum(nl)
	case *layers.UDP:
		t.SetNetworkLayerForChecksum(nl)
	}
}

// frame serialises a segment for a link type, optionally inside a VLAN tag.
func frame(t testing.TB, link layers.LinkType, s seg, vlan bool) []byte {
	t.Helper()
	ipl, ipType, fix := ipLayers(s)
	var l4 gopacket.SerializableLayer
	if s.udp {
		l4 = &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
	} else {
		l4 = &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), SYN: s.syn, ACK: s.ack,
			FIN: s.fin, RST: s.rst, Seq: s.seq, Ack: s.ackNo, Window: 65535}
	}
	fix(l4)
	eth := layers.EthernetTypeIPv4
	if ipType == layers.LayerTypeIPv6 {
		eth = layers.EthernetTypeIPv6
	}
	var stack []gopacket.SerializableLayer
	switch link {
	case layers.LinkTypeEthernet:
		e := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: eth}
		if vlan {
			e.EthernetType = layers.EthernetTypeDot1Q
			stack = append(stack, e, &layers.Dot1Q{VLANIdentifier: 42, Type: eth})
		} else {
			stack = append(stack, e)
		}
	case layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2:
		// gopacket cannot serialise cooked headers; they are prepended below.
	case layers.LinkTypeNull:
		fam := layers.ProtocolFamilyIPv4
		if ipType == layers.LayerTypeIPv6 {
			fam = layers.ProtocolFamilyIPv6Linux
		}
		stack = append(stack, &layers.Loopback{Family: fam})
	case layers.LinkTypeRaw:
	default:
		t.Fatalf("no frame builder for link type %v", link)
	}
	stack = append(stack, ipl, l4, gopacket.Payload(s.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, stack...); err != nil {
		t.Fatal(err)
	}
	var hdr []byte
	switch link {
	case layers.LinkTypeLinuxSLL:
		// packet type, ARPHRD_ETHER, address length, 8 address bytes, protocol
		hdr = []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, byte(eth >> 8), byte(eth)}
	case layers.LinkTypeLinuxSLL2:
		// protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, 8 address bytes
		hdr = []byte{byte(eth >> 8), byte(eth), 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	}
	return append(hdr, buf.Bytes()...)
}

// writePcap writes segments as a classic pcap (or pcapng) file.
func writePcap(t testing.TB, path string, link layers.LinkType, segs []seg, opts ...string) {
	t.Helper()
	var raw bytes.Buffer
	vlan, ng, gz := false, false, false
	for _, o := range opts {
		switch o {
		case "vlan":
			vlan = true
		case "pcapng":
			ng = true
		case "gzip":
			gz = true
		}
	}
	write := func(ci gopacket.CaptureInfo, data []byte) error { return nil }
	var ngw *pcapgo.NgWriter
	if ng {
		w, err := pcapgo.NewNgWriter(&raw, link)
		if err != nil {
			t.Fatal(err)
		}
		ngw = w
		write = w.WritePacket
	} else {
		w := pcapgo.NewWriter(&raw)
		if err := w.WriteFileHeader(65535, link); err != nil {
			t.Fatal(err)
		}
		write = w.WritePacket
	}
	for _, s := range segs {
		data := frame(t, link, s, vlan)
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(s.at), CaptureLength: len(data), Length: len(data)}
		if err := write(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if ngw != nil {
		ngw.Flush()
	}
	out := raw.Bytes()
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(out)
		zw.Close()
		out = z.Bytes()
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tcpSession builds a full conversation: handshake, the client's payload
// split into the given pieces, a server reply and a FIN exchange.
func tcpSession(client, server string, cport, sport uint16, at time.Duration, pieces ...[]byte) []seg {
	cseq, sseq := uint32(1000), uint32(5000)
	out := []seg{
		{src: client, dst: server, sport: cport, dport: sport, syn: true, seq: cseq, at: at},
		{src: server, dst: client, sport: sport, dport: cport, syn: true, ack: true, seq: sseq, ackNo: cseq + 1, at: at + time.Millisecond},
		{src: client, dst: server, sport: cport, dport: sport, ack: true, seq: cseq + 1, ackNo: sseq + 1, at: at + 2*time.Millisecond},
	}
	next := cseq + 1
	for i, p := range pieces {
		out = append(out, seg{src: client, dst: server, sport: cport, dport: sport, ack: true, seq: next, ackNo: sseq + 1, payload: p, at: at + time.Duration(3+i)*time.Millisecond})
		next += uint32(len(p))
	}
	reply := []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	out = append(out,
		seg{src: server, dst: client, sport: sport, dport: cport, ack: true, seq: sseq + 1, ackNo: next, payload: reply, at: at + 20*time.Millisecond},
		seg{src: client, dst: server, sport: cport, dport: sport, ack: true, fin: true, seq: next, ackNo: sseq + 1 + uint32(len(reply)), at: at + 21*time.Millisecond},
		seg{src: server, dst: client, sport: sport, dport: cport, ack: true, fin: true, seq: sseq + 1 + uint32(len(reply)), ackNo: next + 1, at: at + 22*time.Millisecond},
	)
	return out
}

func tempPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
