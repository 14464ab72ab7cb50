package ssh

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// kexinit builds a client KEXINIT packet from its ten name-lists, with a
// cookie of 16 × c and padding to a multiple of 8 (at least 4 bytes).
func kexinit(c byte, lists [10]string, follows byte) []byte {
	msg := []byte{msgKexInit}
	msg = append(msg, bytes.Repeat([]byte{c}, 16)...)
	for _, l := range lists {
		msg = append(append(msg, u32(uint32(len(l)))...), l...)
	}
	msg = append(append(msg, follows), 0, 0, 0, 0)
	pad := 8 - (5+len(msg))%8
	if pad < 4 {
		pad += 8
	}
	out := append(u32(uint32(1+len(msg)+pad)), byte(pad))
	out = append(out, msg...)
	return append(out, make([]byte, pad)...)
}

var testLists = [10]string{
	"curve25519-sha256,diffie-hellman-group14-sha256", "ssh-ed25519,rsa-sha2-512",
	"aes128-ctr,aes256-ctr", "aes128-ctr,aes256-ctr", "hmac-sha2-256", "hmac-sha2-256",
	"none", "none", "", "",
}

func render(fs probe.Fields) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + "=" + f.Value + "\n")
	}
	return b.String()
}

func TestParseIdentLines(t *testing.T) {
	cases := []struct{ in, proto, software, comments string }{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n", "2.0", "OpenSSH_9.2p1", "Debian-2+deb12u6"},
		{"SSH-2.0-Go\r\n", "2.0", "Go", probe.NotAvailable},
		{"SSH-2.0-libssh_0.9.6\n", "2.0", "libssh_0.9.6", probe.NotAvailable},
		{"SSH-1.99-Cisco-1.25\r\n", "1.99", "Cisco-1.25", probe.NotAvailable},
		{"SSH-2.0-PuTTY_Release_0.78 a b  c\r\n", "2.0", "PuTTY_Release_0.78", "a b  c"},
		{"SSH-2.0\r\n", "2.0", probe.NotAvailable, probe.NotAvailable},
		{"SSH-2.0-\r\n", "2.0", "", probe.NotAvailable},
		{"SSH-2.0-x\tz\\\xff\r\n", "2.0", `x\x09z\x5c\xff`, probe.NotAvailable},
		{"SSH-2.0-unterminated", "2.0", "unterminated", probe.NotAvailable},
	}
	for _, c := range cases {
		fields, err := ParseClient([]byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		want := "proto_version=" + c.proto + "\nsoftware_version=" + c.software + "\ncomments=" + c.comments + "\n"
		if got := render(fields); got != want {
			t.Errorf("%q:\n%s\nwant\n%s", c.in, got, want)
		}
	}
}

func TestParseKexInit(t *testing.T) {
	payload := append([]byte("SSH-2.0-test_1.0 c\r\n"), kexinit(0xab, testLists, 1)...)
	fields, err := ParseClient(payload)
	if err != nil {
		t.Fatal(err)
	}
	algs := "curve25519-sha256,diffie-hellman-group14-sha256;aes128-ctr,aes256-ctr;hmac-sha2-256;none"
	want := "proto_version=2.0\nsoftware_version=test_1.0\ncomments=c\ncookie=" + strings.Repeat("ab", 16) + "\n" +
		"kex_algorithms=" + testLists[0] + "\nserver_host_key_algorithms=" + testLists[1] + "\n" +
		"encryption_algorithms_client_to_server=aes128-ctr,aes256-ctr\nencryption_algorithms_server_to_client=aes128-ctr,aes256-ctr\n" +
		"mac_algorithms_client_to_server=hmac-sha2-256\nmac_algorithms_server_to_client=hmac-sha2-256\n" +
		"compression_algorithms_client_to_server=none\ncompression_algorithms_server_to_client=none\n" +
		"languages_client_to_server=\nlanguages_server_to_client=\nfirst_kex_packet_follows=1\nreserved=0\n" +
		"hassh_algorithms=" + algs + "\nhassh=" + HASSH(algs) + "\n"
	if got := render(fields); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	kex, _ := fields.Get(FieldKex)
	if len(kex.Items) != 2 || kex.Items[1] != "diffie-hellman-group14-sha256" {
		t.Errorf("kex items %q", kex.Items)
	}
	if lang, _ := fields.Get(FieldLangC2S); lang.Items != nil {
		t.Errorf("empty list has items %q", lang.Items)
	}
	js, _ := json.Marshal(fields)
	var back probe.Fields
	if err := json.Unmarshal(js, &back); err != nil || render(back) != render(fields) {
		t.Errorf("JSON round trip changed fields: %v", err)
	}
	if !New().Complete(payload, probe.TCP) || New().Complete(payload[:len(payload)-1], probe.TCP) {
		t.Error("Complete wrong around the end of the KEXINIT packet")
	}
}

// The HASSH of Salesforce's own example: the Cyberduck client's lists from
// the hassh README give 8a8ae540028bf433cd68356c1b9e8d5b.
func TestHASSHOfSalesforceExample(t *testing.T) {
	algs := "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,diffie-hellman-group18-sha512@ssh.com;aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256;hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512;zlib@openssh.com,zlib,none"
	if got := HASSH(algs); got != "8a8ae540028bf433cd68356c1b9e8d5b" {
		t.Fatalf("HASSH %s", got)
	}
}

// Hostile input: every case is claimed (it starts like an identification
// string), parses without panic into at least the identification fields,
// and reports where a cut or a lie stopped it.
func TestHostileInput(t *testing.T) {
	good := kexinit(1, testLists, 0)
	ident := []byte("SSH-2.0-x\r\n")
	lying := bytes.Clone(good)
	copy(lying[4+1+1+16:], u32(1<<31)) // kex_algorithms claims 2 GiB
	banner := append([]byte("SSH-2.0-"), bytes.Repeat([]byte("A"), 100<<10)...)
	cases := []struct {
		name    string
		payload []byte
		fields  int
		err     string
		done    bool
	}{
		{"100 KiB banner without a line end", banner, 3, "", true},
		{"100 KiB banner with a line end", append(bytes.Clone(banner), "\r\n"...), 3, "", true},
		{"ident only", ident, 3, "", false},
		{"packet header cut", append(bytes.Clone(ident), good[:3]...), 3, "ssh: binary packet truncated at offset 11 (3 of 6 header bytes)", false},
		{"cookie cut", append(bytes.Clone(ident), good[:12]...), 3, "ssh: KEXINIT truncated in cookie at offset 17", false},
		{"name-list cut", append(bytes.Clone(ident), good[:40]...), 4, "ssh: kex_algorithms at offset 33: length 47 exceeds the 14 bytes left", false},
		{"after the lists", append(bytes.Clone(ident), good[:len(good)-int(good[4])-5]...), 3 + 11 + 2, "ssh: KEXINIT truncated in first_kex_packet_follows", false},
		{"lying name-list length", append(bytes.Clone(ident), lying...), 4, "ssh: kex_algorithms at offset 33: length 2147483648 exceeds", true},
		{"lying packet length", append(bytes.Clone(ident), append(u32(1<<30), good[4:]...)...), 3, "ssh: packet_length 1073741824 at offset 11 is over 35000", true},
		{"zero packet length", append(bytes.Clone(ident), 0, 0, 0, 0, 4, 20), 3, "ssh: packet_length 0 at offset 11 leaves no room", true},
		{"padding above the length", append(bytes.Clone(ident), 0, 0, 0, 8, 9, 20, 0, 0, 0, 0, 0, 0), 3, "ssh: packet_length 8 at offset 11 leaves no room for padding_length 9", true},
		{"not a KEXINIT", append(bytes.Clone(ident), 0, 0, 0, 12, 4, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 3, "ssh: first packet at offset 11 is message 21, not SSH_MSG_KEXINIT", true},
		{"SSH-1 client", append([]byte("SSH-1.5-x\n"), 0, 0, 0, 9, 1, 2, 3), 3, "", true},
	}
	svc := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if svc.Detect(c.payload, probe.TCP, 22) != probe.Certain {
				t.Error("not claimed on port 22")
			}
			if got := svc.Complete(c.payload, probe.TCP); got != c.done {
				t.Errorf("Complete = %v, want %v", got, c.done)
			}
			fields, err := svc.Parse(c.payload, probe.TCP)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if len(fields) != c.fields {
				t.Fatalf("%d fields, want %d:\n%s", len(fields), c.fields, render(fields))
			}
			size := 0
			for _, f := range fields {
				size += len(f.Name) + len(f.Value)
			}
			if size > 4*len(c.payload)+200 {
				t.Errorf("%d bytes of fields from %d of payload", size, len(c.payload))
			}
		})
	}
}

