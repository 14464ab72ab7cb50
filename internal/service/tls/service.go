// Package tls recognises and parses the TLS ClientHello a scanner sends as
// its first probe, and computes the JA3 and JA4 fingerprints analysts use to
// name TLS clients.
package tls

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Name is the service name stored with each TLS probe.
const Name = "tls"

// Field names (docs/formats.md §2), in the order Parse emits them.
const (
	FieldVersion             = "tls_version"
	FieldHandshakeVersion    = "handshake_version"
	FieldRandom              = "handshake_random_bytes"
	FieldTime                = "handshake_time"
	FieldSessionID           = "handshake_sessionid"
	FieldCipherSuites        = "handshake_ciphersuites"
	FieldCompression         = "handshake_comp_methods"
	FieldExtensions          = "extensions"
	FieldSignatureAlgorithms = "extensions_hash_algs"
	FieldSupportedGroups     = "extensions_supported_groups"
	FieldECPointFormats      = "extensions_ec_point_formats"
	FieldSNI                 = "extensions_sni"
	FieldALPN                = "extensions_alpn"
	FieldSupportedVersions   = "extensions_supported_versions"
	// FieldJA3 is the JA3 fingerprint as it is published and searched
	// for: the MD5 hex of the JA3 string (as Zeek, Suricata and ECS name
	// it); FieldJA3String is the string itself.
	FieldJA3String = "ja3_string"
	FieldJA3       = "ja3"
	FieldJA4       = "ja4"
)

type service struct{}

// New returns the TLS service. Registration is left to internal/service/all.
func New() probe.Service { return service{} }

func (service) Name() string { return Name }

// Detect claims payloads that begin with a handshake record of SSLv3..TLS1.3
// carrying a ClientHello, or with an SSLv2-compatible CLIENT-HELLO whose
// length fields all agree. The port is ignored: a ClientHello on port 80 is
// still TLS. A prefix too short to show the handshake type (a TLS record
// header alone, the first 7..10 bytes of an SSLv2 hello) earns ByContent.
func (service) Detect(payload []byte, _ probe.Transport, _ uint16) probe.Confidence {
	if _, ok := sslv2Hello(payload); ok {
		return probe.Certain
	}
	if len(payload) < sslv2FixedLen && sslv2Prefix(payload) {
		return probe.ByContent
	}
	if len(payload) < 3 || payload[0] != recordTypeHandshake || payload[1] != 3 || payload[2] > 4 {
		return probe.NotMine
	}
	if len(payload) < recordHeaderLen+1 {
		return probe.ByContent
	}
	if binary.BigEndian.Uint16(payload[3:5]) == 0 || payload[5] != handshakeTypeClientHello {
		return probe.NotMine
	}
	return probe.Certain
}

// Complete reports whether the whole ClientHello handshake message has
// arrived, however it is split across records and segments. Bytes that can
// never become a ClientHello also count as complete: waiting for more of
// them would only hold the session open until the payload cap.
func (service) Complete(payload []byte, _ probe.Transport) bool {
	if msgLen, ok := sslv2Hello(payload); ok {
		return len(payload) >= sslv2HeaderLen+msgLen
	}
	if len(payload) < sslv2FixedLen && sslv2Prefix(payload) {
		return false
	}
	_, err := reassemble(payload, false)
	return err == nil || !errors.Is(err, ErrTruncated)
}

// Parse returns the ClientHello fields in the docs/formats.md §2 order.
func (service) Parse(payload []byte, _ probe.Transport) (probe.Fields, error) {
	ch, err := ParseClientHello(payload)
	if err != nil {
		return nil, err
	}
	return memoFields(ch), nil
}

// Kind implements probe.Service from the encoding rules: option for the
// list fields, versions and fingerprints, string for everything else.
func (s service) Kind(field string) probe.Kind {
	return s.Encoding().RuleFor(field).Kind
}

