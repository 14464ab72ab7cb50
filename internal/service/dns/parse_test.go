package dns

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// nmapVersionBindTCP is nmap -sV's DNSVersionBindReqTCP probe, as captured in
// the real tool corpus.
const nmapVersionBindTCP = "001e0006010000010000000000000776657273696f6e0462696e640000100003"

func render(fs probe.Fields) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + "=" + f.Value + " ")
	}
	return strings.TrimSpace(b.String())
}

// msg assembles a message from a header and raw section bytes.
func msg(id, flags, qd, an, ns, ar uint16, sections ...[]byte) []byte {
	b := []byte{
		byte(id >> 8), byte(id), byte(flags >> 8), byte(flags),
		byte(qd >> 8), byte(qd), byte(an >> 8), byte(an),
		byte(ns >> 8), byte(ns), byte(ar >> 8), byte(ar),
	}
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// name encodes labels as sent (no case folding, any bytes).
func name(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func question(n []byte, qtype, qclass uint16) []byte {
	return append(append(append([]byte{}, n...), u16(qtype)...), u16(qclass)...)
}

// opt is an EDNS0 OPT pseudo-record with a 1232-byte UDP size, no options.
var opt = []byte{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0}

// aRecord is an A record for the root, 1.2.3.4.
var aRecord = []byte{0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4}

func tcp(m []byte) []byte { return append(u16(uint16(len(m))), m...) }

func wantHeader(id, qr, opcode, aa, tc, rd, ra, z, ad, cd, rcode, qd, an, ns, ar string) string {
	return "id=" + id + " qr=" + qr + " opcode=" + opcode + " aa=" + aa + " tc=" + tc + " rd=" + rd +
		" ra=" + ra + " z=" + z + " ad=" + ad + " cd=" + cd + " rcode=" + rcode +
		" qdcount=" + qd + " ancount=" + an + " nscount=" + ns + " arcount=" + ar
}

func TestParseMessages(t *testing.T) {
	versionBind := mustHex(t, nmapVersionBindTCP)
	cases := []struct {
		name      string
		payload   []byte
		transport probe.Transport
		want      string
	}{
		{"nmap version.bind over TCP", versionBind, probe.TCP,
			wantHeader("6", "0", "0", "0", "0", "1", "0", "0", "0", "0", "0", "1", "0", "0", "0") +
				" qname=version.bind qtype=16 qclass=3 edns=0"},
		{"upper case kept", msg(1, 0, 1, 0, 0, 0, question(name("VERSION", "BIND"), 16, 3)), probe.UDP,
			wantHeader("1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "0") +
				" qname=VERSION.BIND qtype=16 qclass=3 edns=0"},
		{"0x20 randomised case kept", msg(65535, 0x0100, 1, 0, 0, 1, question(name("wWw", "ExAmPlE", "cOm"), 1, 1), opt), probe.UDP,
			wantHeader("65535", "0", "0", "0", "0", "1", "0", "0", "0", "0", "0", "1", "0", "0", "1") +
				" qname=wWw.ExAmPlE.cOm qtype=1 qclass=1 edns=1"},
		{"every flag bit", msg(2, 0x87f0|0x0f, 1, 0, 0, 0, question(name("a"), 1, 1)), probe.UDP,
			wantHeader("2", "1", "0", "1", "1", "1", "1", "1", "1", "1", "15", "1", "0", "0", "0") +
				" qname=a qtype=1 qclass=1 edns=0"},
		{"opcode and z", msg(3, 0x2840, 1, 0, 0, 0, question(name("a"), 6, 1)), probe.UDP,
			wantHeader("3", "0", "5", "0", "0", "0", "0", "1", "0", "0", "0", "1", "0", "0", "0") +
				" qname=a qtype=6 qclass=1 edns=0"},
		{"root name", msg(4, 0, 1, 0, 0, 1, question(name(), 2, 1), opt), probe.UDP,
			wantHeader("4", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "1") +
				" qname=. qtype=2 qclass=1 edns=1"},
		{"OPT after another additional record", msg(5, 0, 1, 0, 0, 2, question(name("x"), 1, 1), aRecord, opt), probe.UDP,
			wantHeader("5", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "2") +
				" qname=x qtype=1 qclass=1 edns=1"},
		{"only the first of two questions", msg(6, 0, 2, 0, 0, 0, question(name("first", "org"), 1, 1), question([]byte{4, 's', 'e', 'c', 'o', 0xc0, 18}, 28, 1)), probe.UDP,
			wantHeader("6", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "2", "0", "0", "0") +
				" qname=first.org qtype=1 qclass=1 edns=0"},
		{"compression pointer in the question", msg(7, 0, 1, 0, 0, 0, []byte{0xc0, 18, 0, 1, 0, 1}, name("ptr", "target")), probe.UDP,
			wantHeader("7", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "0") +
				" qname=ptr.target qtype=1 qclass=1 edns=0"},
		{"odd bytes escaped", msg(8, 0, 1, 0, 0, 0, question(name("a b", "c\\d", "\x00\xff"), 1, 1)), probe.UDP,
			wantHeader("8", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "0") +
				` qname=a\032b.c\\d.\000\255 qtype=1 qclass=1 edns=0`},
		{"additional section cut short", msg(9, 0, 1, 0, 0, 1, question(name("cut"), 1, 1), opt[:5]), probe.UDP,
			wantHeader("9", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "1") +
				" qname=cut qtype=1 qclass=1 edns=0"},
		{"TCP message cut short after the question", tcp(msg(10, 0, 1, 0, 0, 1, question(name("t"), 1, 1), opt))[:2+12+7], probe.TCP,
			wantHeader("10", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "1") +
				" qname=t qtype=1 qclass=1 edns=0"},
		{"TCP trailing bytes after the announced length ignored", append(tcp(msg(11, 0, 1, 0, 0, 0, question(name("t"), 1, 1))), 0xde, 0xad), probe.TCP,
			wantHeader("11", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "0") +
				" qname=t qtype=1 qclass=1 edns=0"},
	}
	svc := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := svc.Parse(tc.payload, tc.transport)
			if err != nil {
				t.Fatalf("Parse(%x): %v", tc.payload, err)
			}
			if got := render(fields); got != tc.want {
				t.Errorf("Parse(%x) =\n%s\nwant\n%s", tc.payload, got, tc.want)
			}
			js, _ := json.Marshal(fields)
			var back probe.Fields
			if err := json.Unmarshal(js, &back); err != nil || render(back) != render(fields) {
				t.Errorf("JSON round trip changed fields: %v", err)
			}
			for _, f := range fields {
				if f.Name != FieldQName && IntFieldWidths[f.Name] == 0 {
					t.Errorf("int field %q has no width", f.Name)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	q := question(name("example", "com"), 1, 1)
	cases := []struct {
		name      string
		payload   []byte
		transport probe.Transport
		want      string
	}{
		{"empty", nil, probe.UDP, "dns: header truncated at offset 0 (0 of 12 bytes)"},
		{"short header", msg(1, 0, 1, 0, 0, 0)[:11], probe.UDP, "dns: header truncated at offset 0 (11 of 12 bytes)"},
		{"no question", msg(1, 0x1000, 0, 0, 0, 0), probe.UDP, "dns: message has no question (qdcount 0 at offset 4)"},
		{"question name cut", msg(1, 0, 1, 0, 0, 0, q[:5]), probe.UDP, "dns: question 1 at offset 12: "},
		{"question type cut", msg(1, 0, 1, 0, 0, 0, q[:len(q)-1]), probe.UDP, "dns: question 1 at offset 12: "},
		{"pointer loop", msg(1, 0, 1, 0, 0, 0, []byte{0xc0, 12, 0, 1, 0, 1}), probe.UDP, "dns: question 1 at offset 12: unpacking Question.Name: too many pointers"},
		{"pointer past the end", msg(1, 0, 1, 0, 0, 0, []byte{0xc0, 200, 0, 1, 0, 1}), probe.UDP, "dns: question 1 at offset 12: "},
		{"reserved label type", msg(1, 0, 1, 0, 0, 0, []byte{0x40, 1, 0, 1, 0, 1}), probe.UDP, "dns: question 1 at offset 12: "},
		{"dot inside a label", msg(1, 0, 1, 0, 0, 0, question(name("a.b"), 1, 1)), probe.UDP, "dns: question 1 at offset 12: "},
		{"tcp prefix missing", []byte{0}, probe.TCP, "dns: TCP length prefix truncated at offset 0 (1 of 2 bytes)"},
		{"tcp prefix below header size", []byte{0, 11, 0, 0}, probe.TCP, "dns: TCP length prefix at offset 0 announces 11 bytes"},
		{"tcp header cut short", tcp(msg(1, 0, 1, 0, 0, 0, q))[:10], probe.TCP, "dns: header truncated at offset 0 (8 of 12 bytes)"},
	}
	svc := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Parse(tc.payload, tc.transport)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	q := question(name("example", "com"), 1, 1)
	query := msg(0x1234, 0x0100, 1, 0, 0, 0, q)
	cases := []struct {
		name      string
		payload   []byte
		transport probe.Transport
		port      uint16
		want      probe.Confidence
	}{
		{"udp query on 53", query, probe.UDP, 53, probe.Certain},
		{"udp query on mdns", query, probe.UDP, 5353, probe.Certain},
		{"udp query elsewhere", query, probe.UDP, 1234, probe.ByContent},
		{"tcp query", tcp(query), probe.TCP, 53, probe.Certain},
		{"tcp query cut short after the question", tcp(msg(1, 0, 1, 0, 0, 1, q, opt))[:2+12+len(q)], probe.TCP, 53, probe.Certain},
		{"tcp query without its prefix", query, probe.TCP, 53, probe.NotMine},
		{"udp query with a prefix", tcp(query), probe.UDP, 53, probe.NotMine},
		{"response", msg(1, 0x8180, 1, 0, 0, 0, q), probe.UDP, 53, probe.NotMine},
		{"unassigned opcode 3", msg(1, 0x1800, 1, 0, 0, 0, q), probe.UDP, 53, probe.NotMine},
		{"update opcode 5", msg(1, 0x2800, 1, 0, 0, 0, q), probe.UDP, 53, probe.Certain},
		{"rcode set", msg(1, 0x0003, 1, 0, 0, 0, q), probe.UDP, 53, probe.NotMine},
		{"no question", msg(1, 0x1000, 0, 0, 0, 0), probe.UDP, 53, probe.NotMine},
		{"too many questions", msg(1, 0, 5, 0, 0, 0, q, q, q, q, q), probe.UDP, 53, probe.NotMine},
		{"too many records", msg(1, 0, 1, 0, 0, 17, q), probe.UDP, 53, probe.NotMine},
		{"declared record missing from a datagram", msg(1, 0, 1, 0, 0, 1, q), probe.UDP, 53, probe.NotMine},
		{"question cut", msg(1, 0, 1, 0, 0, 0, q[:4]), probe.UDP, 53, probe.NotMine},
		{"pointer loop", msg(1, 0, 1, 0, 0, 0, []byte{0xc0, 12, 0, 1, 0, 1}), probe.UDP, 53, probe.NotMine},
		{"http on 53", []byte("GET / HTTP/1.1\r\n\r\n"), probe.TCP, 53, probe.NotMine},
		{"empty", nil, probe.UDP, 53, probe.NotMine},
	}
	svc := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := svc.Detect(tc.payload, tc.transport, tc.port); got != tc.want {
				t.Fatalf("Detect(%x, %s, %d) = %d, want %d", tc.payload, tc.transport, tc.port, got, tc.want)
			}
		})
	}
}

// Random binary payloads, the bulk of "other" traffic on port 53, must
// practically never be taken for queries.
func TestDetectRefusesRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261123, 53))
	svc := New()
	n := 200000
	if testing.Short() {
		n = 20000
	}
	claimed := 0
	buf := make([]byte, 512)
	for i := 0; i < n; i++ {
		b := buf[:12+rng.IntN(500)]
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		for _, tr := range []probe.Transport{probe.UDP, probe.TCP} {
			if svc.Detect(b, tr, 53) != probe.NotMine {
				claimed++
			}
		}
	}
	if claimed != 0 {
		t.Fatalf("%d of %d random payloads claimed as DNS", claimed, 2*n)
	}
}

