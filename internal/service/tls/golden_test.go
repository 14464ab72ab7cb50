package tls

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// corpusHello is one ClientHello captured from a real scanner tool, with the
// fields an independent parser (and tshark, for JA3) extracted from it.
type corpusHello struct {
	Tool    string
	Payload []byte
	Want    struct {
		RecordVersion       string   `json:"record_version"`
		ClientVersion       string   `json:"client_version"`
		SessionIDLen        int      `json:"session_id_len"`
		CipherSuites        []string `json:"cipher_suites"`
		Compression         []int    `json:"compression"`
		Extensions          []int    `json:"extensions"`
		SupportedGroups     []int    `json:"supported_groups"`
		ECPointFormats      []int    `json:"ec_point_formats"`
		SignatureAlgorithms []string `json:"signature_algorithms"`
		SupportedVersions   []string `json:"supported_versions"`
		ALPN                []string `json:"alpn"`
		SNI                 *string  `json:"sni"`
		GREASE              bool     `json:"grease"`
		JA3                 string   `json:"ja3"`
		JA3MD5              string   `json:"ja3_md5"`
		JA4                 string   `json:"ja4"`
		CHLen               int      `json:"ch_len"`
	}
}

// corpusRecord is a record of the real-tool probe corpus as read, with its
// tls object (absent or null when the payload is no ClientHello) still raw.
type corpusRecord struct {
	sharedtest.CorpusProbe
	HelloHex string          `json:"tls_clienthello_hex"`
	TLS      json.RawMessage `json:"tls"`
}

// loadCorpus returns every ClientHello of the real-tool probe corpus: the
// records with a tls_clienthello_hex, and those whose payload_hex carries a
// parsed tls object (tools captured on the raw TLS listener).
func loadCorpus(t testing.TB) []corpusHello {
	t.Helper()
	var out []corpusHello
	for i, rec := range sharedtest.ProbeCorpus[corpusRecord](t) {
		line := i + 1
		if len(rec.TLS) == 0 || string(rec.TLS) == "null" {
			continue
		}
		h := corpusHello{Tool: rec.Tool}
		if err := json.Unmarshal(rec.TLS, &h.Want); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		src := rec.HelloHex
		if src == "" {
			src = rec.PayloadHex
		}
		payload, err := hex.DecodeString(src)
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		h.Payload = payload
		out = append(out, h)
	}
	if len(out) < 250 {
		t.Fatalf("only %d ClientHellos in the corpus; expected the full capture set", len(out))
	}
	return out
}

func parseHex(t *testing.T, s string) uint16 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
	if err != nil {
		t.Fatalf("bad hex %q in corpus", s)
	}
	return uint16(v)
}

func hexes(t *testing.T, ss []string) []uint16 {
	out := make([]uint16, 0, len(ss))
	for _, s := range ss {
		out = append(out, parseHex(t, s))
	}
	return out
}

func ints16(vs []int) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		out = append(out, uint16(v))
	}
	return out
}

