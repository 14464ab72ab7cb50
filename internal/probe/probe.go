// Package probe holds the domain types shared by every part of ScannerGrouper:
// the first service probe of a session, its parsed fields, and the registry of
// services (protocols) that know how to recognise and parse a probe.
//
// It depends on nothing else in the module, so every other package may use it.
package probe

import (
	"net/netip"
	"time"
)

// MaxPayload is the largest first-probe payload kept: TCP reassembly stops
// here and the store caps the raw bytes at this size (docs/formats.md §1).
const MaxPayload = 16 << 10

// StoredPayloadCap is how many raw payload bytes the store keeps per probe.
const StoredPayloadCap = 4 << 10

// Transport is the layer-4 protocol a probe arrived on.
type Transport string

const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// NotAvailable is the value of a field the probe does not carry (a missing
// HTTP header, an absent TLS extension). It is a value in its own right: the
// absence of a header is as much a fingerprint as its presence.
const NotAvailable = "N/A"

// Kind says how a field is turned into pixels by the semantic encoding.
type Kind uint8

const (
	// KindString fields are encoded by their first bytes (Url, Version, qname).
	KindString Kind = iota
	// KindOption fields are sets of items, one pixel per vocabulary item
	// (User-Agent tokens, cipher suites, groups).
	KindOption
	// KindInt fields are fixed-width integers, one pixel per bit (DNS header).
	KindInt
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindOption:
		return "option"
	case KindInt:
		return "int"
	}
	return "unknown"
}

// Field is one named value parsed from a probe. Value holds the text as sent
// (or the decimal integer for int fields). Items holds the members of list
// fields that the protocol itself delimits (TLS cipher suites, extension
// types, groups); tokenising free text such as a User-Agent is the feature
// layer's business, not the parser's.
type Field struct {
	Name  string   `json:"name"`
	Value string   `json:"value"`
	Items []string `json:"items,omitempty"`
}

// Fields is the ordered list of a probe's fields, in the order the protocol
// carried them (HTTP header order is itself a fingerprint).
type Fields []Field

// Get returns the first field with exactly this name (case-sensitive).
func (fs Fields) Get(name string) (Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Keep returns the fields of fs named in names, in their order, in a slice
// of their own (fs itself when it keeps them all).
func (fs Fields) Keep(names map[string]bool) Fields {
	n := 0
	for _, f := range fs {
		if names[f.Name] {
			n++
		}
	}
	if n == len(fs) {
		return fs
	}
	out := make(Fields, 0, n)
	for _, f := range fs {
		if names[f.Name] {
			out = append(out, f)
		}
	}
	return out
}

// Value returns the value of the named field, or NotAvailable.
func (fs Fields) Value(name string) string {
	if f, ok := fs.Get(name); ok {
		return f.Value
	}
	return NotAvailable
}

// Probe is the first application payload a scanner sent in one session.
type Probe struct {
	Time      time.Time  `json:"time"`
	SrcIP     netip.Addr `json:"src_ip"`
	SrcPort   uint16     `json:"src_port"`
	DstIP     netip.Addr `json:"dst_ip"`
	DstPort   uint16     `json:"dst_port"`
	Transport Transport  `json:"transport"`
	Service   string     `json:"service"`
	Sensor    string     `json:"sensor,omitempty"`
	Payload   []byte     `json:"-"`
	Fields    Fields     `json:"fields,omitempty"`
	// ParseError is set when the service was recognised but its parser
	// rejected the bytes; the probe is still kept (as seen on the wire).
	ParseError string `json:"parse_error,omitempty"`
	// SourceFile and Offset say where the probe's first byte came from, so an
	// analyst can go back to the capture.
	SourceFile string `json:"source_file,omitempty"`
	Offset     int64  `json:"offset"`
}
