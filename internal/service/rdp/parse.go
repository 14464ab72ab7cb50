package rdp

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// RDP_NEG_REQ ([MS-RDPBCGR] §2.2.1.1.1).
const (
	negReqType      = 0x01
	correlationType = 0x06
	negReqLen       = 8
	correlationLen  = 36
	// flagCorrelation is CORRELATION_INFO_PRESENT.
	flagCorrelation = 0x08
)

var negFlagNames = []struct {
	bit  uint8
	name string
}{{0x01, "RESTRICTED_ADMIN_MODE_REQUIRED"}, {0x02, "REDIRECTED_AUTHENTICATION_MODE_REQUIRED"}, {0x08, "CORRELATION_INFO_PRESENT"}}

var protocolNames = []struct {
	bit  uint32
	name string
}{{0x01, "SSL"}, {0x02, "HYBRID"}, {0x04, "RDSTLS"}, {0x08, "HYBRID_EX"}, {0x10, "RDSAAD"}}

// ProtocolNames returns the names of the bits of a requestedProtocols
// value: "RDP" for 0 (standard RDP security), 0xN for an unassigned bit.
func ProtocolNames(v uint32) []string {
	if v == 0 {
		return []string{"RDP"}
	}
	var out []string
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if v&bit == 0 {
			continue
		}
		name := "0x" + strconv.FormatUint(uint64(bit), 16)
		for _, p := range protocolNames {
			if p.bit == bit {
				name = p.name
			}
		}
		out = append(out, name)
	}
	return out
}

func flagNames(v uint8) []string {
	var out []string
	for bit := 1; bit < 0x100; bit <<= 1 {
		if v&uint8(bit) == 0 {
			continue
		}
		name := "0x" + strconv.FormatUint(uint64(bit), 16)
		for _, f := range negFlagNames {
			if f.bit == uint8(bit) {
				name = f.name
			}
		}
		out = append(out, name)
	}
	return out
}

func itemsField(name string, items []string) probe.Field {
	if len(items) == 0 {
		return probe.Field{Name: name, Value: ""}
	}
	return probe.Field{Name: name, Value: strings.Join(items, ","), Items: items}
}

func intField(name string, v uint64) probe.Field {
	return probe.Field{Name: name, Value: strconv.FormatUint(v, 10)}
}

