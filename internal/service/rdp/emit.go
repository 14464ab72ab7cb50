package rdp

import (
	"bytes"
	"embed"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// This file is what the simulator needs to send RDP first probes: the
// Connection Requests of real clients (clients/, recorded on loopback;
// clients/README.md says how), optionally with another cookie, and the
// honeypot's Connection Confirm.

//go:embed clients/*.bin
var clientFS embed.FS

// Client returns the Connection Request a real client sent first, by file
// name without ".bin" ("xfreerdp-2.11.7").
func Client(name string) ([]byte, error) {
	b, err := clientFS.ReadFile(path.Join("clients", name+".bin"))
	if err != nil {
		return nil, err
	}
	if !crShape(b) {
		return nil, fmt.Errorf("rdp: clients/%s.bin is no Connection Request", name)
	}
	return b[:int(b[2])<<8|int(b[3])], nil
}

// Confirm is the honeypot's X.224 Connection Confirm with an RDP_NEG_RSP
// selecting protocol (0: standard RDP security).
func Confirm(protocol uint32) []byte {
	return []byte{3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0,
		byte(protocol), byte(protocol >> 8), byte(protocol >> 16), byte(protocol >> 24)}
}

// Transport is TCP.
func (Service) Transport() probe.Transport { return probe.TCP }

// DefaultPort is 3389.
func (Service) DefaultPort() uint16 { return Port }

// Wire: a Connection Request is small and goes in one segment.
func (Service) Wire() probe.Wire { return probe.Wire{} }

// template is one RDP client of a scanner profile, from the simulator's
// profiles.json: a recording of clients/ by name, optionally with another
// mstshash cookie (the user name a tool or a scanner was set up with).
type template struct {
	probe.TemplateMeta
	Client string `json:"client"`
	// Cookie replaces the recorded "Cookie: mstshash=" user name; "-"
	// removes the cookie line.
	Cookie string `json:"cookie"`

	request []byte
	reply   []byte
}

// Templates reads nothing from the simulator's shared data: the clients
// are this package's own.
func (Service) Templates(*probe.EmitData) (probe.TemplateDecoder, error) {
	return probe.OwnTemplates[*template](), nil
}

// Resolve implements probe.Resolver: it loads the recorded client.
func (t *template) Resolve() error {
	b, err := Client(t.Client)
	if err != nil {
		return fmt.Errorf("unknown client %q: %w", t.Client, err)
	}
	if t.Cookie != "" {
		if strings.ContainsAny(t.Cookie, "\r\n") {
			return fmt.Errorf("cookie %q has a line end", t.Cookie)
		}
		if b, err = withCookie(b, t.Cookie); err != nil {
			return err
		}
	}
	t.request = b
	fields, err := ParseRequest(b)
	if err != nil {
		return fmt.Errorf("client %q: %w", t.Client, err)
	}
	// The honeypot selects the first protocol the client asks for, as the
	// recording listener did.
	selected := uint32(0)
	if f, ok := fields.Get(FieldRequestedProtoNames); ok {
		for i, p := range protocolNames[:4] {
			if strings.Contains(","+f.Value+",", ","+p.name+",") {
				selected = 1 << i
				break
			}
		}
	}
	t.reply = Confirm(selected)
	return nil
}

// withCookie replaces (or, with "-", removes) the mstshash cookie line of
// a Connection Request, fixing its lengths.
func withCookie(req []byte, cookie string) ([]byte, error) {
	variable := req[tpktHeader+crFixed:]
	if bytes.HasPrefix(variable, []byte("Cookie: mstshash=")) {
		end := bytes.Index(variable, []byte("\r\n"))
		variable = variable[end+2:]
	}
	line := []byte("Cookie: mstshash=" + cookie + "\r\n")
	if cookie == "-" {
		line = nil
	}
	n := tpktHeader + crFixed + len(line) + len(variable)
	if n > 255+tpktHeader+1 {
		return nil, fmt.Errorf("cookie %q makes the request too long", cookie)
	}
	out := []byte{3, 0, byte(n >> 8), byte(n), byte(n - tpktHeader - 1)}
	out = append(out, req[5:tpktHeader+crFixed]...)
	out = append(append(out, line...), variable...)
	return out, nil
}

func (t *template) Ports() [][2]int { return nil }
func (t *template) Next() string    { return "" }

// Emit sends the request as recorded: the real clients put nothing random
// in it.
func (t *template) Emit(*rand.Rand, netip.Addr, uint16, time.Time) probe.Emission {
	return probe.Emission{Payload: bytes.Clone(t.request), Reply: t.reply, Signature: string(t.request)}
}

// derivedCookies are user names RDP scanners put in their cookies.
var derivedCookies = []string{"Administr", "hello", "admin", "user", "test", "Test", "root", "a", "guest", "t"}

// Derive sends another cookie: the j-th of derivedCookies that differs
// from the base's.
func (t *template) Derive(j int) probe.Template {
	d := *t
	d.TemplateName = probe.DerivedName(t.TemplateName, j)
	fields, _ := ParseRequest(t.request)
	var names []string
	for _, c := range derivedCookies {
		if c != fields.Value(FieldCookie) {
			names = append(names, c)
		}
	}
	d.request, _ = withCookie(t.request, names[(j-1)%len(names)])
	return &d
}
