package tls

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Scanners send the same ClientHello structure millions of times with only
// the random, session id and key shares changing, and naming every cipher
// suite and computing JA3/JA4 costs several times the parse itself. So the
// fields that depend only on the structure are memoised, keyed on exactly
// the bytes they are computed from.

// memoLimit bounds the memo; a full memo is simply dropped and rebuilt.
const memoLimit = 4096

// structuralExtensions are the extensions whose contents (not just type)
// appear in the fields or fingerprints.
var structuralExtensions = map[uint16]bool{
	ExtServerName: true, ExtSupportedGroups: true, ExtECPointFormats: true,
	ExtSignatureAlgorithms: true, ExtALPN: true, ExtSupportedVersions: true,
}

type fieldMemo struct {
	mu sync.Mutex
	m  map[string]probe.Fields
}

var memo = fieldMemo{m: make(map[string]probe.Fields)}

// structureKey serialises everything Fields reads except the random and the
// session id. Lengths prefix every variable part so keys cannot collide.
func structureKey(ch *ClientHello, buf []byte) []byte {
	buf = binary.BigEndian.AppendUint16(buf, ch.RecordVersion)
	buf = binary.BigEndian.AppendUint16(buf, ch.Version)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(ch.CipherSuites)))
	for _, c := range ch.CipherSuites {
		buf = binary.BigEndian.AppendUint16(buf, c)
	}
	buf = append(buf, byte(len(ch.CompressionMethods)))
	buf = append(buf, ch.CompressionMethods...)
	if ch.HasExtensionBlock {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(ch.Extensions)))
	for _, e := range ch.Extensions {
		buf = binary.BigEndian.AppendUint16(buf, e.Type)
		if structuralExtensions[e.Type] {
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(e.Data)))
			buf = append(buf, e.Data...)
		}
	}
	return buf
}

// memoFields returns ch.Fields(), computing the structural part once per
// distinct structure. Items slices are shared between probes with the same
// structure: callers must treat them as read-only (as all probe fields are).
func memoFields(ch *ClientHello) probe.Fields {
	if ch.SSLv2 {
		return ch.Fields()
	}
	var scratch [512]byte
	key := structureKey(ch, scratch[:0])
	memo.mu.Lock()
	cached, ok := memo.m[string(key)]
	memo.mu.Unlock()
	if !ok {
		fs := ch.Fields()
		memo.mu.Lock()
		if len(memo.m) >= memoLimit {
			memo.m = make(map[string]probe.Fields)
		}
		memo.m[string(key)] = fs
		memo.mu.Unlock()
		return append(probe.Fields(nil), fs...)
	}
	fs := append(make(probe.Fields, 0, len(cached)), cached...)
	for i := range fs {
		switch fs[i].Name {
		case FieldRandom:
			fs[i].Value = hex.EncodeToString(ch.Random)
		case FieldTime:
			fs[i].Value = strconv.FormatUint(uint64(binary.BigEndian.Uint32(ch.Random)), 10)
		case FieldSessionID:
			fs[i].Value = hex.EncodeToString(ch.SessionID)
		}
	}
	return fs
}