func TestGoldenCorpus(t *testing.T) {
	hellos := loadCorpus(t)
	svc := New()
	tools := map[string]int{}
	for i, h := range hellos {
		w := h.Want
		ch, err := ParseClientHello(h.Payload)
		if err != nil {
			t.Errorf("#%d %s: %v", i, h.Tool, err)
			continue
		}
		tools[h.Tool]++
		check := func(what string, got, want any) {
			t.Helper()
			if gj, wj := mustJSON(got), mustJSON(want); gj != wj {
				t.Errorf("#%d %s %s: got %s, want %s", i, h.Tool, what, gj, wj)
			}
		}
		check("record version", ch.RecordVersion, parseHex(t, w.RecordVersion))
		check("client version", ch.Version, parseHex(t, w.ClientVersion))
		check("session id length", len(ch.SessionID), w.SessionIDLen)
		check("cipher suites", ch.CipherSuites, hexes(t, w.CipherSuites))
		compression := make([]int, len(ch.CompressionMethods))
		for j, c := range ch.CompressionMethods {
			compression[j] = int(c)
		}
		check("compression", compression, w.Compression)
		types := make([]uint16, 0, len(ch.Extensions))
		for _, e := range ch.Extensions {
			types = append(types, e.Type)
		}
		check("extensions", types, ints16(w.Extensions))
		check("supported groups", nilIfEmpty(ch.SupportedGroups), nilIfEmpty(ints16(w.SupportedGroups)))
		points := make([]uint16, 0, len(ch.ECPointFormats))
		for _, p := range ch.ECPointFormats {
			points = append(points, uint16(p))
		}
		check("ec point formats", nilIfEmpty(points), nilIfEmpty(ints16(w.ECPointFormats)))
		check("signature algorithms", nilIfEmpty(ch.SignatureAlgorithms), nilIfEmpty(hexes(t, w.SignatureAlgorithms)))
		check("supported versions", nilIfEmpty(ch.SupportedVersions), nilIfEmpty(hexes(t, w.SupportedVersions)))
		check("alpn", ch.ALPN, nilIfEmptyS(w.ALPN))
		if w.SNI == nil {
			check("sni present", ch.HasExtension(ExtServerName), false)
		} else {
			check("sni", ch.ServerName, *w.SNI)
		}
		check("hello length", ch.Length, w.CHLen)
		check("ja3", ch.JA3(), w.JA3)
		check("ja3 md5", JA3MD5(ch.JA3()), w.JA3MD5)
		check("ja4", ch.JA4(), w.JA4)

		// The service view of the same bytes.
		if c := svc.Detect(h.Payload, probe.TCP, 443); c != probe.Certain {
			t.Errorf("#%d %s: Detect = %d, want Certain", i, h.Tool, c)
		}
		if !svc.Complete(h.Payload, probe.TCP) {
			t.Errorf("#%d %s: Complete = false on a whole hello", i, h.Tool)
		}
		fs, err := svc.Parse(h.Payload, probe.TCP)
		if err != nil {
			t.Errorf("#%d %s: Parse: %v", i, h.Tool, err)
			continue
		}
		checkFieldsAgainstCorpus(t, i, h, fs)
	}
	for _, tool := range []string{"testssl", "nmap-sV-tcp", "curl-https", "sslscan", "openssl-s_client", "zgrab2-tls", "gnutls-cli", "go-nethttp"} {
		if tools[tool] == 0 {
			t.Errorf("no hello from %s was checked", tool)
		}
	}
	t.Logf("checked %d hellos from %d tools", len(hellos), len(tools))
}

// checkFieldsAgainstCorpus compares the probe fields with the corpus values
// re-rendered by the field rules (GREASE → "GREASE", absent → N/A).
func checkFieldsAgainstCorpus(t *testing.T, i int, h corpusHello, fs probe.Fields) {
	t.Helper()
	w := h.Want
	names := make([]string, len(fs))
	for j, f := range fs {
		names[j] = f.Name
	}
	if !slices.Equal(names, fieldOrder) {
		t.Fatalf("field order %v, want %v", names, fieldOrder)
	}
	items := func(name string) []string {
		f, _ := fs.Get(name)
		if f.Value != strings.Join(f.Items, ",") && f.Value != probe.NotAvailable {
			t.Errorf("#%d %s: %s value %q is not its items joined", i, h.Tool, name, f.Value)
		}
		return f.Items
	}
	greaseSeen := false
	render := func(vs []uint16, name func(uint16) string) []string {
		out := []string{}
		for _, v := range vs {
			if IsGREASE(v) {
				greaseSeen = true
				out = append(out, "GREASE")
			} else {
				out = append(out, name(v))
			}
		}
		return out
	}
	dec := func(v uint16) string { return strconv.Itoa(int(v)) }
	eq := func(what string, got, want []string) {
		t.Helper()
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !slices.Equal(got, want) {
			t.Errorf("#%d %s %s: got %v, want %v", i, h.Tool, what, got, want)
		}
	}
	eq("ciphersuites", items(FieldCipherSuites), render(hexes(t, w.CipherSuites), CipherSuiteName))
	eq("extensions", items(FieldExtensions), render(ints16(w.Extensions), dec))
	eq("groups", items(FieldSupportedGroups), render(ints16(w.SupportedGroups), GroupName))
	eq("sigalgs", items(FieldSignatureAlgorithms), render(hexes(t, w.SignatureAlgorithms), SignatureSchemeName))
	eq("versions", items(FieldSupportedVersions), render(hexes(t, w.SupportedVersions), hex4))
	eq("alpn", items(FieldALPN), w.ALPN)
	if greaseSeen != w.GREASE {
		t.Errorf("#%d %s: GREASE seen %v, corpus says %v", i, h.Tool, greaseSeen, w.GREASE)
	}
	for _, f := range fs {
		if f.Name == FieldJA3String && f.Value != w.JA3 || f.Name == FieldJA3 && f.Value != w.JA3MD5 || f.Name == FieldJA4 && f.Value != w.JA4 {
			t.Errorf("#%d %s: field %s = %q disagrees with the corpus", i, h.Tool, f.Name, f.Value)
		}
	}
	if w.SNI == nil && fs.Value(FieldSNI) != probe.NotAvailable {
		t.Errorf("#%d %s: SNI field %q, want N/A", i, h.Tool, fs.Value(FieldSNI))
	}
	if len(w.ALPN) == 0 && fs.Value(FieldALPN) != probe.NotAvailable {
		t.Errorf("#%d %s: ALPN field %q, want N/A", i, h.Tool, fs.Value(FieldALPN))
	}
}

