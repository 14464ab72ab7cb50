package simulate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// TestTsharkAgreesWithTruth dissects every file of a tiny world with tshark
// (Wireshark), an independent implementation of every layer we write, and
// checks that it reports no malformed packets or errors, that it finds
// exactly the HTTP requests, ClientHellos, DNS queries, SSH client
// identifications and RDP Connection Requests of truth.csv, that
// the JA3 of every ClientHello is the one truth.csv gives, and that each
// session's first payload byte arrives at truth.csv's time.
func TestTsharkAgreesWithTruth(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install -y tshark); skipping the Wireshark cross-check")
	}
	presets := []string{"tiny"}
	if !testing.Short() {
		presets = append(presets, "small")
	}
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			cfg, err := PresetConfig(preset, 1)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			w, err := Generate(context.Background(), cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			tsharkCheck(t, tshark, dir, w)
		})
	}
}

func tsharkCheck(t *testing.T, tshark, dir string, w *World) {
	truth := readCSV(t, filepath.Join(dir, "truth.csv"))[1:]

	type expect struct {
		service, ja3 string
		time         time.Time
	}
	want := map[string]expect{}
	portServices := map[string]map[string]bool{}
	for _, r := range truth {
		ts, _ := time.Parse(TimeFormat, r[0])
		want[r[1]+":"+r[2]] = expect{service: r[6], ja3: r[10], time: ts}
		if r[5] == "tcp" {
			if portServices[r[4]] == nil {
				portServices[r[4]] = map[string]bool{}
			}
			portServices[r[4]][r[6]] = true
		}
	}
	// tshark picks a dissector per port. A port that carries both HTTP and
	// TLS (a ClientHello sent to a web port) is read twice: once as HTTP,
	// once as TLS, and the second reading contributes only ClientHellos.
	ports := make([]string, 0, len(portServices))
	mixed := false
	for p, svcs := range portServices {
		ports = append(ports, p)
		mixed = mixed || len(svcs) > 1
	}
	slices.Sort(ports)
	decodeArgs := func(mixedAs string) []string {
		args := []string{"-n"}
		for _, p := range ports {
			proto := "http"
			switch svcs := portServices[p]; {
			case len(svcs) > 1:
				proto = mixedAs
			case svcs["tls"]:
				proto = "tls"
			case svcs["ssh"]:
				proto = "ssh"
			case svcs["rdp"]:
				proto = "tpkt"
			}
			args = append(args, "-d", "tcp.port=="+p+","+proto)
		}
		return args
	}
	honeypots := map[string]bool{}
	for _, h := range w.Honeypots {
		honeypots[h] = true
	}

	got := map[string]expect{}
	firstPayload := map[string]time.Time{}
	for _, rel := range w.PcapFiles {
		path := filepath.Join(dir, rel)
		// 1. No malformed frames, no expert errors.
		out, err := exec.Command(tshark, append(decodeArgs("http"), "-r", path, "-Y", "_ws.malformed || _ws.expert.severity == error",
			"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message")...).Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", rel, err)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("%s: tshark reports errors:\n%s", rel, s)
		}
		// 2. Every payload frame, with what tshark made of it.
		readings := []string{"http"}
		if mixed {
			readings = append(readings, "tls")
		}
		for _, mixedAs := range readings {
			out, err = exec.Command(tshark, append(decodeArgs(mixedAs), "-r", path, "-Y", "tcp.len > 0 || udp",
				"-T", "fields", "-E", "separator=|", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst",
				"-e", "tcp.srcport", "-e", "udp.srcport", "-e", "tcp.analysis.retransmission",
				"-e", "http.request.method", "-e", "tls.handshake.type", "-e", "tls.handshake.ja3",
				"-e", "dns.flags.response", "-e", "tcp.dstport", "-e", "ssh.protocol", "-e", "cotp.type")...).Output()
			if err != nil {
				t.Fatalf("tshark %s: %v", rel, err)
			}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				f := strings.Split(sc.Text(), "|")
				if len(f) != 13 {
					t.Fatalf("%s: unexpected tshark line %q", rel, sc.Text())
				}
				if !honeypots[f[2]] {
					continue // honeypot replies
				}
				if mixedAs == "tls" && len(portServices[f[10]]) < 2 {
					continue // already read in the first pass
				}
				key := f[1] + ":" + f[3] + f[4]
				if _, ok := firstPayload[key]; !ok {
					sec, err := strconv.ParseFloat(f[0], 64)
					if err != nil {
						t.Fatal(err)
					}
					whole, frac := math.Modf(sec)
					firstPayload[key] = time.Unix(int64(whole), int64(math.Round(frac*1e6))*1000).UTC()
				}
				if f[5] != "" {
					continue // a retransmitted copy is not a second probe
				}
				var e expect
				switch {
				case f[6] != "" && mixedAs == "http":
					e.service = "http"
				case slices.Contains(strings.Split(f[7], ","), "1"):
					e.service, e.ja3 = "tls", f[8]
				case f[9] == "0" || f[9] == "False":
					e.service = "dns"
				case f[11] != "":
					e.service = "ssh" // the client's identification line
				case f[12] == "0x0e":
					e.service = "rdp" // an X.224 Connection Request
				default:
					continue // first half of a split ClientHello, or TLS read as HTTP
				}
				if prev, dup := got[key]; dup {
					t.Errorf("%s: tshark sees a second %s probe in session %s (first %s)", rel, e.service, key, prev.service)
				}
				got[key] = e
			}
		}
	}
	counts := func(m map[string]expect) string {
		c := map[string]int{}
		for _, e := range m {
			c[e.service]++
		}
		return fmt.Sprint(c)
	}
	if counts(got) != counts(want) {
		t.Errorf("tshark found %s, truth.csv has %s", counts(got), counts(want))
	}
	for key, e := range want {
		g, ok := got[key]
		switch {
		case !ok:
			t.Errorf("session %s (%s): tshark found no probe", key, e.service)
		case g.service != e.service || g.ja3 != e.ja3:
			t.Errorf("session %s: tshark %s ja3=%q, truth %s ja3=%q", key, g.service, g.ja3, e.service, e.ja3)
		case !firstPayload[key].Equal(e.time):
			t.Errorf("session %s: first payload at %s, truth says %s", key, firstPayload[key], e.time)
		}
	}
}

