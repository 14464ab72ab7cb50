package ssh

import (
	"bytes"
	"embed"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// This file is what the simulator needs to send SSH first probes: the
// bytes of real clients (clients/, recorded on loopback; clients/README.md
// says how), with a fresh KEXINIT cookie per connection, and the
// honeypot's side of the exchange.

//go:embed clients/*.bin
var clientFS embed.FS

// Client returns the recorded first bytes of a real client by file name
// without ".bin" ("openssh-9.2p1").
func Client(name string) ([]byte, error) {
	return clientFS.ReadFile(path.Join("clients", name+".bin"))
}

// ServerIdent is the honeypot's identification: a Debian 12 OpenSSH
// server, which the recordings were made against.
const ServerIdent = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n"

// serverKexInit is the honeypot's KEXINIT: OpenSSH 9.2p1's default server
// lists, cookie zero, padded to a multiple of 8.
var serverKexInit = buildKexInit([16]byte{}, [10]string{
	"sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com",
	"rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
	"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
	"none,zlib@openssh.com", "none,zlib@openssh.com", "", "",
})

// buildKexInit returns a KEXINIT packet (no MAC: before key exchange).
func buildKexInit(cookie [16]byte, lists [10]string) []byte {
	msg := append([]byte{msgKexInit}, cookie[:]...)
	for _, l := range lists {
		msg = append(msg, byte(len(l)>>24), byte(len(l)>>16), byte(len(l)>>8), byte(len(l)))
		msg = append(msg, l...)
	}
	msg = append(msg, 0, 0, 0, 0, 0) // first_kex_packet_follows, reserved
	pad := 8 - (5+len(msg))%8
	if pad < 4 {
		pad += 8
	}
	n := 1 + len(msg) + pad
	out := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), byte(pad)}
	out = append(out, msg...)
	return append(out, make([]byte, pad)...)
}

// Transport is TCP.
func (Service) Transport() probe.Transport { return probe.TCP }

// DefaultPort is 22.
func (Service) DefaultPort() uint16 { return 22 }

// Wire: the payload's two parts are cut by Emit (Emission.Split), not at
// random.
func (Service) Wire() probe.Wire { return probe.Wire{} }

// template is one SSH client of a scanner profile, from the simulator's
// profiles.json: a recording of clients/ by name, optionally with another
// identification line (a tool built on that client's library that names
// itself differently).
type template struct {
	probe.TemplateMeta
	Client string `json:"client"`
	// Ident replaces the recorded identification line (without CRLF).
	Ident string `json:"ident"`

	ident  []byte // with its line end
	packet []byte // the recorded first binary packet, nil for none
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
		return fmt.Errorf("unknown client %q", t.Client)
	}
	id, err := ParseIdent(b)
	if err != nil || !id.Terminated {
		return fmt.Errorf("client %q: no identification line", t.Client)
	}
	t.ident = b[:id.Len]
	if rest := b[id.Len:]; len(rest) >= 4 {
		t.packet = rest[:min(len(rest), 4+int(be32(rest)))]
	}
	if t.Ident != "" {
		if !identPrefix([]byte(t.Ident)) || strings.ContainsAny(t.Ident, "\r\n") {
			return fmt.Errorf("ident %q is no identification line", t.Ident)
		}
		t.ident = []byte(t.Ident + "\r\n")
	}
	return nil
}

func (t *template) Ports() [][2]int { return nil }
func (t *template) Next() string    { return "" }

// Emit sends the identification and the recorded KEXINIT with a cookie
// drawn from rng, as every connection of the real client does. The server
// speaks first (Banner), and answers with its KEXINIT.
func (t *template) Emit(rng *rand.Rand, _ netip.Addr, _ uint16, _ time.Time) probe.Emission {
	payload := append(bytes.Clone(t.ident), t.packet...)
	if len(t.packet) >= 6+16 && t.packet[5] == msgKexInit {
		cookie := payload[len(t.ident)+6 : len(t.ident)+6+16]
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				cookie[i+j] = byte(v >> (8 * j))
			}
		}
	}
	sig := string(t.ident)
	if len(t.packet) >= 6+16 {
		sig += string(t.packet[:6]) + string(t.packet[6+16:])
	}
	// A client writes its identification, then its KEXINIT once it read
	// the server's: two segments, which reassembly must join.
	split := 0
	if len(t.packet) > 0 {
		split = len(t.ident)
	}
	return probe.Emission{Payload: payload, Banner: []byte(ServerIdent), Split: split, Reply: serverKexInit, Signature: sig}
}

// Derive names the client differently: the j-th derived template is the
// same library in another build, "<software>_t<j>", with the same
// KEXINIT.
func (t *template) Derive(j int) probe.Template {
	d := *t
	d.TemplateName = probe.DerivedName(t.TemplateName, j)
	line := strings.TrimRight(string(t.ident), "\r\n")
	software, comments, _ := strings.Cut(line, " ")
	d.ident = []byte(software + "_t" + strconv.Itoa(j))
	if comments != "" {
		d.ident = append(d.ident, " "+comments...)
	}
	d.ident = append(d.ident, "\r\n"...)
	return &d
}
