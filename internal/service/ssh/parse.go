package ssh

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Ident is a parsed identification line.
type Ident struct {
	// Proto, Software and Comments are the parts of
	// "SSH-protoversion-softwareversion SP comments", escaped; a missing part
	// is probe.NotAvailable.
	Proto, Software, Comments string
	// Terminated is false when the payload ended before a line feed.
	Terminated bool
	// Len is the line's length with its line end.
	Len int
}

// ParseIdent reads the identification line at the start of b. A line
// without its line feed (the stream ended) is read as far as it goes.
func ParseIdent(b []byte) (Ident, error) {
	if !identPrefix(b) {
		return Ident{}, fmt.Errorf("ssh: no identification string at offset 0 (%q)", b[:min(len(b), 8)])
	}
	id := Ident{Proto: probe.NotAvailable, Software: probe.NotAvailable, Comments: probe.NotAvailable}
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line, id.Terminated, id.Len = b[:i], true, i+1
	} else {
		id.Len = len(b)
	}
	line = bytes.TrimSuffix(line, []byte("\r"))[4:]
	proto, rest, hasSoftware := bytes.Cut(line, []byte("-"))
	id.Proto = escape(proto)
	if !hasSoftware {
		return id, nil
	}
	software, comments, hasComments := bytes.Cut(rest, []byte(" "))
	id.Software = escape(software)
	if hasComments {
		id.Comments = escape(comments)
	}
	return id, nil
}

// KexInit is a parsed SSH_MSG_KEXINIT payload.
type KexInit struct {
	Cookie [16]byte
	// Lists are the ten name-lists in wire order (NameListFields), as sent.
	Lists             [10][]byte
	FirstKexFollows   byte
	Reserved          uint32
	lists             int // how many of Lists were read
	haveFlag, haveRsv bool
}

// HASSHAlgorithms is Salesforce's hasshAlgorithms of a client: its
// kex_algorithms, encryption, MAC and compression name-lists for the
// client-to-server direction, joined by ';'.
func (k *KexInit) HASSHAlgorithms() string {
	return string(k.Lists[0]) + ";" + string(k.Lists[2]) + ";" + string(k.Lists[4]) + ";" + string(k.Lists[6])
}

// HASSH is the MD5 of HASSHAlgorithms, in lower-case hex.
func HASSH(algorithms string) string {
	sum := md5.Sum([]byte(algorithms))
	return hex.EncodeToString(sum[:])
}

// ParseClient parses a client's first bytes: the identification line, then
// its first binary packet when the client speaks SSH 2. It fails only when
// the payload does not start with an identification string. A first packet
// that is cut short, lies about a length or is not a KEXINIT gives the
// fields read so far together with an error saying where reading stopped.
func ParseClient(payload []byte) (probe.Fields, error) {
	id, err := ParseIdent(payload)
	if err != nil {
		return nil, err
	}
	fields := make(probe.Fields, 0, 18)
	fields = append(fields,
		probe.Field{Name: FieldProtoVersion, Value: id.Proto},
		probe.Field{Name: FieldSoftwareVersion, Value: id.Software},
		probe.Field{Name: FieldComments, Value: id.Comments})
	if !id.Terminated || !isSSH2(payload[:id.Len]) || id.Len == len(payload) {
		return fields, nil
	}
	k, err := parsePacket(payload, id.Len)
	if k == nil {
		return fields, err
	}
	fields = append(fields, probe.Field{Name: FieldCookie, Value: hex.EncodeToString(k.Cookie[:])})
	for i := range k.lists {
		fields = append(fields, nameListField(NameListFields[i], k.Lists[i]))
	}
	if k.haveFlag {
		fields = append(fields, probe.Field{Name: FieldFirstKexFollows, Value: strconv.Itoa(int(k.FirstKexFollows))})
	}
	if k.haveRsv {
		fields = append(fields, probe.Field{Name: FieldReserved, Value: strconv.FormatUint(uint64(k.Reserved), 10)})
	}
	if k.lists >= 7 {
		// The HASSH is computed over the bytes as sent, not their escaped
		// form: it is the fingerprint every other tool computes.
		algs := k.HASSHAlgorithms()
		fields = append(fields,
			probe.Field{Name: FieldHASSHAlgorithms, Value: escape([]byte(algs))},
			probe.Field{Name: FieldHASSH, Value: HASSH(algs)})
	}
	return fields, err
}