func TestComplete(t *testing.T) {
	svc := New()
	m := tcp(msg(1, 0, 1, 0, 0, 0, question(name("a"), 1, 1)))
	for _, tc := range []struct {
		payload   []byte
		transport probe.Transport
		want      bool
	}{
		{m, probe.TCP, true},
		{m[:len(m)-1], probe.TCP, false},
		{m[:2], probe.TCP, false},
		{m[:1], probe.TCP, false},
		{nil, probe.TCP, false},
		{append(bytes.Clone(m), 1, 2, 3), probe.TCP, true},
		{m[2:5], probe.UDP, true},
	} {
		if got := svc.Complete(tc.payload, tc.transport); got != tc.want {
			t.Errorf("Complete(%x, %s) = %v, want %v", tc.payload, tc.transport, got, tc.want)
		}
	}
}

func TestKindAndWidths(t *testing.T) {
	svc := New()
	if svc.Name() != "dns" {
		t.Errorf("Name() = %q", svc.Name())
	}
	fields, err := svc.Parse(msg(1, 0, 1, 0, 0, 0, question(name("a"), 1, 1)), probe.UDP)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range fields {
		want := probe.KindInt
		if f.Name == FieldQName {
			want = probe.KindString
		}
		if got := svc.Kind(f.Name); got != want {
			t.Errorf("Kind(%q) = %v, want %v", f.Name, got, want)
		}
		total += IntFieldWidths[f.Name]
	}
	if len(fields) != 19 || len(IntFieldWidths) != 18 {
		t.Errorf("%d fields and %d int widths, want 19 and 18", len(fields), len(IntFieldWidths))
	}
	// 16+1+4+7×1+4+4×16+16+16+1: the DNS header and question in bits.
	if total != 129 {
		t.Errorf("int widths sum to %d bits, want 129", total)
	}
}
