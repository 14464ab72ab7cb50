package rdp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// cr frames an X.224 Connection Request around its variable part.
func cr(variable []byte) []byte {
	l := tpktHeader + crFixed + len(variable)
	out := []byte{3, 0, byte(l >> 8), byte(l), byte(l - 5), 0xe0, 0, 0, 0x12, 0x34, 0}
	return append(out, variable...)
}

func negReq(flags byte, protocols uint32) []byte {
	return []byte{1, flags, 8, 0, byte(protocols), byte(protocols >> 8), byte(protocols >> 16), byte(protocols >> 24)}
}

func render(fs probe.Fields) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + "=" + f.Value + "\n")
	}
	return b.String()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParseRequests(t *testing.T) {
	correlation := cat([]byte{6, 0, 36, 0}, bytes.Repeat([]byte{0xcd}, 16), make([]byte, 16))
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"nmap TerminalServer probe: nothing after the fixed part", cr(nil),
			"tpkt_length=11\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\nneg_request=absent\n"},
		{"cookie and NEG_REQ for TLS and CredSSP", cr(cat([]byte("Cookie: mstshash=Administr\r\n"), negReq(0, 3))),
			"tpkt_length=47\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\ncookie=Administr\nneg_request=RDP_NEG_REQ\n" +
				"neg_flags=0\nneg_flags_names=\nneg_length=8\nrequested_protocols=3\nrequested_protocols_names=SSL,HYBRID\n"},
		{"routing token, standard security", cr(cat([]byte("Cookie: msts=3640205228.15629.0000\r\n"), negReq(0, 0))),
			"tpkt_length=55\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\nrouting_token=Cookie: msts=3640205228.15629.0000\n" +
				"neg_request=RDP_NEG_REQ\nneg_flags=0\nneg_flags_names=\nneg_length=8\nrequested_protocols=0\nrequested_protocols_names=RDP\n"},
		{"cookie without NEG_REQ", cr([]byte("Cookie: mstshash=hello\r\n")),
			"tpkt_length=35\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\ncookie=hello\nneg_request=absent\n"},
		{"NEG_REQ without cookie, every flag, unassigned protocol bit", cr(negReq(0x03, 0x1f|0x100)),
			"tpkt_length=19\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\nneg_request=RDP_NEG_REQ\nneg_flags=3\n" +
				"neg_flags_names=RESTRICTED_ADMIN_MODE_REQUIRED,REDIRECTED_AUTHENTICATION_MODE_REQUIRED\n" +
				"neg_length=8\nrequested_protocols=287\nrequested_protocols_names=SSL,HYBRID,RDSTLS,HYBRID_EX,RDSAAD,0x100\n"},
		{"correlation info", cr(cat(negReq(0x08, 1), correlation)),
			"tpkt_length=55\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\nneg_request=RDP_NEG_REQ\nneg_flags=8\n" +
				"neg_flags_names=CORRELATION_INFO_PRESENT\nneg_length=8\nrequested_protocols=1\nrequested_protocols_names=SSL\n" +
				"correlation_id=" + strings.Repeat("cd", 16) + "\n"},
		{"bytes after the request", cr(cat([]byte("Cookie: mstshash=x\r\n"), negReq(0, 1), []byte{0xde, 0xad})),
			"tpkt_length=41\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\ncookie=x\nneg_request=RDP_NEG_REQ\nneg_flags=0\n" +
				"neg_flags_names=\nneg_length=8\nrequested_protocols=1\nrequested_protocols_names=SSL\ntrailing=dead\n"},
		{"another structure type", cr([]byte{2, 0, 8, 0}),
			"tpkt_length=15\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\nneg_request=type 2\ntrailing=02000800\n"},
		{"odd bytes in the cookie", cr([]byte("Cookie: mstshash=a\\b\x00\xff\r\n")),
			"tpkt_length=35\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\ncookie=a\\x5cb\\x00\\xff\nneg_request=absent\n"},
		{"the next PDU after the request is not part of it", cat(cr([]byte("Cookie: mstshash=nmap\r\n")), []byte{3, 0, 0, 8, 2, 0xf0, 0x80, 0x7f}),
			"tpkt_length=34\nx224_code=224\ndst_ref=0\nsrc_ref=4660\nclass_option=0\ncookie=nmap\nneg_request=absent\n"},
	}
	svc := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields, err := svc.Parse(c.payload, probe.TCP)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(fields); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
			js, _ := json.Marshal(fields)
			var back probe.Fields
			if err := json.Unmarshal(js, &back); err != nil || render(back) != render(fields) {
				t.Errorf("JSON round trip changed fields: %v", err)
			}
			if svc.Detect(c.payload, probe.TCP, 3389) != probe.Certain || !svc.Complete(c.payload, probe.TCP) {
				t.Error("not a complete, certain request on 3389")
			}
		})
	}
}

