// Package ssh recognises and parses the first thing an SSH client sends: its
// identification string (RFC 4253 §4.2) and, after it, its first binary
// packet, which is SSH_MSG_KEXINIT (RFC 4253 §7.1). The server normally
// speaks first; the probe is what the client sent, whatever the server said
// in between.
//
// Fields (docs/formats.md §2), in wire order:
//
//   - proto_version, software_version, comments: the identification line
//     "SSH-protoversion-softwareversion SP comments", without its line end;
//     comments is probe.NotAvailable when the line has none;
//   - cookie: the 16 random bytes of the KEXINIT, in hex;
//   - kex_algorithms, server_host_key_algorithms,
//     encryption_algorithms_client_to_server, ..._server_to_client,
//     mac_algorithms_..., compression_algorithms_..., languages_...: every
//     name-list as sent (Value) and cut on commas (Items);
//   - first_kex_packet_follows (the boolean byte, 0..255) and reserved
//     (uint32), as decimal;
//   - hassh_algorithms and hassh: Salesforce's HASSH client fingerprint,
//     "kex;enc_c2s;mac_c2s;cmp_c2s" and its MD5 in hex.
//
// A probe whose stream ended after the identification line has only the
// three identification fields. Bytes outside printable ASCII, and the
// backslash, are written \xNN so every value is plain text that JSON
// round-trips.
package ssh

import (
	"bytes"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Field names (docs/formats.md §2), in the order Parse emits them.
const (
	FieldProtoVersion    = "proto_version"
	FieldSoftwareVersion = "software_version"
	FieldComments        = "comments"
	FieldCookie          = "cookie"
	FieldKex             = "kex_algorithms"
	FieldHostKey         = "server_host_key_algorithms"
	FieldEncC2S          = "encryption_algorithms_client_to_server"
	FieldEncS2C          = "encryption_algorithms_server_to_client"
	FieldMACC2S          = "mac_algorithms_client_to_server"
	FieldMACS2C          = "mac_algorithms_server_to_client"
	FieldCmpC2S          = "compression_algorithms_client_to_server"
	FieldCmpS2C          = "compression_algorithms_server_to_client"
	FieldLangC2S         = "languages_client_to_server"
	FieldLangS2C         = "languages_server_to_client"
	FieldFirstKexFollows = "first_kex_packet_follows"
	FieldReserved        = "reserved"
	FieldHASSHAlgorithms = "hassh_algorithms"
	FieldHASSH           = "hassh"
)

// NameListFields are the ten name-lists of SSH_MSG_KEXINIT, in wire order.
var NameListFields = []string{
	FieldKex, FieldHostKey, FieldEncC2S, FieldEncS2C, FieldMACC2S, FieldMACS2C,
	FieldCmpC2S, FieldCmpS2C, FieldLangC2S, FieldLangS2C,
}

// Protocol limits.
const (
	// MaxPacket is the largest packet_length believed: RFC 4253 §6.1 makes
	// implementations handle 35000-byte packets, and a KEXINIT is far
	// smaller. A larger length is a lie, so nothing more is waited for.
	MaxPacket = 35000
	// msgKexInit is SSH_MSG_KEXINIT.
	msgKexInit = 20
)

// certainPorts are where an identification line can only be a client's
// (a scanner does not get a banner from a port it connects to otherwise).
var certainPorts = map[uint16]bool{22: true, 2222: true}

// Service is the SSH probe.Service.
type Service struct{}

// New returns the SSH service.
func New() probe.Service { return Service{} }

// Name implements probe.Service.
func (Service) Name() string { return "ssh" }

// Detect implements probe.Service. "SSH-" and a digit can only start an SSH
// identification string, on any port; over UDP it is not SSH.
func (Service) Detect(payload []byte, transport probe.Transport, dstPort uint16) probe.Confidence {
	if transport != probe.TCP || !identPrefix(payload) {
		return probe.NotMine
	}
	if certainPorts[dstPort] {
		return probe.Certain
	}
	return probe.ByContent
}

// identPrefix reports a payload that starts like an identification string.
// Fewer than five bytes are not enough to tell.
func identPrefix(b []byte) bool {
	return len(b) >= 5 && bytes.HasPrefix(b, []byte("SSH-")) && b[4] >= '0' && b[4] <= '9'
}

// ServerSpeaksFirst implements probe.ServerFirst: an SSH server sends its
// identification (and its KEXINIT) without waiting for the client's, so a
// server payload does not end the client's first message, and a payload
// alone does not say which side sent it.
func (Service) ServerSpeaksFirst() bool { return true }

// Complete implements probe.Service: the identification line has ended and,
// for SSH 2, the first binary packet has arrived whole (or its length says
// it never will). An SSH-1 client sends no KEXINIT, so its line is enough.
func (Service) Complete(payload []byte, _ probe.Transport) bool {
	if len(payload) >= probe.MaxPayload {
		return true
	}
	lineEnd := bytes.IndexByte(payload, '\n')
	if lineEnd < 0 {
		return false
	}
	if !isSSH2(payload[:lineEnd]) {
		return true
	}
	rest := payload[lineEnd+1:]
	if len(rest) < 4 {
		return false
	}
	n := be32(rest)
	if n < 5 || n > MaxPacket {
		return true
	}
	return uint64(len(rest)) >= 4+uint64(n)
}

// isSSH2 reports an identification line of protocol 2.0 or 1.99 (a client
// that speaks both, which sends SSH 2 packets).
func isSSH2(line []byte) bool {
	return bytes.HasPrefix(line, []byte("SSH-2.0-")) || bytes.HasPrefix(line, []byte("SSH-1.99-"))
}

// Parse implements probe.Service.
func (Service) Parse(payload []byte, _ probe.Transport) (probe.Fields, error) {
	return ParseClient(payload)
}

// Kind implements probe.Service from the encoding rules.
func (Service) Kind(field string) probe.Kind {
	return Service{}.Encoding().RuleFor(field).Kind
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
