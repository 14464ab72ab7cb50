package http

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
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

// Wire: a request is sent as it comes.
func (Service) Wire() probe.Wire { return probe.Wire{} }

// template is one request of a scanner profile, from the simulator's
// profiles.json: a corpus request by name, changed or spelled out.
type template struct {
	probe.TemplateMeta
	Request    string            `json:"request"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	URLs       []string          `json:"urls"`
	Version    string            `json:"version"`
	Headers    [][2]string       `json:"headers"`
	SetHeaders map[string]string `json:"set_headers"`
	ExploitURL bool              `json:"exploit_url"`
	BotUA      bool              `json:"bot_ua"`
	NextName   string            `json:"next"`

	// trailer is sent after the request's blank line (from the corpus).
	trailer string
	lib     *library
}

// library is what templates draw from besides their own fields.
type library struct {
	requests    map[string]CorpusRequest
	exploitURLs []string
	bots        []string
}

// CorpusRequest is the first HTTP request of a real tool. A Host header of
// {host} stands for the target's address with its port, as most clients send
// it, and {ip} for the address alone.
// It is an entry of the simulator's corpus.json (internal/simulate/corpusfile).
type CorpusRequest struct {
	Name    string      `json:"name"`
	Source  string      `json:"source"`
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Version string      `json:"version"`
	Headers [][2]string `json:"headers"`
	// Trailer is what the tool sent after the request's blank line
	// (l9tcpid appends other protocols' probes).
	Trailer string `json:"trailer,omitempty"`
}

// Templates reads the corpus requests and bot User-Agents, and the exploit
// paths of the profile file's generic tools.
func (Service) Templates(d *probe.EmitData) (probe.TemplateDecoder, error) {
	lib := &library{requests: map[string]CorpusRequest{}}
	var reqs []CorpusRequest
	var source string
	for _, err := range []error{
		d.Corpus("http_requests", &reqs),
		d.Corpus("bot_user_agents", &lib.bots),
		d.Generic("exploit_urls", &lib.exploitURLs),
		d.Generic("exploit_urls_source", &source),
	} {
		if err != nil {
			return nil, err
		}
	}
	for _, r := range reqs {
		lib.requests[r.Name] = r
	}
	return func(raw json.RawMessage) ([]probe.Template, error) {
		return probe.DecodeTemplates(raw, func(t *template) error {
			t.lib = lib
			return t.resolve()
		})
	}, nil
}

func (v *template) resolve() error {
	if v.Request != "" {
		base, ok := v.lib.requests[v.Request]
		if !ok {
			return fmt.Errorf("unknown corpus request %q", v.Request)
		}
		if v.Method == "" {
			v.Method = base.Method
		}
		if v.URL == "" && len(v.URLs) == 0 {
			v.URL = base.URL
		}
		if v.Version == "" {
			v.Version = base.Version
		}
		if v.Headers == nil {
			v.Headers = slices.Clone(base.Headers)
		}
		v.trailer = base.Trailer
	}
	if v.Method == "" || v.Version == "" || (v.URL == "" && len(v.URLs) == 0) {
		return fmt.Errorf("incomplete request line")
	}
	for i, h := range v.Headers {
		if val, ok := v.SetHeaders[h[0]]; ok {
			v.Headers[i][1] = val
		}
	}
	return nil
}

func (v *template) Ports() [][2]int { return nil }
func (v *template) Next() string    { return v.NextName }

// Emit draws the URL (from the template's list, or an exploit path), then
// a bot User-Agent.
func (v *template) Emit(rng *rand.Rand, dst netip.Addr, dport uint16, syn time.Time) probe.Emission {
	url := v.URL
	if len(v.URLs) > 0 {
		url = v.URLs[rng.IntN(len(v.URLs))]
	}
	if v.ExploitURL && len(v.lib.exploitURLs) > 0 {
		url = v.lib.exploitURLs[rng.IntN(len(v.lib.exploitURLs))]
	}
	ua := ""
	if v.BotUA && len(v.lib.bots) > 0 {
		ua = v.lib.bots[rng.IntN(len(v.lib.bots))]
	}
	payload, sig := Request{Method: v.Method, URL: url, Version: v.Version, Headers: v.Headers, Trailer: v.trailer}.Build(ua, dst.String(), dport)
	// The Date header has second resolution: the SYN's second is close enough.
	return probe.Emission{Payload: payload, Signature: sig, Reply: Reply(url, syn)}
}

// derivedPaths are request paths scanners commonly fetch; a derived
// template fetches one its base does not.
var derivedPaths = []string{"/index.html", "/favicon.ico", "/robots.txt", "/.well-known/security.txt",
	"/sitemap.xml", "/login", "/api/v1/status", "/admin", "/server-status", "/.env",
	"/manager/html", "/version", "/config.json", "/owa/", "/remote/login"}

// Derive fetches another path (the j-th common path the base does not
// fetch); exploit templates, whose path is drawn per probe, send another
// User-Agent version instead. A derived template has no follow-up.
func (v *template) Derive(j int) probe.Template {
	d := *v
	d.TemplateName, d.NextName = probe.DerivedName(v.TemplateName, j), ""
	d.Headers = slices.Clone(v.Headers)
	if v.ExploitURL {
		for i, h := range d.Headers {
			if strings.EqualFold(h[0], "user-agent") {
				d.Headers[i][1] = bumpVersion(h[1], j)
				return &d
			}
		}
		d.Headers = append(d.Headers, [2]string{"User-Agent", "scanner/" + strconv.Itoa(j) + ".0"})
		return &d
	}
	var paths []string
	for _, p := range derivedPaths {
		if p != v.URL && !slices.Contains(v.URLs, p) {
			paths = append(paths, p)
		}
	}
	d.URL, d.URLs = paths[(j-1)%len(paths)], nil
	return &d
}

// bumpVersion adds j to the last number in s ("Go-http-client/1.1" ->
// "Go-http-client/1.2" for j = 1), or appends "/j.0" when s has none.
func bumpVersion(s string, j int) string {
	end := strings.LastIndexAny(s, "0123456789") + 1
	if end == 0 {
		return s + "/" + strconv.Itoa(j) + ".0"
	}
	start := end - 1
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	n, _ := strconv.Atoi(s[start:end])
	return s[:start] + strconv.Itoa(n+j) + s[end:]
}