// parsePacket reads the binary packet at off. It returns nil when not even
// the cookie could be read, and an error for anything short of a whole,
// well-formed KEXINIT.
func parsePacket(b []byte, off int) (*KexInit, error) {
	rest := b[off:]
	if len(rest) < 6 {
		return nil, fmt.Errorf("ssh: binary packet truncated at offset %d (%d of 6 header bytes)", off, len(rest))
	}
	n, pad, msg := be32(rest), int(rest[4]), rest[5]
	switch {
	case n > MaxPacket:
		return nil, fmt.Errorf("ssh: packet_length %d at offset %d is over %d", n, off, MaxPacket)
	case n < 5 || uint32(pad) >= n:
		return nil, fmt.Errorf("ssh: packet_length %d at offset %d leaves no room for padding_length %d", n, off, pad)
	case msg != msgKexInit:
		return nil, fmt.Errorf("ssh: first packet at offset %d is message %d, not SSH_MSG_KEXINIT", off, msg)
	}
	// The message is packet_length - padding_length - 1 bytes after the
	// padding_length byte, as far as the payload goes.
	end := min(len(rest), 4+int(n)-pad)
	r := reader{b: rest[:end], pos: 6, base: off}
	k := &KexInit{}
	if !r.bytes(k.Cookie[:]) {
		return nil, r.truncated("cookie")
	}
	for i, name := range NameListFields {
		l, err := r.nameList(name)
		if err != nil {
			return k, err
		}
		k.Lists[i], k.lists = l, i+1
	}
	var flag [1]byte
	if !r.bytes(flag[:]) {
		return k, r.truncated(FieldFirstKexFollows)
	}
	k.FirstKexFollows, k.haveFlag = flag[0], true
	var rsv [4]byte
	if !r.bytes(rsv[:]) {
		return k, r.truncated(FieldReserved)
	}
	k.Reserved, k.haveRsv = be32(rsv[:]), true
	if len(rest) < 4+int(n) {
		return k, fmt.Errorf("ssh: packet at offset %d announces %d bytes, %d arrived", off, n, len(rest)-4)
	}
	return k, nil
}

// reader walks a packet; base is the packet's offset in the payload, for
// error messages.
type reader struct {
	b         []byte
	pos, base int
}

func (r *reader) bytes(dst []byte) bool {
	if len(r.b)-r.pos < len(dst) {
		return false
	}
	r.pos += copy(dst, r.b[r.pos:])
	return true
}

func (r *reader) truncated(what string) error {
	return fmt.Errorf("ssh: KEXINIT truncated in %s at offset %d", what, r.base+r.pos)
}

// nameList reads one uint32-prefixed name-list; the slice points into the
// payload.
func (r *reader) nameList(name string) ([]byte, error) {
	var l [4]byte
	at := r.pos
	if !r.bytes(l[:]) {
		return nil, r.truncated(name)
	}
	n := be32(l[:])
	if left := len(r.b) - r.pos; uint64(n) > uint64(left) {
		return nil, fmt.Errorf("ssh: %s at offset %d: length %d exceeds the %d bytes left", name, r.base+at, n, left)
	}
	v := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return v, nil
}

// nameListField is a name-list as a field: the list as sent, and its names.
func nameListField(name string, list []byte) probe.Field {
	f := probe.Field{Name: name, Value: escape(list)}
	if len(list) > 0 {
		f.Items = strings.Split(f.Value, ",")
	}
	return f
}

// escape returns b with bytes outside printable ASCII, and the backslash,
// written \xNN.
func escape(b []byte) string {
	plain := true
	for _, c := range b {
		if c < ' ' || c > '~' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(b)
	}
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		if c < ' ' || c > '~' || c == '\\' {
			out = append(out, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
