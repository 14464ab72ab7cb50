package tls

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func sha12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

// curlHello is curl 7.88.1's ClientHello to 127.0.0.1 (no SNI), from the
// real-tool corpus; tshark gives it JA3 78f0dc5a....
var curlHello = "1603010200010001fc0303f56085ecbd6daa463ec22d02945dbaf59ec9888cecd2dc755b2b3c68523217f920b000abfa6ec0aecea52bdf76832a0a39fda95de832971fa07e015286a9cc266c003e130213031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000175000b000403000102000a00160014001d0017001e00190018010001010102010301040010000e000c02683208687474702f312e31001600000017000000310000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00201788649a117b2206eb2fd0802f7d4b53bc1b9fbf6705000891f72cd8acf2a146001500c6" + strings.Repeat("00", 198)

// testsslSSLv2Hello is testssl.sh's SSLv2 CLIENT-HELLO: 13 cipher specs, no
// session id, a 16-byte challenge.
const testsslSSLv2Hello = "80400100020027000000100500800300800100800700c00800800600400400800200800601400701c0ff8000ff80100000002922beb35a018b04fe5f8003a013ebc4"

// nmapSSLv3Hello is nmap -sV's SSLv3 probe: no extension block at all.
const nmapSSLv3Hello = "16030000530100004f03003f47d7f7ba2ceeeab2607ef300fd827bb9d596c8779be6c4db3c3ddb6fef106e00002800160013000a006600050004006500640063006200610060001500120009001400110008000600030100"