var fieldOrder = []string{
	"tls_version", "handshake_version", "handshake_random_bytes", "handshake_time",
	"handshake_sessionid", "handshake_ciphersuites", "handshake_comp_methods", "extensions",
	"extensions_hash_algs", "extensions_supported_groups", "extensions_ec_point_formats",
	"extensions_sni", "extensions_alpn", "extensions_supported_versions", "ja3_string", "ja3", "ja4",
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func nilIfEmpty(v []uint16) []uint16 {
	if len(v) == 0 {
		return nil
	}
	return v
}

func nilIfEmptyS(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// TestCorpusOtherProbes runs Detect over every captured probe that is not a
// TLS-record ClientHello (HTTP, DNS, nmap's service probes, alerts): only the
// SSLv2 hellos of sslscan and testssl may be claimed, and they must parse.
func TestCorpusOtherProbes(t *testing.T) {
	svc := New()
	others, sslv2 := 0, 0
	for _, rec := range sharedtest.ProbeCorpus[corpusRecord](t) {
		payload, err := hex.DecodeString(rec.PayloadHex)
		if err != nil {
			t.Fatal(err)
		}
		if len(payload) == 0 || (len(rec.TLS) > 0 && string(rec.TLS) != "null") {
			continue
		}
		others++
		isSSLv2 := (rec.Tool == "sslscan" || rec.Tool == "testssl") && payload[0] == 0x80 && payload[2] == 1
		got := svc.Detect(payload, probe.TCP, 443)
		if !isSSLv2 {
			if got != probe.NotMine {
				t.Errorf("%s payload %x...: Detect = %d, want NotMine", rec.Tool, payload[:min(8, len(payload))], got)
			}
			continue
		}
		sslv2++
		if len(payload) < sslv2FixedLen {
			// sslscan's first segment holds only the SSLv2 header.
			_, err := ParseClientHello(payload)
			if got != probe.ByContent || svc.Complete(payload, probe.TCP) || !errors.Is(err, ErrTruncated) {
				t.Errorf("%s SSLv2 header segment: Detect %d, parse %v", rec.Tool, got, err)
			}
			continue
		}
		ch, err := ParseClientHello(payload)
		if got != probe.Certain || err != nil || !ch.SSLv2 || ch.Length != len(payload) || !svc.Complete(payload, probe.TCP) {
			t.Errorf("%s SSLv2 hello: Detect %d, parse %v", rec.Tool, got, err)
		}
	}
	if others < 130 || sslv2 != 3 {
		t.Errorf("saw %d other probes and %d SSLv2 hellos; the corpus has more than 130 and 3", others, sslv2)
	}
}
