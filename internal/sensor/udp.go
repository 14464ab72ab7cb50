package sensor

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpEndpoint reads datagrams with the address each was sent to. A socket
// bound to a wildcard address learns it from IP_PKTINFO (IPV6_RECVPKTINFO)
// and answers from it, so the stored dst_ip is the sensor's real address,
// as in a capture, and a multi-homed sensor answers from the address asked.
type udpEndpoint struct {
	pc    *net.UDPConn
	bound netip.AddrPort
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
}

func newUDPEndpoint(pc *net.UDPConn) *udpEndpoint {
	e := &udpEndpoint{pc: pc, bound: addrPort(pc.LocalAddr())}
	if !e.bound.Addr().IsUnspecified() {
		return e
	}
	if e.bound.Addr().Is4() {
		p := ipv4.NewPacketConn(pc)
		if p.SetControlMessage(ipv4.FlagDst, true) == nil {
			e.p4 = p
		}
	} else {
		p := ipv6.NewPacketConn(pc)
		if p.SetControlMessage(ipv6.FlagDst, true) == nil {
			e.p6 = p
		}
	}
	return e
}

// read returns one datagram's length, sender and destination.
func (e *udpEndpoint) read(b []byte) (n int, src, dst netip.AddrPort, err error) {
	dst = e.bound
	var from net.Addr
	switch {
	case e.p4 != nil:
		var cm *ipv4.ControlMessage
		if n, cm, from, err = e.p4.ReadFrom(b); cm != nil {
			dst = e.dstOf(cm.Dst)
		}
	case e.p6 != nil:
		var cm *ipv6.ControlMessage
		if n, cm, from, err = e.p6.ReadFrom(b); cm != nil {
			dst = e.dstOf(cm.Dst)
		}
	default:
		var ap netip.AddrPort
		n, ap, err = e.pc.ReadFromUDPAddrPort(b)
		return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), dst, err
	}
	if err != nil {
		return n, src, dst, err
	}
	return n, addrPort(from), dst, nil
}

// dstOf is the destination a control message names, or the bound address.
func (e *udpEndpoint) dstOf(ip net.IP) netip.AddrPort {
	if a, ok := netip.AddrFromSlice(ip); ok {
		return netip.AddrPortFrom(a.Unmap(), e.bound.Port())
	}
	return e.bound
}

// write answers to from the address the datagram was sent to.
func (e *udpEndpoint) write(b []byte, from, to netip.AddrPort) error {
	ua := net.UDPAddrFromAddrPort(to)
	var err error
	switch {
	case e.p4 != nil:
		_, err = e.p4.WriteTo(b, &ipv4.ControlMessage{Src: from.Addr().AsSlice()}, ua)
	case e.p6 != nil:
		src := from.Addr().As16() // v4-mapped on a dual-stack socket
		if to.Addr().Is4() {
			ua = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port()))
		}
		_, err = e.p6.WriteTo(b, &ipv6.ControlMessage{Src: src[:]}, ua)
	default:
		_, err = e.pc.WriteToUDPAddrPort(b, to)
	}
	return err
}
