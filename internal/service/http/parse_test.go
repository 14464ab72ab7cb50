package http

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// render writes fields one per line as name=value, so a table case reads
// like the request it came from.
func render(fs probe.Fields) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name)
		b.WriteByte('=')
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestParseOddRequests(t *testing.T) {
	cases := []struct {
		name, payload, want string
	}{
		{"http/1.0 without headers", "GET / HTTP/1.0\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.0\nBody=\n"},
		{"rtsp", "OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n",
			"Method=OPTIONS\nUrl=/\nVersion=RTSP/1.0\nCSeq=1\nBody=\n"},
		{"sip with content-length 0", "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nContent-Length: 0\r\n\r\n",
			"Method=OPTIONS\nUrl=sip:nm\nVersion=SIP/2.0\nVia=SIP/2.0/TCP nm;branch=foo\nContent-Length=0\nBody=\n"},
		{"connect host:port", "CONNECT google.com:443 HTTP/1.1\r\nHost: google.com:443\r\n\r\n",
			"Method=CONNECT\nUrl=google.com:443\nVersion=HTTP/1.1\nHost=google.com:443\nBody=\n"},
		{"bare crlf crlf", "\r\n\r\n",
			"Method=N/A\nUrl=N/A\nVersion=N/A\nBody=\n"},
		{"bare lf", "\n",
			"Method=N/A\nUrl=N/A\nVersion=N/A\nBody=\n"},
		{"lowercase names keep their case", "GET / HTTP/1.1\r\nhost: a\r\nuser-agent: x\r\nUser-Agent: y\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nhost=a\nuser-agent=x\nUser-Agent=y\nBody=\n"},
		{"duplicate headers in wire order", "GET / HTTP/1.1\r\nCookie: a=1\r\nHost: h\r\nCookie: b=2\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nCookie=a=1\nHost=h\nCookie=b=2\nBody=\n"},
		{"lf line ends", "GET /x HTTP/1.1\nHost: h\nAccept: */*\n\n",
			"Method=GET\nUrl=/x\nVersion=HTTP/1.1\nHost=h\nAccept=*/*\nBody=\n"},
		{"mixed line ends", "GET / HTTP/1.1\r\nHost: h\nAccept: */*\r\n\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=h\nAccept=*/*\nBody=\n"},
		{"no space after colon, padded values", "GET / HTTP/1.1\r\nHost:h\r\nX-A:   spaced \t\r\nX-B :b\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=h\nX-A=spaced\nX-B=b\nBody=\n"},
		{"empty header value", "GET / HTTP/1.1\r\nHost: \r\n\r\nHELP\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=\nBody=HELP\r\n\n"},
		{"absolute url", "GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n",
			"Method=GET\nUrl=http://example.com/a?b=c\nVersion=HTTP/1.1\nHost=example.com\nBody=\n"},
		{"method case kept", "get / http/1.1\r\n\r\n",
			"Method=get\nUrl=/\nVersion=http/1.1\nBody=\n"},
		{"no version (HTTP/0.9)", "GET /\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=N/A\nBody=\n"},
		{"no version no newline", "GET /",
			"Method=GET\nUrl=/\nVersion=N/A\nBody=\n"},
		{"method only", "GET\r\n\r\n",
			"Method=GET\nUrl=N/A\nVersion=N/A\nBody=\n"},
		{"version without target", "GET HTTP/1.0\r\n\r\n",
			"Method=GET\nUrl=N/A\nVersion=HTTP/1.0\nBody=\n"},
		{"space inside target", "GET /a b/c HTTP/1.1\r\n\r\n",
			"Method=GET\nUrl=/a b/c\nVersion=HTTP/1.1\nBody=\n"},
		{"extra spaces between parts", "GET   /   HTTP/1.1  \r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nBody=\n"},
		{"body with content-length", "POST /login HTTP/1.1\r\nContent-Length: 7\r\n\r\nuser=ab",
			"Method=POST\nUrl=/login\nVersion=HTTP/1.1\nContent-Length=7\nBody=user=ab\n"},
		{"leading blank lines skipped", "\r\n\r\nGET / HTTP/1.1\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nBody=\n"},
		{"headers cut short by capture end", "GET / HTTP/1.1\r\nHost: h\r\nUser-Ag",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=h\nBody=User-Ag\n"},
		{"obsolete line folding", "GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\tc\r\nHost: h\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nX-Long=a b c\nHost=h\nBody=\n"},
		{"line without colon starts the body", "GET / HTTP/1.1\r\nHost: h\r\ngarbage line\r\nX: y\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=h\nBody=garbage line\r\nX: y\r\n\r\n\n"},
		{"empty header name starts the body", "GET / HTTP/1.1\r\n: v\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nBody=: v\r\n\r\n\n"},
		{"reserved names cannot shadow request fields", "GET / HTTP/1.1\r\nBody: b\r\nUrl: u\r\nbody: c\r\n\r\nreal",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHeader:Body=b\nHeader:Url=u\nbody=c\nBody=real\n"},
		{"colon inside value", "GET / HTTP/1.1\r\nHost: 1.2.3.4:8080\r\nReferer: http://x/\r\n\r\n",
			"Method=GET\nUrl=/\nVersion=HTTP/1.1\nHost=1.2.3.4:8080\nReferer=http://x/\nBody=\n"},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
			"Method=PRI\nUrl=*\nVersion=HTTP/2.0\nBody=SM\r\n\r\n\n"},
		{"invalid utf-8 escaped", "GET /\xff\xfe HTTP/1.1\r\nX-\xc3: \xc3\xa9t\xe9\r\n\r\n\x80",
			"Method=GET\nUrl=/\\xff\\xfe\nVersion=HTTP/1.1\nX-\\xc3=ét\\xe9\nBody=\\x80\n"},
		{"backslash kept as sent", "GET /..\\..\\win.ini HTTP/1.1\r\n\r\n",
			"Method=GET\nUrl=/..\\..\\win.ini\nVersion=HTTP/1.1\nBody=\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := ParseRequest([]byte(tc.payload))
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", tc.payload, err)
			}
			if got := render(fields); got != tc.want {
				t.Errorf("ParseRequest(%q) =\n%s\nwant\n%s", tc.payload, got, tc.want)
			}
			// Values must survive a JSON round trip byte for byte.
			js, err := json.Marshal(fields)
			if err != nil {
				t.Fatal(err)
			}
			var back probe.Fields
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if render(back) != render(fields) {
				t.Errorf("JSON round trip changed fields:\n%s\nvs\n%s", render(back), render(fields))
			}
		})
	}
}