// TestTsharkReadsEveryStack writes one session per TLS stack (every real
// tool's hello and every org's) into a pcap and has tshark check that each
// ClientHello dissects without error and has the JA3 we compute.
func TestTsharkReadsEveryStack(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install -y tshark); skipping the Wireshark cross-check")
	}
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p := newPlanner(Config{Seed: 5, Weeks: 1, TrainShare: 0.8}, cat)
	hp := netip.MustParseAddr("198.51.100.11")
	stacks := testStacks(t)
	names := stls.SortedStackNames(stacks)
	want := map[string]string{}
	var sessions []*session
	for i, name := range names {
		st := stacks[name]
		s := &scanner{ip: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), rtt: 20 * ms, ttl: 50}
		sess := &session{scanner: s, service: 1, dst: hp, dport: 443, sport: uint16(40000 + i),
			synTime: p.start + int64(i)*sec, reply: stls.AlertHandshakeFailure}
		sess.payload = st.ClientHello(p.rng, "")
		_, want[s.ip.String()] = st.JA3()
		p.drawShape(sess)
		sessions = append(sessions, sess)
	}
	path := filepath.Join(t.TempDir(), "stacks.pcap")
	if _, err := writeDay(path, sessions); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", path, "-Y", "_ws.malformed || _ws.expert.severity == error",
		"-T", "fields", "-e", "ip.src", "-e", "_ws.expert.message").Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("tshark reports errors (scanner 10.0.x.y = stack index x*256+y):\n%s", s)
	}
	out, err = exec.Command(tshark, "-n", "-r", path, "-Y", "tls.handshake.type == 1",
		"-T", "fields", "-E", "separator=|", "-e", "ip.src", "-e", "tls.handshake.ja3").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Split(line, "|"); len(f) == 2 {
			got[f[0]] = f[1]
		}
	}
	for i, name := range names {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
		if got[ip] != want[ip] {
			t.Errorf("stack %s: tshark ja3 %q, ours %q", name, got[ip], want[ip])
		}
	}
}
