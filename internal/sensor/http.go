package sensor

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// page is the body of every 200 answer: the default page of a web server
// nobody configured, which is what most Internet hosts answer.
const page = `<!DOCTYPE html>
<html>
<head><title>Welcome</title></head>
<body>
<h1>Welcome</h1>
<p>If you see this page, the web server is successfully installed and working.</p>
</body>
</html>
`

const badRequestPage = `<html>
<head><title>400 Bad Request</title></head>
<body>
<center><h1>400 Bad Request</h1></center>
</body>
</html>
`

func (cs *session) serveHTTP() {
	defer cs.release()
	p := cs.readFirst(cs.complete)
	if p == nil {
		return
	}
	switch p.Service {
	case "http":
		cs.write(cs.s.httpAnswer(p.Fields, p.ParseError == "", cs.src.Addr()))
	case "tls":
		// nginx closes on a ClientHello sent to a plain port; so do we.
	default:
		cs.write(cs.s.httpAnswer(nil, false, cs.src.Addr()))
	}
}

// httpAnswer is the whole HTTP answer to a request with these fields: a
// 200 page for a request that parsed, a 400 otherwise, both with the
// operator's Server header and, when tags are on, a fresh cookie tag
// recorded as given to the client's address.
func (s *Sensor) httpAnswer(req probe.Fields, ok bool, client netip.Addr) []byte {
	now := time.Now().UTC()
	status, body := http.StatusOK, page
	if !ok {
		status, body = http.StatusBadRequest, badRequestPage
	}
	b := make([]byte, 0, 512+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nServer: "...)
	b = append(b, s.cfg.ServerHeader...)
	b = append(b, "\r\nDate: "...)
	b = now.AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Type: text/html\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n"...)
	if s.cfg.Tagger != nil {
		if tag := s.cfg.Tagger.Tag(now); tag != "" {
			b = append(b, "Set-Cookie: "...)
			b = append(b, s.cfg.CookieName...)
			b = append(b, '=')
			b = append(b, tag...)
			b = append(b, "; Path=/; HttpOnly\r\n"...)
			s.w.tag(store.TagRecord{Tag: tag, Scanner: client, Sensor: s.cfg.Sensor, IssuedAt: now})
		}
	}
	b = append(b, "\r\n"...)
	if req.Value("Method") != "HEAD" {
		b = append(b, body...)
	}
	return b
}