// ParseRequest parses a TPKT-framed X.224 Connection Request. It fails when
// the payload is not one (no TPKT version 3 header, not a CR). A message
// cut short, or lengths that disagree, give the fields read so far with an
// error saying where reading stopped.
func ParseRequest(payload []byte) (probe.Fields, error) {
	if len(payload) < tpktHeader+2 {
		return nil, fmt.Errorf("rdp: TPKT header truncated at offset 0 (%d of 6 bytes)", len(payload))
	}
	if payload[0] != 3 {
		return nil, fmt.Errorf("rdp: TPKT version %d at offset 0, want 3", payload[0])
	}
	if payload[5]&0xf0 != codeCR {
		return nil, fmt.Errorf("rdp: X.224 code 0x%02x at offset 5 is no Connection Request", payload[5])
	}
	tpktLen := int(payload[2])<<8 | int(payload[3])
	fields := make(probe.Fields, 0, 14)
	fields = append(fields, intField(FieldTPKTLength, uint64(tpktLen)), intField(FieldX224Code, uint64(payload[5])))
	if tpktLen < tpktHeader+crFixed {
		return fields, fmt.Errorf("rdp: TPKT length %d at offset 2 is below a Connection Request's %d", tpktLen, tpktHeader+crFixed)
	}
	// The TPDU is what the TPKT announces, as far as the payload goes; the
	// length indicator must agree.
	msg := payload[:min(len(payload), tpktLen)]
	if li := int(payload[4]); li != tpktLen-tpktHeader-1 {
		return fields, fmt.Errorf("rdp: X.224 length indicator %d at offset 4 disagrees with TPKT length %d", li, tpktLen)
	}
	if len(msg) < tpktHeader+crFixed {
		return fields, fmt.Errorf("rdp: Connection Request truncated at offset %d (%d of %d bytes)", len(msg), len(msg), tpktHeader+crFixed)
	}
	fields = append(fields,
		intField(FieldDstRef, uint64(msg[6])<<8|uint64(msg[7])),
		intField(FieldSrcRef, uint64(msg[8])<<8|uint64(msg[9])),
		intField(FieldClassOption, uint64(msg[10])))
	pos := tpktHeader + crFixed
	// A routing token or cookie is a line ending in CRLF; the negotiation
	// request, when there is one, starts with type 1, which no line does.
	if pos < len(msg) && msg[pos] != negReqType {
		if end := bytes.Index(msg[pos:], []byte("\r\n")); end >= 0 {
			line := msg[pos : pos+end]
			if name, ok := bytes.CutPrefix(line, []byte("Cookie: mstshash=")); ok {
				fields = append(fields, probe.Field{Name: FieldCookie, Value: escape(name)})
			} else {
				fields = append(fields, probe.Field{Name: FieldRoutingToken, Value: escape(line)})
			}
			pos += end + 2
		}
	}
	var err error
	switch {
	case pos == len(msg) && len(msg) == tpktLen:
		fields = append(fields, probe.Field{Name: FieldNegRequest, Value: "absent"})
	case pos < len(msg) && msg[pos] == negReqType:
		fields = append(fields, probe.Field{Name: FieldNegRequest, Value: "RDP_NEG_REQ"})
		var flags uint8
		fields, flags, pos, err = parseNegReq(fields, msg, pos)
		if err == nil && flags&flagCorrelation != 0 {
			fields, pos, err = parseCorrelation(fields, msg, pos)
		}
	case pos < len(msg) && len(msg) == tpktLen:
		fields = append(fields, probe.Field{Name: FieldNegRequest, Value: "type " + strconv.Itoa(int(msg[pos]))})
	case pos < len(msg):
		// Cut short before a line end or a negotiation request: what
		// the bytes were meant to be is unknown.
		return fields, fmt.Errorf("rdp: TPKT announces %d bytes, %d arrived", tpktLen, len(msg))
	}
	if err == nil && pos < len(msg) {
		fields = append(fields, probe.Field{Name: FieldTrailing, Value: hex.EncodeToString(msg[pos:min(len(msg), pos+TrailingCap)])})
	}
	if err == nil && len(msg) < tpktLen {
		err = fmt.Errorf("rdp: TPKT announces %d bytes, %d arrived", tpktLen, len(msg))
	}
	return fields, err
}

func parseNegReq(fields probe.Fields, msg []byte, pos int) (probe.Fields, uint8, int, error) {
	if len(msg)-pos < 4 {
		return fields, 0, pos, fmt.Errorf("rdp: RDP_NEG_REQ truncated at offset %d", pos)
	}
	flags := msg[pos+1]
	length := int(msg[pos+2]) | int(msg[pos+3])<<8
	fields = append(fields, intField(FieldNegFlags, uint64(flags)), itemsField(FieldNegFlagsNames, flagNames(flags)),
		intField(FieldNegLength, uint64(length)))
	if len(msg)-pos < negReqLen {
		return fields, flags, pos, fmt.Errorf("rdp: RDP_NEG_REQ truncated at offset %d (%d of 8 bytes)", pos, len(msg)-pos)
	}
	req := uint32(msg[pos+4]) | uint32(msg[pos+5])<<8 | uint32(msg[pos+6])<<16 | uint32(msg[pos+7])<<24
	fields = append(fields, intField(FieldRequestedProtocols, uint64(req)), itemsField(FieldRequestedProtoNames, ProtocolNames(req)))
	return fields, flags, pos + negReqLen, nil
}

func parseCorrelation(fields probe.Fields, msg []byte, pos int) (probe.Fields, int, error) {
	if len(msg)-pos < correlationLen || msg[pos] != correlationType {
		return fields, pos, fmt.Errorf("rdp: CORRELATION_INFO_PRESENT but no RDP_CORRELATION_INFO at offset %d", pos)
	}
	fields = append(fields, probe.Field{Name: FieldCorrelationID, Value: hex.EncodeToString(msg[pos+4 : pos+20])})
	return fields, pos + correlationLen, nil
}

// escape returns b with bytes outside printable ASCII, and the backslash,
// written \xNN.
func escape(b []byte) string {
	var out strings.Builder
	for _, c := range b {
		if c < ' ' || c > '~' || c == '\\' {
			fmt.Fprintf(&out, `\x%02x`, c)
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}
