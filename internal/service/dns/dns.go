// Package dns recognises and parses the first DNS query of a session, over
// UDP (the datagram is the message) or TCP (a 2-byte length prefix, RFC 1035
// §4.2.2).
//
// Fields (docs/formats.md §2), every integer as a decimal string: the header
// (id, qr, opcode, aa, tc, rd, ra, z, ad, cd, rcode, qdcount, ancount,
// nscount, arcount), then the first question (qname, qtype, qclass) and edns
// ("1" when the additional section holds an OPT record).
//
// qname is kept as sent: scanners differ in case (VERSION.BIND vs
// version.bind, 0x20 randomisation), so no case folding. It has no trailing
// dot; the root is ".". Bytes outside printable ASCII are written \DDD
// (decimal, the zone-file convention) and a backslash as \\, so the value is
// plain text that JSON round-trips.
package dns

import (
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Field names (docs/formats.md §2), in the order Parse emits them.
const (
	FieldID      = "id"
	FieldQR      = "qr"
	FieldOpcode  = "opcode"
	FieldAA      = "aa"
	FieldTC      = "tc"
	FieldRD      = "rd"
	FieldRA      = "ra"
	FieldZ       = "z"
	FieldAD      = "ad"
	FieldCD      = "cd"
	FieldRcode   = "rcode"
	FieldQDCount = "qdcount"
	FieldANCount = "ancount"
	FieldNSCount = "nscount"
	FieldARCount = "arcount"
	FieldQName   = "qname"
	FieldQType   = "qtype"
	FieldQClass  = "qclass"
	FieldEDNS    = "edns"
)

// IntFieldWidths is the bit width of every int field, for the semantic
// encoder (one pixel per bit). qname, the only string field, is absent.
var IntFieldWidths = map[string]int{
	FieldID: 16, FieldQR: 1, FieldOpcode: 4,
	FieldAA: 1, FieldTC: 1, FieldRD: 1, FieldRA: 1, FieldZ: 1, FieldAD: 1, FieldCD: 1,
	FieldRcode:   4,
	FieldQDCount: 16, FieldANCount: 16, FieldNSCount: 16, FieldARCount: 16,
	FieldQType: 16, FieldQClass: 16, FieldEDNS: 1,
}

// certainPorts are where a well-formed query can only be DNS: DNS, mDNS and
// LLMNR.
var certainPorts = map[uint16]bool{53: true, 5353: true, 5355: true}

// Service is the DNS probe.Service.
type Service struct{}

// New returns the DNS service.
func New() probe.Service { return Service{} }

// Name implements probe.Service.
func (Service) Name() string { return "dns" }

// Detect implements probe.Service. It claims only payloads that parse as a
// query with a plausible header and a question, so random binary probes on
// port 53 stay "other".
func (Service) Detect(payload []byte, transport probe.Transport, dstPort uint16) probe.Confidence {
	msg, err := messageBytes(payload, transport)
	if err != nil {
		return probe.NotMine
	}
	if !plausibleQuery(msg, transport == probe.TCP && len(msg) < declaredLength(payload, transport)) {
		return probe.NotMine
	}
	if certainPorts[dstPort] {
		return probe.Certain
	}
	return probe.ByContent
}

// Complete implements probe.Service: a datagram is always whole; a TCP
// message is whole once the length its prefix announces has arrived.
func (Service) Complete(payload []byte, transport probe.Transport) bool {
	if transport != probe.TCP || len(payload) >= probe.MaxPayload {
		return true
	}
	return len(payload) >= 2 && len(payload) >= declaredLength(payload, transport)+2
}

// Parse implements probe.Service.
func (Service) Parse(payload []byte, transport probe.Transport) (probe.Fields, error) {
	msg, err := messageBytes(payload, transport)
	if err != nil {
		return nil, err
	}
	return ParseMessage(msg)
}

// Kind implements probe.Service: qname is a string, everything else an int.
func (Service) Kind(field string) probe.Kind {
	if field == FieldQName {
		return probe.KindString
	}
	return probe.KindInt
}