func TestParseErrorsNameTheOffset(t *testing.T) {
	long := strings.Repeat("A", maxLineLen+1)
	manyHeaders := "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", maxHeaders+1) + "\r\n"
	cases := []struct {
		name, payload, want string
	}{
		{"empty", "", "http: empty payload"},
		{"request line too long", "GET /" + long + " HTTP/1.1\r\n\r\n", "http: request line too long at offset 0"},
		{"request line too long after blank lines", "\r\nGET /" + long, "http: request line too long at offset 2"},
		{"header line too long", "GET / HTTP/1.1\r\nX: " + long + "\r\n\r\n", "http: header line too long at offset 16"},
		{"binary method", "\x16\x03\x01 / HTTP/1.1\r\n", "http: request method has non-token byte 0x16 at offset 0"},
		{"too many headers", manyHeaders, "http: more than 256 header lines, at offset 1552"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tc.payload))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestBodyIsCappedOnACharacterBoundary(t *testing.T) {
	head := "POST / HTTP/1.1\r\n\r\n"
	// 1023 ASCII bytes then a 2-byte "é" straddling the cap.
	body := strings.Repeat("a", BodyCap-1) + "é" + strings.Repeat("b", 100)
	fields, err := ParseRequest([]byte(head + body))
	if err != nil {
		t.Fatal(err)
	}
	got := fields.Value(FieldBody)
	if got != strings.Repeat("a", BodyCap-1) {
		t.Fatalf("body of %d bytes ending %q; want the %d bytes before the split character", len(got), got[max(0, len(got)-4):], BodyCap-1)
	}

	binary := strings.Repeat("\x80", 3000)
	fields, err = ParseRequest([]byte(head + binary))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fields.Value(FieldBody), strings.Repeat(`\x80`, BodyCap-3); got != want {
		t.Fatalf("binary body: %d bytes, want %d escaped bytes", len(got), BodyCap-3)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name      string
		payload   string
		transport probe.Transport
		port      uint16
		want      probe.Confidence
	}{
		{"http/1.1 on any port", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", probe.TCP, 2222, probe.Certain},
		{"rtsp", "OPTIONS / RTSP/1.0\r\n\r\n", probe.TCP, 554, probe.Certain},
		{"lower-case version", "get / http/1.0\r\n\r\n", probe.TCP, 80, probe.Certain},
		{"connect", "CONNECT 1.2.3.4:443 HTTP/1.1\r\n\r\n", probe.TCP, 3128, probe.Certain},
		{"sip is HTTP-shaped but not HTTP", "OPTIONS sip:nm SIP/2.0\r\n\r\n", probe.TCP, 5060, probe.ByContent},
		{"unknown method with version", "FOO /x HTTP/1.1\r\n\r\n", probe.TCP, 80, probe.Certain},
		{"known method without version", "GET /\r\n", probe.TCP, 9999, probe.ByContent},
		{"known method, lower case", "propfind / \r\n", probe.TCP, 9999, probe.ByContent},
		{"known method, request cut short", "POST ", probe.TCP, 9999, probe.ByContent},
		{"over udp stays below certain", "M-SEARCH * HTTP/1.1\r\n\r\n", probe.UDP, 1900, probe.ByContent},
		{"bare crlfs on web port", "\r\n\r\n", probe.TCP, 8080, probe.ByPort},
		{"bare crlf on web port", "\r\n", probe.TCP, 80, probe.ByPort},
		{"bare crlfs elsewhere", "\r\n\r\n", probe.TCP, 443, probe.NotMine},
		{"bare crlfs over udp", "\r\n\r\n", probe.UDP, 80, probe.NotMine},
		{"empty", "", probe.TCP, 80, probe.NotMine},
		{"smtp-like", "HELP\r\n", probe.TCP, 80, probe.NotMine},
		{"method without space", "GET", probe.TCP, 9999, probe.NotMine},
		{"unknown word without version", "HELLO world\r\n", probe.TCP, 80, probe.NotMine},
		{"tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", probe.TCP, 80, probe.NotMine},
		{"space before method", " GET / HTTP/1.1\r\n", probe.TCP, 80, probe.NotMine},
		{"version-like junk with control bytes", "X /\x01 HTTP/1.1\r\n", probe.TCP, 80, probe.NotMine},
	}
	svc := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := svc.Detect([]byte(tc.payload), tc.transport, tc.port); got != tc.want {
				t.Fatalf("Detect(%q, %s, %d) = %d, want %d", tc.payload, tc.transport, tc.port, got, tc.want)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	cases := []struct {
		name, payload string
		want          bool
	}{
		{"headers closed", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"headers open", "GET / HTTP/1.1\r\nHost: h\r\n", false},
		{"request line only, no blank line yet", "GET / HTTP/1.0\r\n", false},
		{"request line then blank line", "GET / HTTP/1.0\r\n\r\n", true},
		{"lf lf", "GET / HTTP/1.0\nHost: h\n\n", true},
		{"bare crlf crlf", "\r\n\r\n", true},
		{"bare crlf", "\r\n", false},
		{"body pending", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", false},
		{"body whole", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", true},
		{"lower-case content-length", "POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabc", false},
		{"zero content-length", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true},
		{"insane content-length ignored", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", true},
		{"non-numeric content-length ignored", "POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n", true},
		{"huge content-length waits for the cap", "POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nabc", false},
		{"content-length on request line does not count", "Content-Length: 5 HTTP/1.1\r\n\r\n", true},
	}
	svc := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := svc.Complete([]byte(tc.payload), probe.TCP); got != tc.want {
				t.Fatalf("Complete(%q) = %v, want %v", tc.payload, got, tc.want)
			}
		})
	}

	t.Run("huge content-length stops at MaxPayload", func(t *testing.T) {
		head := "POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"
		full := head + strings.Repeat("x", probe.MaxPayload-len(head))
		if !svc.Complete([]byte(full), probe.TCP) {
			t.Fatal("a payload of MaxPayload bytes must be complete")
		}
		if svc.Complete([]byte(full[:len(full)-1]), probe.TCP) {
			t.Fatal("one byte short of MaxPayload must not be complete")
		}
	})
}

func TestKind(t *testing.T) {
	svc := New()
	for field, want := range map[string]probe.Kind{
		"User-Agent": probe.KindOption, "user-agent": probe.KindOption, "ACCEPT": probe.KindOption,
		"Accept-Encoding": probe.KindOption, "accept-language": probe.KindOption,
		"Url": probe.KindString, "Version": probe.KindString, "Connection": probe.KindString,
		"Host": probe.KindString, "Body": probe.KindString, "Accept-Charset": probe.KindString,
	} {
		if got := svc.Kind(field); got != want {
			t.Errorf("Kind(%q) = %v, want %v", field, got, want)
		}
	}
	if svc.Name() != "http" {
		t.Errorf("Name() = %q", svc.Name())
	}
}

// Overflow probes send request lines of many KiB; they are HTTP and keep
// their headers.
func TestLongRequestLineIsStillHTTP(t *testing.T) {
	url := "/" + strings.Repeat("A", 10<<10)
	payload := []byte("GET " + url + " HTTP/1.1\r\nHost: h\r\n\r\n")
	svc := New()
	if c := svc.Detect(payload, probe.TCP, 80); c != probe.Certain {
		t.Fatalf("Detect = %d, want Certain", c)
	}
	fields, err := svc.Parse(payload, probe.TCP)
	if err != nil {
		t.Fatal(err)
	}
	if fields.Value(FieldURL) != url || fields.Value("Host") != "h" {
		t.Fatalf("Url of %d bytes, Host %q", len(fields.Value(FieldURL)), fields.Value("Host"))
	}
}