// Fields turns the hello into named probe fields. List fields carry their
// members in Items (GREASE as "GREASE") and the comma-joined list in Value;
// an absent extension gives probe.NotAvailable.
func (ch *ClientHello) Fields() probe.Fields {
	if ch.SSLv2 {
		return ch.sslv2Fields()
	}
	fs := make(probe.Fields, 0, 17)
	fs = append(fs,
		probe.Field{Name: FieldVersion, Value: hex4(ch.RecordVersion)},
		probe.Field{Name: FieldHandshakeVersion, Value: hex4(ch.Version)},
		probe.Field{Name: FieldRandom, Value: hex.EncodeToString(ch.Random)},
		probe.Field{Name: FieldTime, Value: strconv.FormatUint(uint64(binary.BigEndian.Uint32(ch.Random)), 10)},
		probe.Field{Name: FieldSessionID, Value: hex.EncodeToString(ch.SessionID)},
		listField(FieldCipherSuites, mapItems(ch.CipherSuites, CipherSuiteName)),
		listField(FieldCompression, byteItems(ch.CompressionMethods)),
	)
	if ch.HasExtensionBlock {
		items := make([]string, len(ch.Extensions))
		for i, e := range ch.Extensions {
			items[i] = decimalOrGREASE(e.Type)
		}
		fs = append(fs, listField(FieldExtensions, items))
	} else {
		fs = append(fs, absent(FieldExtensions))
	}
	fs = append(fs,
		ch.extList(ExtSignatureAlgorithms, FieldSignatureAlgorithms, func() []string { return mapItems(ch.SignatureAlgorithms, SignatureSchemeName) }),
		ch.extList(ExtSupportedGroups, FieldSupportedGroups, func() []string { return mapItems(ch.SupportedGroups, GroupName) }),
		ch.extList(ExtECPointFormats, FieldECPointFormats, func() []string { return byteItems(ch.ECPointFormats) }),
	)
	if ch.HasExtension(ExtServerName) {
		fs = append(fs, probe.Field{Name: FieldSNI, Value: ch.ServerName})
	} else {
		fs = append(fs, absent(FieldSNI))
	}
	fs = append(fs,
		ch.extList(ExtALPN, FieldALPN, func() []string { return ch.ALPN }),
		ch.extList(ExtSupportedVersions, FieldSupportedVersions, func() []string { return mapItems(ch.SupportedVersions, versionItem) }),
	)
	ja3 := ch.JA3()
	fs = append(fs,
		probe.Field{Name: FieldJA3String, Value: ja3},
		probe.Field{Name: FieldJA3, Value: JA3MD5(ja3)},
		probe.Field{Name: FieldJA4, Value: ch.JA4()},
	)
	return fs
}

func (ch *ClientHello) extList(typ uint16, name string, items func() []string) probe.Field {
	if !ch.HasExtension(typ) {
		return absent(name)
	}
	return listField(name, items())
}

func absent(name string) probe.Field { return probe.Field{Name: name, Value: probe.NotAvailable} }

func listField(name string, items []string) probe.Field {
	return probe.Field{Name: name, Value: strings.Join(items, ","), Items: items}
}

func mapItems(vs []uint16, name func(uint16) string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = name(v)
	}
	return out
}

func byteItems(vs []uint8) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strconv.Itoa(int(v))
	}
	return out
}

func versionItem(v uint16) string {
	if IsGREASE(v) {
		return grease
	}
	return hex4(v)
}

// sslv2Fields gives an SSLv2 hello the same field list: what SSLv2 cannot
// carry (compression, extensions) and the TLS-only fingerprints are N/A.
func (ch *ClientHello) sslv2Fields() probe.Fields {
	specs := make([]string, len(ch.CipherSpecs))
	for i, s := range ch.CipherSpecs {
		specs[i] = CipherSpecName(s)
	}
	fs := probe.Fields{
		{Name: FieldVersion, Value: hex4(ch.RecordVersion)},
		{Name: FieldHandshakeVersion, Value: hex4(ch.Version)},
		{Name: FieldRandom, Value: hex.EncodeToString(ch.Random)},
		{Name: FieldTime, Value: strconv.FormatUint(uint64(binary.BigEndian.Uint32(ch.Random)), 10)},
		{Name: FieldSessionID, Value: hex.EncodeToString(ch.SessionID)},
		listField(FieldCipherSuites, specs),
	}
	for _, name := range []string{FieldCompression, FieldExtensions, FieldSignatureAlgorithms, FieldSupportedGroups,
		FieldECPointFormats, FieldSNI, FieldALPN, FieldSupportedVersions, FieldJA3String, FieldJA3, FieldJA4} {
		fs = append(fs, absent(name))
	}
	return fs
}
