// Package http recognises and parses the first request a scanner sends to an
// HTTP-like listener: HTTP/0.9–1.1, and the HTTP-shaped protocols scanners
// throw at web ports (RTSP, SIP, CONNECT tunnels).
//
// The parser is hand-written over bytes because scanners send what
// net/http rejects: requests without a version, bare CRLFs, LF line endings,
// lower-case or duplicated headers, header lines without a space after the
// colon. Every one of those quirks is a fingerprint, so the parser keeps the
// bytes as sent (header names keep their case, headers keep their order and
// their duplicates) instead of normalising them.
//
// Fields, in order (docs/formats.md §2): Method, Url, Version, one field per header
// line named exactly as sent, then Body. A request-line part that is missing
// is probe.NotAvailable. Bytes that are not valid UTF-8 are written as \xNN so
// the values survive JSON; valid text, backslashes included, is kept as is.
//
// A header whose name is one of the four request fields (Method, Url, Version,
// Body, exact case) is stored as "Header:<name>" so it cannot shadow the
// request field; a colon never occurs in a parsed header name, so the renamed
// field cannot collide with a real header.
package http

import (
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Field names of the request line and body (docs/formats.md §2).
const (
	FieldMethod  = "Method"
	FieldURL     = "Url"
	FieldVersion = "Version"
	FieldBody    = "Body"
)

// ReservedHeaderPrefix is put in front of a header whose name equals one of
// the request fields above.
const ReservedHeaderPrefix = "Header:"

// BodyCap is how many body bytes are kept in the Body field: enough to tell
// exploit payloads apart, small enough to keep the store lean.
const BodyCap = 1 << 10

// httpPorts are TCP ports where a payload of bare line ends (nmap's
// GenericLines probe) is most likely aimed at a web server. TLS ports are
// left out on purpose: bare CRLFs there say nothing about HTTP.
var httpPorts = map[uint16]bool{
	80: true, 81: true, 591: true, 8000: true, 8008: true,
	8080: true, 8081: true, 8088: true, 8888: true,
}

// Service is the HTTP probe.Service.
type Service struct{}

// New returns the HTTP service.
func New() probe.Service { return Service{} }

// Name implements probe.Service.
func (Service) Name() string { return "http" }

// Detect implements probe.Service: a request line decides, the port only
// matters for payloads made of nothing but line ends.
func (Service) Detect(payload []byte, transport probe.Transport, dstPort uint16) probe.Confidence {
	c := detectRequestLine(payload)
	if c != probe.NotMine {
		// HTTP over UDP exists (SSDP) but is not our listener's protocol;
		// leave room for a service that knows it better.
		if transport == probe.UDP && c > probe.ByContent {
			c = probe.ByContent
		}
		return c
	}
	if transport == probe.TCP && httpPorts[dstPort] && len(payload) > 0 && onlyLineEnds(payload) {
		return probe.ByPort
	}
	return probe.NotMine
}

// Complete implements probe.Service.
func (Service) Complete(payload []byte, _ probe.Transport) bool {
	return requestComplete(payload)
}

// Parse implements probe.Service.
func (Service) Parse(payload []byte, _ probe.Transport) (probe.Fields, error) {
	return ParseRequest(payload)
}

// Kind implements probe.Service from the encoding rules.
func (Service) Kind(field string) probe.Kind {
	return Service{}.Encoding().RuleFor(field).Kind
}
