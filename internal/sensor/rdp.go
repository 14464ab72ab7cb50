package sensor

import (
	"encoding/binary"
)

// RDP negotiation (MS-RDPBCGR 2.2.1.1, 2.2.1.2): the client's X.224
// Connection Request may end with an RDP_NEG_REQ naming the security
// protocols it supports; the Connection Confirm answers with an
// RDP_NEG_RSP naming the one chosen.
const (
	tpktVersion    = 3
	x224CR         = 0xe0
	x224CC         = 0xd0
	rdpNegReq      = 0x01
	rdpNegRsp      = 0x02
	protocolRDP    = 0
	protocolSSL    = 1
	protocolHybrid = 2
	// negRspFlags: extended client data, graphics pipeline and restricted
	// admin mode supported, as a current Windows server answers.
	negRspFlags = 0x0b
)

// serveRDP reads the Connection Request (one TPKT) and answers it with a
// Connection Confirm; the probe is the TPKT as sent.
func (cs *session) serveRDP() {
	defer cs.release()
	p := cs.readFirst(cs.rdpDone)
	if p == nil {
		return
	}
	if cc := connectionConfirm(cs.buf); cc != nil {
		cs.write(cc)
	}
}

// rdpDone: the TPKT whose header starts the bytes arrived whole. The
// registered rdp service decides when there is one; other bytes are cut by
// the ordinary first-message rule.
func (cs *session) rdpDone(b []byte) bool {
	if cs.l.svc != nil {
		return cs.complete(b)
	}
	if b[0] != tpktVersion {
		return cs.complete(b)
	}
	if len(b) < 4 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	return n < 4 || len(b) >= n
}

// connectionConfirm answers a Connection Request, or returns nil when b is
// none. It picks TLS when the client offers it (as a server without NLA
// does), else CredSSP when offered, else standard RDP security; a request
// without RDP_NEG_REQ gets a confirm without RDP_NEG_RSP.
func connectionConfirm(b []byte) []byte {
	if len(b) < 11 || b[0] != tpktVersion {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 11 || n > len(b) {
		return nil
	}
	tpdu := b[4:n]
	li := int(tpdu[0])
	if tpdu[1]&0xf0 != x224CR || li+1 > len(tpdu) || li < 6 {
		return nil
	}
	v := tpdu[7 : li+1] // variable part: cookie or token, then RDP_NEG_REQ
	var requested uint32
	hasNeg := false
	if k := len(v) - 8; k >= 0 && v[k] == rdpNegReq && binary.LittleEndian.Uint16(v[k+2:]) == 8 {
		hasNeg = true
		requested = binary.LittleEndian.Uint32(v[k+4:])
	}
	srcRef := []byte{0x12, 0x34}
	if !hasNeg {
		return []byte{tpktVersion, 0, 0, 11, 6, x224CC, 0, 0, srcRef[0], srcRef[1], 0}
	}
	selected := uint32(protocolRDP)
	switch {
	case requested&protocolSSL != 0:
		selected = protocolSSL
	case requested&protocolHybrid != 0:
		selected = protocolHybrid
	}
	out := []byte{tpktVersion, 0, 0, 19, 14, x224CC, 0, 0, srcRef[0], srcRef[1], 0, rdpNegRsp, negRspFlags, 8, 0}
	return binary.LittleEndian.AppendUint32(out, selected)
}