func TestDetect(t *testing.T) {
	svc := New()
	cases := []struct {
		payload string
		tr      probe.Transport
		port    uint16
		want    probe.Confidence
	}{
		{"SSH-2.0-Go\r\n", probe.TCP, 22, probe.Certain},
		{"SSH-2.0-Go\r\n", probe.TCP, 2222, probe.Certain},
		{"SSH-2.0-Go\r\n", probe.TCP, 80, probe.ByContent},
		{"SSH-2.0-Go\r\n", probe.UDP, 22, probe.NotMine},
		{"SSH-", probe.TCP, 22, probe.NotMine},
		{"SSH-x.0-Go\r\n", probe.TCP, 22, probe.NotMine},
		{"ssh-2.0-Go\r\n", probe.TCP, 22, probe.NotMine},
		{"GET / HTTP/1.1\r\n\r\n", probe.TCP, 22, probe.NotMine},
		{"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", probe.TCP, 22, probe.NotMine},
		{"", probe.TCP, 22, probe.NotMine},
	}
	for _, c := range cases {
		if got := svc.Detect([]byte(c.payload), c.tr, c.port); got != c.want {
			t.Errorf("Detect(%q, %s, %d) = %d, want %d", c.payload, c.tr, c.port, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(22, 2222))
	buf := make([]byte, 256)
	for range 20000 {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if svc.Detect(buf, probe.TCP, 22) != probe.NotMine {
			t.Fatalf("random bytes claimed: %x", buf[:16])
		}
	}
}

func TestComplete(t *testing.T) {
	svc := New()
	payload := append([]byte("SSH-2.0-x\r\n"), kexinit(2, testLists, 0)...)
	for n := 0; n <= len(payload); n++ {
		want := n == len(payload)
		if got := svc.Complete(payload[:n], probe.TCP); got != want {
			t.Fatalf("Complete of %d of %d bytes = %v", n, len(payload), got)
		}
	}
	if !svc.Complete(bytes.Repeat([]byte("S"), probe.MaxPayload), probe.TCP) {
		t.Error("a payload at the cap is not complete")
	}
}

func TestEncodingRules(t *testing.T) {
	svc := New()
	enc := svc.(probe.Encoder).Encoding()
	for _, f := range NameListFields {
		if r := enc.RuleFor(f); r.Kind != probe.KindOption || r.Tokenizer != probe.TokItems {
			t.Errorf("%s: %+v", f, r)
		}
	}
	if r := enc.RuleFor(FieldHASSH); r.Kind != probe.KindOption || r.Tokenizer != probe.TokWhole {
		t.Errorf("hassh: %+v", r)
	}
	if svc.Kind(FieldSoftwareVersion) != probe.KindString || svc.Kind(FieldReserved) != probe.KindInt {
		t.Error("kinds of the identification and reserved fields")
	}
	got := svc.(probe.Summarizer).Summary(mustParse(t, append([]byte("SSH-2.0-test_1.0 c\r\n"), kexinit(0xab, testLists, 1)...)))
	if !strings.HasPrefix(got, "SSH-2.0-test_1.0 c  HASSH ") || len(got) != len("SSH-2.0-test_1.0 c  HASSH ")+32 {
		t.Errorf("summary %q", got)
	}
}

func mustParse(t testing.TB, b []byte) probe.Fields {
	t.Helper()
	f, err := ParseClient(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