func TestFixturesAreWhole(t *testing.T) {
	for name, h := range map[string]string{"curl": curlHello, "nmap": nmapSSLv3Hello} {
		b := mustHex(h)
		ch, err := ParseClientHello(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ch.Length != len(b) {
			t.Fatalf("%s: hello length %d, fixture %d bytes", name, ch.Length, len(b))
		}
	}
}

func TestFingerprintCurl(t *testing.T) {
	ja3, md5, ja4, err := Fingerprint(mustHex(curlHello))
	if err != nil {
		t.Fatal(err)
	}
	wantJA3 := "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,11-10-16-22-23-49-13-43-45-51-21,29-23-30-25-24-256-257-258-259-260,0-1-2"
	if ja3 != wantJA3 || md5 != "78f0dc5ac5b19daf131a133cfdee9691" || ja4 != "t13i3111h2_e8f1e7e78f70_b26ce05bbdd6" {
		t.Errorf("got %s / %s / %s", ja3, md5, ja4)
	}
	if _, _, _, err := Fingerprint([]byte("GET / HTTP/1.1\r\n\r\n")); err == nil {
		t.Error("Fingerprint accepted an HTTP request")
	}
}

func TestDetect(t *testing.T) {
	svc := New()
	curl := mustHex(curlHello)
	serverHello := append([]byte{0x16, 0x03, 0x03, 0x00, 0x04, 0x02}, 0, 0, 0)
	for _, tc := range []struct {
		name    string
		payload []byte
		port    uint16
		want    probe.Confidence
	}{
		{"curl hello on 443", curl, 443, probe.Certain},
		{"curl hello on port 80", curl, 80, probe.Certain},
		{"first segment of a hello", curl[:6], 443, probe.Certain},
		{"SSLv3 hello", mustHex(nmapSSLv3Hello), 8080, probe.Certain},
		{"record header only", curl[:5], 443, probe.ByContent},
		{"three bytes", curl[:3], 443, probe.ByContent},
		{"two bytes", curl[:2], 443, probe.NotMine},
		{"empty", nil, 443, probe.NotMine},
		{"HTTP on 443", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 443, probe.NotMine},
		{"ServerHello", serverHello, 443, probe.NotMine},
		{"application data record", []byte{0x17, 0x03, 0x03, 0x00, 0x10, 0x01}, 443, probe.NotMine},
		{"alert record", []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28}, 443, probe.NotMine},
		{"unknown record version 3.5", []byte{0x16, 0x03, 0x05, 0x00, 0x10, 0x01}, 443, probe.NotMine},
		{"record version 2.0", []byte{0x16, 0x02, 0x00, 0x00, 0x10, 0x01}, 443, probe.NotMine},
		{"empty first record", []byte{0x16, 0x03, 0x01, 0x00, 0x00, 0x16}, 443, probe.NotMine},
		{"SSLv2 compatible hello", mustHex(testsslSSLv2Hello), 443, probe.Certain},
		{"SSLv2 hello, first 11 bytes", mustHex(testsslSSLv2Hello)[:11], 443, probe.Certain},
		{"SSLv2 hello, first 10 bytes", mustHex(testsslSSLv2Hello)[:10], 443, probe.ByContent},
		{"SSLv2 hello, first 7 bytes", mustHex(testsslSSLv2Hello)[:7], 443, probe.ByContent},
		{"SSLv2 hello, first 6 bytes", mustHex(testsslSSLv2Hello)[:6], 443, probe.NotMine},
		{"SSLv2 hello with a length that disagrees", patch(mustHex(testsslSSLv2Hello), 1, 0x41), 443, probe.NotMine},
		{"SSLv2 hello with 17-byte session id", patch(mustHex(testsslSSLv2Hello), 7, 0x00, 0x11), 443, probe.NotMine},
		{"SunRPC record marking (nmap)", mustHex("8000002872fe1d130000000000000002000186a00001977c0000000000000000000000000000000000000000"), 443, probe.NotMine},
	} {
		if got := svc.Detect(tc.payload, probe.TCP, tc.port); got != tc.want {
			t.Errorf("%s: Detect = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestKind(t *testing.T) {
	svc := New()
	if svc.Name() != "tls" {
		t.Fatalf("Name = %q", svc.Name())
	}
	option := []string{"handshake_ciphersuites", "handshake_comp_methods", "extensions", "extensions_hash_algs",
		"extensions_supported_groups", "extensions_ec_point_formats", "extensions_alpn", "extensions_supported_versions",
		// Versions and fingerprints are one-item options: one pixel per value.
		"tls_version", "handshake_version", "ja3", "ja3_string", "ja4"}
	for _, f := range fieldOrder {
		want := probe.KindString
		if slices.Contains(option, f) {
			want = probe.KindOption
		}
		if got := svc.Kind(f); got != want {
			t.Errorf("Kind(%s) = %v, want %v", f, got, want)
		}
	}
	if svc.Kind("no_such_field") != probe.KindString {
		t.Error("unknown fields should default to string")
	}
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xffff; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if want := uint16(n-1)<<12 | uint16(n-1)<<4 | 0x0a0a; uint16(v) != want {
				t.Errorf("GREASE #%d = %#04x, want %#04x", n, v, want)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

// The worked example of the FoxIO JA4 specification, rebuilt as bytes.
func TestJA4SpecExample(t *testing.T) {
	spec := helloSpec{
		version: 0x0303,
		ciphers: []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
	}
	for _, typ := range []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015} {
		switch typ {
		case ExtServerName:
			spec.exts = append(spec.exts, sniExt("example.com"))
		case ExtALPN:
			spec.exts = append(spec.exts, alpnExt("h2", "http/1.1"))
		case ExtSignatureAlgorithms:
			spec.exts = append(spec.exts, u16ListExt(typ, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601))
		case ExtSupportedVersions:
			spec.exts = append(spec.exts, versionsExt(0x0304, 0x0303))
		case ExtSupportedGroups:
			spec.exts = append(spec.exts, u16ListExt(typ, 29, 23))
		case ExtECPointFormats:
			spec.exts = append(spec.exts, pointFormatsExt(0))
		default:
			spec.exts = append(spec.exts, Extension{Type: typ})
		}
	}
	ch, err := ParseClientHello(inRecords(spec.handshake(), 0x0301))
	if err != nil {
		t.Fatal(err)
	}
	if got := ch.JA4(); got != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("JA4 = %s", got)
	}
	// Without signature algorithms the hash covers the extension list alone.
	var noSig []Extension
	for _, e := range spec.exts {
		if e.Type != ExtSignatureAlgorithms {
			noSig = append(noSig, e)
		}
	}
	spec.exts = noSig
	ch, err = ParseClientHello(inRecords(spec.handshake(), 0x0301))
	if err != nil {
		t.Fatal(err)
	}
	want := "t13d1515h2_8daaf6152771_" + sha12("0005,000a,000b,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01")
	if got := ch.JA4(); got != want {
		t.Errorf("JA4 without sigalgs = %s, want %s", got, want)
	}
}

func TestGREASENormalised(t *testing.T) {
	spec := helloSpec{
		version: 0x0303,
		ciphers: []uint16{0x2a2a, 0x1301, 0xc02f},
		exts: []Extension{
			{Type: 0xdada},
			sniExt("example.com"),
			u16ListExt(ExtSupportedGroups, 0x8a8a, 29, 23),
			alpnExt("h2", "http/1.1"),
			u16ListExt(ExtSignatureAlgorithms, 0x0403, 0x0804),
			versionsExt(0x4a4a, 0x0304, 0x0303),
			pointFormatsExt(0),
			{Type: 0xfafa, Data: []byte{0}},
		},
	}
	fs, err := New().Parse(inRecords(spec.handshake(), 0x0301), probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		FieldCipherSuites:        "GREASE,TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		FieldExtensions:          "GREASE,0,10,16,13,43,11,GREASE",
		FieldSupportedGroups:     "GREASE,x25519,secp256r1",
		FieldSupportedVersions:   "GREASE,0x0304,0x0303",
		FieldSignatureAlgorithms: "ecdsa_secp256r1_sha256,rsa_pss_rsae_sha256",
		FieldSNI:                 "example.com",
		FieldALPN:                "h2,http/1.1",
		FieldECPointFormats:      "0",
		FieldJA3String:           "771,4865-49199,0-10-16-13-43-11,29-23,0",
		FieldJA3:                 JA3MD5("771,4865-49199,0-10-16-13-43-11,29-23,0"),
		FieldJA4:                 "t13d0206h2_" + sha12("1301,c02f") + "_" + sha12("000a,000b,000d,002b_0403,0804"),
	} {
		if got := fs.Value(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	f, _ := fs.Get(FieldExtensions)
	if len(f.Items) != 8 || f.Items[0] != "GREASE" || f.Items[7] != "GREASE" {
		t.Errorf("extension items %q", f.Items)
	}
}

func TestSSLv3WithoutExtensions(t *testing.T) {
	fs, err := New().Parse(mustHex(nmapSSLv3Hello), probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		FieldVersion:             "0x0300",
		FieldHandshakeVersion:    "0x0300",
		FieldRandom:              "3f47d7f7ba2ceeeab2607ef300fd827bb9d596c8779be6c4db3c3ddb6fef106e",
		FieldTime:                "1061672951",
		FieldSessionID:           "",
		FieldCompression:         "0",
		FieldExtensions:          probe.NotAvailable,
		FieldSignatureAlgorithms: probe.NotAvailable,
		FieldSupportedGroups:     probe.NotAvailable,
		FieldECPointFormats:      probe.NotAvailable,
		FieldSNI:                 probe.NotAvailable,
		FieldALPN:                probe.NotAvailable,
		FieldSupportedVersions:   probe.NotAvailable,
		FieldJA3String:           "768,22-19-10-102-5-4-101-100-99-98-97-96-21-18-9-20-17-8-6-3,,,",
		FieldJA3:                 "ee0799c323d74129b75b633dcfd41593",
		FieldJA4:                 "ts3i200000_1a40976cc687_000000000000",
	}
	for name, w := range want {
		if got := fs.Value(name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	f, _ := fs.Get(FieldCipherSuites)
	if len(f.Items) != 20 || f.Items[0] != "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA" || f.Items[3] != "0x0066" || f.Items[19] != "TLS_RSA_EXPORT_WITH_RC4_40_MD5" {
		t.Errorf("cipher suite items %q", f.Items)
	}
	for _, name := range []string{FieldExtensions, FieldSNI, FieldALPN} {
		if f, _ := fs.Get(name); f.Items != nil {
			t.Errorf("%s: absent field has items %q", name, f.Items)
		}
	}
}

func TestEmptyExtensionBlockAndEmptyLists(t *testing.T) {
	spec := helloSpec{version: 0x0303, ciphers: []uint16{0x002f}, exts: []Extension{}}
	fs, err := New().Parse(inRecords(spec.handshake(), 0x0301), probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	if v := fs.Value(FieldExtensions); v != "" {
		t.Errorf("empty extension block gives %q, want empty string (not N/A)", v)
	}
	if v := fs.Value(FieldJA4); v != "t12i010000_"+sha12("002f")+"_000000000000" {
		t.Errorf("JA4 = %s", v)
	}
	spec.exts = []Extension{alpnExt(), {Type: ExtServerName}, u16ListExt(ExtSupportedGroups)}
	fs, err = New().Parse(inRecords(spec.handshake(), 0x0301), probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{FieldALPN: "", FieldSNI: "", FieldSupportedGroups: "", FieldSignatureAlgorithms: probe.NotAvailable} {
		if got := fs.Value(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// SNI and ALPN only: nothing left to hash in part c.
	if v := fs.Value(FieldJA4); !strings.HasPrefix(v, "t12d010300_") || !strings.HasSuffix(v, "_"+sha12("000a")) {
		t.Errorf("JA4 = %s", v)
	}
}

func TestALPNChars(t *testing.T) {
	for proto, want := range map[string]string{
		"h2": "h2", "http/1.1": "h1", "": "00", "h": "hh",
		"\xab": "ab", "\xab\xcd": "ad", "0\xab": "3b", "01\xab\xcd": "3d", "0\xab\xcd1": "01",
		"stun.nat-discovery": "sy",
	} {
		if got := alpnChars(proto); got != want {
			t.Errorf("alpnChars(%q) = %q, want %q", proto, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{CipherSuiteName(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{CipherSuiteName(0x1303), "TLS_CHACHA20_POLY1305_SHA256"},
		{CipherSuiteName(0x00ff), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{CipherSuiteName(0x5600), "TLS_FALLBACK_SCSV"},
		{CipherSuiteName(0x1234), "0x1234"},
		{CipherSuiteName(0x3a3a), "GREASE"},
		{GroupName(29), "x25519"},
		{GroupName(23), "secp256r1"},
		{GroupName(4588), "X25519MLKEM768"},
		{GroupName(0x0100), "ffdhe2048"},
		{GroupName(0x1234), "0x1234"},
		{SignatureSchemeName(0x0403), "ecdsa_secp256r1_sha256"},
		{SignatureSchemeName(0x0804), "rsa_pss_rsae_sha256"},
		{SignatureSchemeName(0x0402), "0x0402"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// splitPoints returns every way to cut msg into two records, or a sample of
// them under -short.
func splitPoints(n int) []int {
	var cuts []int
	for c := 1; c < n; c++ {
		if !testing.Short() || c < 12 || c%37 == 0 || c > n-3 {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

func TestSplitAcrossRecords(t *testing.T) {
	whole := mustHex(curlHello)
	want, err := New().Parse(whole, probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	msg := whole[recordHeaderLen:]
	check := func(label string, payload []byte) {
		t.Helper()
		got, err := New().Parse(payload, probe.TCP)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if mustJSON(got) != mustJSON(want) {
			t.Fatalf("%s: fields differ from the single-record parse", label)
		}
		ch, _ := ParseClientHello(payload)
		if ch.Length != len(payload) {
			t.Fatalf("%s: Length %d, want %d", label, ch.Length, len(payload))
		}
	}
	for _, cut := range splitPoints(len(msg)) {
		check(fmt.Sprintf("cut at %d", cut), inRecords(msg, 0x0301, cut))
	}
	check("three records, header split", inRecords(msg, 0x0301, 2, 100))
	check("one byte per record for the first bytes", inRecords(msg, 0x0301, 1, 2, 3, 4, 5))

	// Data after the hello (a second handshake record) is ignored.
	trailing := append(slices.Clone(whole), 0x16, 0x03, 0x01, 0x00, 0x01, 0x00)
	check2, err := ParseClientHello(trailing)
	if err != nil || check2.Length != len(whole) {
		t.Errorf("trailing record: %v, length %v", err, check2)
	}
}

func TestCompleteAtEveryPrefix(t *testing.T) {
	svc := New()
	msg := mustHex(curlHello)[recordHeaderLen:]
	for _, payload := range [][]byte{
		inRecords(msg, 0x0301),
		inRecords(msg, 0x0301, 300),
		inRecords(msg, 0x0301, 2),
		mustHex(nmapSSLv3Hello),
	} {
		for n := 0; n <= len(payload); n++ {
			if got := svc.Complete(payload[:n], probe.TCP); got != (n == len(payload)) {
				t.Fatalf("Complete(prefix %d of %d) = %v", n, len(payload), got)
			}
		}
	}
	// A second record that is not handshake can never complete the hello,
	// so reassembly need not wait for more.
	broken := append(inRecords(msg[:100], 0x0301), 0x17, 0x03, 0x03, 0x00, 0x10)
	if !svc.Complete(broken, probe.TCP) {
		t.Error("Complete should give up on an interleaved non-handshake record")
	}
}

func TestTruncatedAtEveryLength(t *testing.T) {
	payloads := [][]byte{mustHex(curlHello), mustHex(nmapSSLv3Hello), inRecords(mustHex(curlHello)[recordHeaderLen:], 0x0301, 77)}
	if !testing.Short() {
		seen := map[string]bool{}
		for _, h := range loadCorpus(t) {
			if !seen[h.Want.JA4] {
				seen[h.Want.JA4] = true
				payloads = append(payloads, h.Payload)
			}
		}
	}
	for _, p := range payloads {
		for n := 0; n < len(p); n++ {
			_, err := ParseClientHello(p[:n])
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrTruncated) {
				t.Fatalf("prefix %d of %d: err = %v, want a truncation ParseError", n, len(p), err)
			}
			if pe.Offset > n || !strings.Contains(err.Error(), fmt.Sprintf("at offset %d", pe.Offset)) {
				t.Fatalf("prefix %d: offset %d in %q", n, pe.Offset, err)
			}
		}
	}
}

func TestErrorMessagesNameTheOffset(t *testing.T) {
	spec := helloSpec{version: 0x0303, ciphers: []uint16{0x1301, 0x1302, 0x1303}, exts: []Extension{sniExt("a.example")}}
	msg := spec.handshake()
	one := inRecords(msg, 0x0301)
	// Record header 5 + handshake header 4 + version 2 + random 32 + session id length 1.
	const suitesAt = 44
	two := inRecords(msg, 0x0301, 20)
	for _, tc := range []struct {
		name      string
		payload   []byte
		want      string
		truncated bool
		notHello  bool
	}{
		{"cut inside cipher suites", one[:suitesAt+3], "tls: truncated cipher suites at offset 44", true, false},
		{"cut inside random", one[:20], "tls: truncated random at offset 11", true, false},
		{"cut inside cipher suites, two records", two[:suitesAt+5+3], "tls: truncated cipher suites at offset 49", true, false},
		{"cut in the record header", one[:3], "tls: truncated record header at offset 0", true, false},
		{"cut in the second record header", two[:27], "tls: truncated random at offset 11", true, false},
		{"server hello", append([]byte{0x16, 0x03, 0x03, 0x00, 0x04, 0x02}, 0, 0, 0), "tls: handshake type 2 is not ClientHello at offset 5", false, true},
		{"alert", []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28}, "tls: record type 0x15 is not handshake at offset 0", false, true},
		{"odd cipher suites", patch(one, suitesAt, 0x00, 0x05), "tls: odd cipher suites length 5 at offset 46", false, false},
		{"cipher suites overrun a whole message", patch(one, suitesAt, 0x01, 0x00), "tls: truncated cipher suites at offset 44", false, false},
		{"trailing bytes", withTrailing(spec), "tls: 2 trailing bytes after extensions at offset 74", false, false},
	} {
		_, err := ParseClientHello(tc.payload)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
			continue
		}
		if errors.Is(err, ErrTruncated) != tc.truncated || errors.Is(err, ErrNotClientHello) != tc.notHello {
			t.Errorf("%s: truncated=%v notHello=%v", tc.name, errors.Is(err, ErrTruncated), errors.Is(err, ErrNotClientHello))
		}
	}
}

func patch(b []byte, at int, vs ...byte) []byte {
	out := slices.Clone(b)
	copy(out[at:], vs)
	return out
}

// withTrailing appends two bytes inside the handshake message after the
// extension block, fixing up both lengths so only the trailing bytes are wrong.
func withTrailing(spec helloSpec) []byte {
	msg := append(spec.handshake(), 0xaa, 0xbb)
	n := len(msg) - handshakeHeaderLen
	msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
	return inRecords(msg, 0x0301)
}

func TestSSLv2Hello(t *testing.T) {
	svc := New()
	b := mustHex(testsslSSLv2Hello)
	fs, err := svc.Parse(b, probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		FieldVersion:          "0x0002",
		FieldHandshakeVersion: "0x0002",
		FieldRandom:           "2922beb35a018b04fe5f8003a013ebc4",
		FieldTime:             "690142899",
		FieldSessionID:        "",
		// 050080 030080 010080 0700c0 080080 060040 040080 020080 060140 0701c0 ff8000 ff8010 000000
		FieldCipherSuites: "SSL_CK_IDEA_128_CBC_WITH_MD5,SSL_CK_RC2_128_CBC_WITH_MD5,SSL_CK_RC4_128_WITH_MD5,SSL_CK_DES_192_EDE3_CBC_WITH_MD5," +
			"0x080080,SSL_CK_DES_64_CBC_WITH_MD5,SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5,SSL_CK_RC4_128_EXPORT40_WITH_MD5," +
			"0x060140,0x0701c0,0xff8000,0xff8010,TLS_NULL_WITH_NULL_NULL",
		FieldCompression: probe.NotAvailable,
		FieldExtensions:  probe.NotAvailable,
		FieldJA3String:   probe.NotAvailable,
		FieldJA3:         probe.NotAvailable,
		FieldJA4:         probe.NotAvailable,
	}
	for name, w := range want {
		if got := fs.Value(name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	if len(fs) != len(fieldOrder) {
		t.Errorf("%d fields, want %d", len(fs), len(fieldOrder))
	}
	if _, _, _, err := Fingerprint(b); !errors.Is(err, ErrNoFingerprint) {
		t.Errorf("Fingerprint: %v, want ErrNoFingerprint", err)
	}
	for n := sslv2PrefixLen; n <= len(b); n++ {
		if got := svc.Complete(b[:n], probe.TCP); got != (n == len(b)) {
			t.Fatalf("Complete(prefix %d of %d) = %v", n, len(b), got)
		}
		if n == len(b) {
			continue
		}
		_, err := ParseClientHello(b[:n])
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "truncated SSLv2") || svc.Detect(b[:n], probe.TCP, 443) == probe.NotMine {
			t.Fatalf("prefix %d: %v", n, err)
		}
	}
	if _, err := ParseClientHello(b[:20]); err == nil || err.Error() != "tls: truncated SSLv2 cipher specs at offset 11" {
		t.Errorf("cut in cipher specs: %v", err)
	}
}