// Hostile input: cuts, lying lengths and garbage never panic, give at most
// what was read, and say where reading stopped.
func TestHostileInput(t *testing.T) {
	full := cr(cat([]byte("Cookie: mstshash=nmap\r\n"), negReq(0, 3)))
	lyingLI := bytes.Clone(full)
	lyingLI[4] = 0xff
	lyingTPKT := bytes.Clone(full)
	lyingTPKT[2], lyingTPKT[3] = 0xff, 0xff
	cases := []struct {
		name    string
		payload []byte
		fields  int
		err     string
		claimed bool
		done    bool
	}{
		{"empty", nil, 0, "rdp: TPKT header truncated at offset 0 (0 of 6 bytes)", false, false},
		{"TPKT header only", full[:4], 0, "rdp: TPKT header truncated", false, false},
		{"TLS hello", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, "rdp: TPKT version 22 at offset 0, want 3", false, true},
		{"Connection Confirm", []byte{3, 0, 0, 11, 6, 0xd0, 0, 0, 0, 0, 0}, 0, "rdp: X.224 code 0xd0 at offset 5 is no Connection Request", false, true},
		{"cut in the cookie", full[:20], 5, "rdp: TPKT announces 42 bytes, 20 arrived", true, false},
		{"cut in the NEG_REQ", full[:38], 9, "rdp: RDP_NEG_REQ truncated at offset 34 (4 of 8 bytes)", true, false},
		{"cut in the NEG_REQ header", full[:36], 6, "rdp: RDP_NEG_REQ truncated at offset 34", true, false},
		{"length indicator lies", lyingLI, 2, "rdp: X.224 length indicator 255 at offset 4 disagrees with TPKT length 42", false, true},
		{"TPKT length lies", lyingTPKT, 2, "rdp: X.224 length indicator 37 at offset 4 disagrees with TPKT length 65535", false, false},
		{"TPKT length below a CR", []byte{3, 0, 0, 6, 1, 0xe0}, 2, "rdp: TPKT length 6 at offset 2 is below", false, true},
		{"correlation flag without the info", cr(negReq(0x08, 1)), 11, "rdp: CORRELATION_INFO_PRESENT but no RDP_CORRELATION_INFO at offset 19", true, true},
		{"the longest request, a cookie without its line end", cr(cat([]byte("Cookie: mstshash="), bytes.Repeat([]byte("A"), 255-6-17))), 7, "", true, true},
	}
	svc := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if claimed := svc.Detect(c.payload, probe.TCP, 3389) != probe.NotMine; claimed != c.claimed {
				t.Errorf("claimed = %v", claimed)
			}
			if got := svc.Complete(c.payload, probe.TCP); got != c.done {
				t.Errorf("Complete = %v, want %v", got, c.done)
			}
			fields, err := svc.Parse(c.payload, probe.TCP)
			if c.err == "" && err == nil {
				// No line end: the bytes are another structure, and trail.
				if v := fields.Value(FieldTrailing); len(v) != 2*TrailingCap {
					t.Errorf("trailing %d hex digits, want %d", len(v), 2*TrailingCap)
				}
			} else if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if len(fields) < c.fields || len(fields) > c.fields+1 {
				t.Fatalf("%d fields, want %d:\n%s", len(fields), c.fields, render(fields))
			}
		})
	}
}

func TestDetectAndComplete(t *testing.T) {
	svc := New()
	req := cr(cat([]byte("Cookie: mstshash=nmap\r\n"), negReq(0, 3)))
	if svc.Detect(req, probe.TCP, 443) != probe.ByContent || svc.Detect(req, probe.UDP, 3389) != probe.NotMine {
		t.Error("port or transport ignored")
	}
	for n := 0; n <= len(req); n++ {
		if got := svc.Complete(req[:n], probe.TCP); got != (n == len(req)) {
			t.Fatalf("Complete of %d of %d bytes = %v", n, len(req), got)
		}
	}
	rng := rand.New(rand.NewPCG(3389, 1))
	buf := make([]byte, 64)
	claimed := 0
	for range 50000 {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if svc.Detect(buf, probe.TCP, 3389) != probe.NotMine {
			claimed++
		}
	}
	if claimed != 0 {
		t.Fatalf("%d random payloads claimed", claimed)
	}
	for _, s := range []string{"GET / HTTP/1.1\r\n\r\n", "SSH-2.0-Go\r\n", "\x16\x03\x01\x00\x2a\x01"} {
		if svc.Detect([]byte(s), probe.TCP, 3389) != probe.NotMine {
			t.Errorf("%q claimed", s)
		}
	}
}

func TestEncodingAndSummary(t *testing.T) {
	svc := New()
	enc := svc.(probe.Encoder).Encoding()
	if r := enc.RuleFor(FieldRequestedProtoNames); r.Kind != probe.KindOption || r.Tokenizer != probe.TokItems {
		t.Errorf("requested_protocols_names: %+v", r)
	}
	if r := enc.RuleFor(FieldRequestedProtocols); r.Kind != probe.KindInt || r.Width != 32 {
		t.Errorf("requested_protocols: %+v", r)
	}
	if svc.Kind(FieldCookie) != probe.KindString {
		t.Error("cookie is no string")
	}
	sum := svc.(probe.Summarizer)
	for payload, want := range map[string]string{
		hex.EncodeToString(cr(cat([]byte("Cookie: mstshash=nmap\r\n"), negReq(0, 3)))): "cookie nmap  SSL,HYBRID",
		hex.EncodeToString(cr(nil)):                              "cookie N/A  absent",
		hex.EncodeToString(cr([]byte("Cookie: msts=1.2.3\r\n"))): "token Cookie: msts=1.2.3  absent",
	} {
		b, _ := hex.DecodeString(payload)
		fields, err := svc.Parse(b, probe.TCP)
		if err != nil {
			t.Fatal(err)
		}
		if got := sum.Summary(fields); got != want {
			t.Errorf("summary %q, want %q", got, want)
		}
	}
}
