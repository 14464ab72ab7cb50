// Package rdp recognises and parses the first message of an RDP client: the
// X.224 Connection Request (ITU-T X.224 §13.3) carried in a TPKT (RFC 1006),
// with the optional routing token or cookie and RDP Negotiation Request of
// [MS-RDPBCGR] §2.2.1.1.
//
// Fields (docs/formats.md §2), in wire order, integers as decimal:
//
//   - tpkt_length, x224_code (the TPDU code byte: 0xE0 and the credit),
//     dst_ref, src_ref, class_option;
//   - cookie: the user name of a "Cookie: mstshash=NAME" line, or
//     routing_token: any other line the client put there ("Cookie:
//     msts=..." of a load balancer); both without the CRLF;
//   - neg_request: "RDP_NEG_REQ" when the negotiation request is there,
//     "absent" when the message ends without one (an old client or a bare
//     probe), "type N" for another structure;
//   - neg_flags and neg_flags_names, neg_length, requested_protocols and
//     requested_protocols_names (SSL, HYBRID, RDSTLS, HYBRID_EX, RDSAAD;
//     RDP for 0, standard RDP security; 0xN for an unassigned bit);
//   - correlation_id: the hex of an RDP_CORRELATION_INFO's id;
//   - trailing: the hex of bytes after all of that (at most TrailingCap).
//
// Text is written with bytes outside printable ASCII, and the backslash,
// as \xNN, so every value is plain text that JSON round-trips.
package rdp

import (
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Field names (docs/formats.md §2), in the order Parse emits them.
const (
	FieldTPKTLength          = "tpkt_length"
	FieldX224Code            = "x224_code"
	FieldDstRef              = "dst_ref"
	FieldSrcRef              = "src_ref"
	FieldClassOption         = "class_option"
	FieldCookie              = "cookie"
	FieldRoutingToken        = "routing_token"
	FieldNegRequest          = "neg_request"
	FieldNegFlags            = "neg_flags"
	FieldNegFlagsNames       = "neg_flags_names"
	FieldNegLength           = "neg_length"
	FieldRequestedProtocols  = "requested_protocols"
	FieldRequestedProtoNames = "requested_protocols_names"
	FieldCorrelationID       = "correlation_id"
	FieldTrailing            = "trailing"
)

// IntFieldWidths is the bit width of every int field.
var IntFieldWidths = map[string]int{
	FieldTPKTLength: 16, FieldX224Code: 8, FieldDstRef: 16, FieldSrcRef: 16, FieldClassOption: 8,
	FieldNegFlags: 8, FieldNegLength: 16, FieldRequestedProtocols: 32,
}

const (
	// tpktHeader is the TPKT header's size; crFixed the X.224 CR's fixed
	// part (LI, code, DST-REF, SRC-REF, class).
	tpktHeader = 4
	crFixed    = 7
	// codeCR is the high nibble of a Connection Request's code byte.
	codeCR = 0xe0
	// TrailingCap bounds the trailing field, in payload bytes.
	TrailingCap = 64
	// Port is RDP's port.
	Port = 3389
)

// Service is the RDP probe.Service.
type Service struct{}

// New returns the RDP service.
func New() probe.Service { return Service{} }

// Name implements probe.Service.
func (Service) Name() string { return "rdp" }

// Detect implements probe.Service: a TPKT version 3 whose length covers at
// least a Connection Request, an X.224 length indicator that agrees with it
// and a CR code is an RDP connection request on any port; on 3389 it is
// certain.
func (Service) Detect(payload []byte, transport probe.Transport, dstPort uint16) probe.Confidence {
	if transport != probe.TCP || !crShape(payload) {
		return probe.NotMine
	}
	if dstPort == Port {
		return probe.Certain
	}
	return probe.ByContent
}

func crShape(b []byte) bool {
	if len(b) < 6 || b[0] != 3 || b[1] != 0 {
		return false
	}
	l := int(b[2])<<8 | int(b[3])
	return l >= tpktHeader+crFixed && int(b[4]) == l-tpktHeader-1 && b[5]&0xf0 == codeCR
}

// Complete implements probe.Service: the TPKT's announced length has
// arrived, or the header says it never will.
func (Service) Complete(payload []byte, _ probe.Transport) bool {
	if len(payload) >= probe.MaxPayload {
		return true
	}
	if len(payload) < tpktHeader {
		return false
	}
	if payload[0] != 3 {
		return true
	}
	return len(payload) >= int(payload[2])<<8|int(payload[3])
}

// Parse implements probe.Service.
func (Service) Parse(payload []byte, _ probe.Transport) (probe.Fields, error) {
	return ParseRequest(payload)
}

// Kind implements probe.Service from the encoding rules.
func (Service) Kind(field string) probe.Kind {
	return Service{}.Encoding().RuleFor(field).Kind
}
