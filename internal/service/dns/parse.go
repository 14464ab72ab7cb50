package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

const (
	headerLen = 12
	// maxQuestions and maxRecords bound what Detect accepts as a query:
	// real first probes ask one question and carry at most an OPT record
	// (or a few update records). Larger counts are binary noise.
	maxQuestions = 4
	maxRecords   = 16
)

// Opcodes a client may send (RFC 1035, 1996, 2136; 1 is the obsolete
// inverse query that old scanners still try).
var queryOpcodes = [16]bool{0: true, 1: true, 2: true, 4: true, 5: true}

// messageBytes strips the TCP length prefix. A TCP payload cut short by the
// end of the capture yields the bytes that did arrive.
func messageBytes(payload []byte, transport probe.Transport) ([]byte, error) {
	if transport != probe.TCP {
		return payload, nil
	}
	if len(payload) < 2 {
		return nil, fmt.Errorf("dns: TCP length prefix truncated at offset 0 (%d of 2 bytes)", len(payload))
	}
	n := int(binary.BigEndian.Uint16(payload))
	if n < headerLen {
		return nil, fmt.Errorf("dns: TCP length prefix at offset 0 announces %d bytes, less than a %d-byte header", n, headerLen)
	}
	return payload[2:min(len(payload), 2+n)], nil
}

// declaredLength is the message length the transport announces.
func declaredLength(payload []byte, transport probe.Transport) int {
	if transport != probe.TCP {
		return len(payload)
	}
	if len(payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(payload))
}

// header is the fixed 12-byte DNS header (RFC 1035 §4.1.1, RFC 4035 §3.2
// for AD and CD).
type header struct {
	id, flags                          uint16
	qdcount, ancount, nscount, arcount uint16
}

func readHeader(msg []byte) (header, error) {
	if len(msg) < headerLen {
		return header{}, fmt.Errorf("dns: header truncated at offset 0 (%d of %d bytes)", len(msg), headerLen)
	}
	be := binary.BigEndian
	return header{
		id: be.Uint16(msg[0:]), flags: be.Uint16(msg[2:]),
		qdcount: be.Uint16(msg[4:]), ancount: be.Uint16(msg[6:]),
		nscount: be.Uint16(msg[8:]), arcount: be.Uint16(msg[10:]),
	}, nil
}

func (h header) bit(n uint) uint16 { return h.flags >> n & 1 }
func (h header) qr() uint16        { return h.bit(15) }
func (h header) opcode() uint16    { return h.flags >> 11 & 0xf }
func (h header) rcode() uint16     { return h.flags & 0xf }

// ParseMessage parses one DNS message (no TCP prefix) into fields. The
// header and the first question must parse; the remaining sections are read
// only to find an OPT record, and a message cut short there still yields its
// fields (edns "0" unless the OPT record came before the cut).
func ParseMessage(msg []byte) (probe.Fields, error) {
	h, err := readHeader(msg)
	if err != nil {
		return nil, err
	}
	if h.qdcount == 0 {
		return nil, fmt.Errorf("dns: message has no question (qdcount 0 at offset 4)")
	}
	var p dnsmessage.Parser
	if _, err := p.Start(msg); err != nil {
		return nil, fmt.Errorf("dns: header at offset 0: %w", err)
	}
	q, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("dns: question 1 at offset %d: %w", headerLen, err)
	}
	edns := "0"
	if found, _ := hasOPT(&p); found {
		edns = "1"
	}

	u := func(v uint16) string { return strconv.FormatUint(uint64(v), 10) }
	return probe.Fields{
		{Name: FieldID, Value: u(h.id)},
		{Name: FieldQR, Value: u(h.qr())},
		{Name: FieldOpcode, Value: u(h.opcode())},
		{Name: FieldAA, Value: u(h.bit(10))},
		{Name: FieldTC, Value: u(h.bit(9))},
		{Name: FieldRD, Value: u(h.bit(8))},
		{Name: FieldRA, Value: u(h.bit(7))},
		{Name: FieldZ, Value: u(h.bit(6))},
		{Name: FieldAD, Value: u(h.bit(5))},
		{Name: FieldCD, Value: u(h.bit(4))},
		{Name: FieldRcode, Value: u(h.rcode())},
		{Name: FieldQDCount, Value: u(h.qdcount)},
		{Name: FieldANCount, Value: u(h.ancount)},
		{Name: FieldNSCount, Value: u(h.nscount)},
		{Name: FieldARCount, Value: u(h.arcount)},
		{Name: FieldQName, Value: presentName(q.Name)},
		{Name: FieldQType, Value: u(uint16(q.Type))},
		{Name: FieldQClass, Value: u(uint16(q.Class))},
		{Name: FieldEDNS, Value: edns},
	}, nil
}

// hasOPT walks the sections after the first question and reports whether
// the additional section holds an OPT record. err is the first malformed
// record met, if any.
func hasOPT(p *dnsmessage.Parser) (bool, error) {
	if err := p.SkipAllQuestions(); err != nil {
		return false, fmt.Errorf("question section: %w", err)
	}
	if err := p.SkipAllAnswers(); err != nil {
		return false, fmt.Errorf("answer section: %w", err)
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return false, fmt.Errorf("authority section: %w", err)
	}
	found := false
	for {
		rh, err := p.AdditionalHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return found, nil
		}
		if err != nil {
			return found, fmt.Errorf("additional section: %w", err)
		}
		if rh.Type == dnsmessage.TypeOPT {
			found = true
		}
		if err := p.SkipAdditional(); err != nil {
			return found, fmt.Errorf("additional section: %w", err)
		}
	}
}

// plausibleQuery is Detect's test: a client header, one to a few questions,
// a first question that parses and, unless the message was cut short by the
// transport, every declared record parses too.
func plausibleQuery(msg []byte, cutShort bool) bool {
	h, err := readHeader(msg)
	if err != nil {
		return false
	}
	if h.qr() != 0 || !queryOpcodes[h.opcode()] || h.rcode() != 0 {
		return false
	}
	if h.qdcount == 0 || h.qdcount > maxQuestions ||
		h.ancount > maxRecords || h.nscount > maxRecords || h.arcount > maxRecords {
		return false
	}
	var p dnsmessage.Parser
	if _, err := p.Start(msg); err != nil {
		return false
	}
	if _, err := p.Question(); err != nil {
		return false
	}
	if cutShort {
		return true
	}
	_, err = hasOPT(&p)
	return err == nil
}

// presentName writes a parsed name without its trailing dot, escaping bytes
// that are not printable ASCII as \DDD and a backslash as \\. Labels cannot
// contain a dot (the parser rejects such names), so dots are separators.
func presentName(n dnsmessage.Name) string {
	data := n.Data[:n.Length]
	if len(data) > 1 && data[len(data)-1] == '.' {
		data = data[:len(data)-1]
	}
	plain := true
	for _, c := range data {
		if c < '!' || c > '~' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(data)
	}
	out := make([]byte, 0, len(data)*2)
	for _, c := range data {
		switch {
		case c == '\\':
			out = append(out, '\\', '\\')
		case c < '!' || c > '~':
			out = append(out, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
