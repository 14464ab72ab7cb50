package http

import (
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// This file is what the simulator needs to send HTTP first probes: a
// request from its template and the honeypot's answer.

// Transport is TCP.
func (Service) Transport() probe.Transport { return probe.TCP }

// DefaultPort is 80, the port a client leaves out of the Host header.
func (Service) DefaultPort() uint16 { return 80 }

// Request is the template of a request: header values may hold {host} (the
// honeypot's address, with the port when it is not 80), {ip} (the address
// alone) and {ua} (a User-Agent drawn per probe).
type Request struct {
	Method, URL, Version string
	Headers              [][2]string
	// Trailer is sent after the request's blank line.
	Trailer string
}

// Build returns the request sent to dst:dport with that User-Agent, and
// its signature: the request with {host} and {ip} left unfilled, which is
// what every request of the template shares.
func (r Request) Build(ua, dst string, dport uint16) (payload []byte, signature string) {
	// {host} is what most clients send (the port when it is not 80), {ip}
	// what clients that never name the port send.
	ip := dst
	host := ip
	if dport != (Service{}).DefaultPort() {
		host += ":" + strconv.Itoa(int(dport))
	}
	var req, sig strings.Builder
	line := r.Method + " " + r.URL + " " + r.Version + "\r\n"
	req.WriteString(line)
	sig.WriteString(line)
	for _, h := range r.Headers {
		val := strings.ReplaceAll(h[1], "{ua}", ua)
		sig.WriteString(h[0] + ": " + val + "\r\n")
		val = strings.ReplaceAll(strings.ReplaceAll(val, "{host}", host), "{ip}", ip)
		req.WriteString(h[0] + ": " + val + "\r\n")
	}
	req.WriteString("\r\n")
	req.WriteString(r.Trailer)
	sig.WriteString(r.Trailer)
	return []byte(req.String()), sig.String()
}

// Reply is the honeypot's answer to a request for url at time t: a small
// page for "/", 404 elsewhere.
func Reply(url string, t time.Time) []byte {
	status, body := "404 Not Found", "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>\n"
	if url == "/" {
		status, body = "200 OK", "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n"
	}
	// The Date header has second resolution.
	date := t.UTC().Format(time.RFC1123)
	date = strings.Replace(date, "UTC", "GMT", 1)
	return []byte("HTTP/1.1 " + status + "\r\nServer: nginx/1.24.0\r\nDate: " + date +
		"\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body)
}
