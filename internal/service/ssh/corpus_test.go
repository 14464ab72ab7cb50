package ssh

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// realClient is what a recording in clients/ must parse to. The HASSH
// values are those tshark 4.0 (ssh.kex.hassh) computed on testdata's
// capture of the same connections.
type realClient struct {
	file, proto, software, comments, hassh string
}

var realClients = []realClient{
	{"openssh-9.2p1.bin", "2.0", "OpenSSH_9.2p1", "Debian-2+deb12u6", "472b5de333ad665af5cbf10ff892c4df"},
	{"ssh-keyscan-9.2p1.bin", "2.0", "OpenSSH-keyscan", probe.NotAvailable, "146c5c62d23255e543b72292ce71de2c"},
	{"go-x-crypto-ssh.bin", "2.0", "Go", probe.NotAvailable, "16443846184eafde36765c9bab2f4397"},
	{"nmap-ssh2-enum-algos.bin", "2.0", "Nmap_SSH2_Enum_Algos", probe.NotAvailable, "a20aced7c9824fd804f59e68dd801ad3"},
	{"nmap-ssh-hostkey-1.bin", "1.5", "Nmap-SSH1-Hostkey", probe.NotAvailable, probe.NotAvailable},
	{"nmap-ssh-hostkey-2.bin", "2.0", "Nmap-SSH2-Hostkey", probe.NotAvailable, "e788c657d1a22971d5026526ffd2e918"},
	{"nmap-ssh-hostkey-7.bin", "2.0", "Nmap-SSH2-Hostkey", probe.NotAvailable, "e788c657d1a22971d5026526ffd2e918"},
	{"ncat-banner.bin", "2.0", "OpenSSH_7.4", probe.NotAvailable, probe.NotAvailable},
}

func readClient(t testing.TB, name string) []byte { return servicetest.ReadClient(t, name) }

// TestRealClients parses the bytes real tools sent (clients/README.md).
func TestRealClients(t *testing.T) {
	svc := New()
	for _, c := range realClients {
		b := readClient(t, c.file)
		fields, err := svc.Parse(b, probe.TCP)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		for name, want := range map[string]string{FieldProtoVersion: c.proto, FieldSoftwareVersion: c.software,
			FieldComments: c.comments, FieldHASSH: c.hassh} {
			if got := fields.Value(name); got != want {
				t.Errorf("%s: %s = %q, want %q", c.file, name, got, want)
			}
		}
		if svc.Detect(b, probe.TCP, 22) != probe.Certain {
			t.Errorf("%s: not detected on port 22", c.file)
		}
		// A KEXINIT'd client is complete; an identification alone waits
		// for the packet, except an SSH-1 client, which sends none.
		wantComplete := c.hassh != probe.NotAvailable || c.proto == "1.5"
		if svc.Complete(b, probe.TCP) != wantComplete {
			t.Errorf("%s: Complete = %v", c.file, !wantComplete)
		}
		if c.hassh != probe.NotAvailable && len(fields) != 18 {
			t.Errorf("%s: %d fields, want 18", c.file, len(fields))
		}
	}
	// Every recording is claimed and parses.
	files, _ := filepath.Glob("clients/*.bin")
	if len(files) < 10 {
		t.Fatalf("%d recordings", len(files))
	}
	for _, f := range files {
		if _, err := svc.Parse(readClient(t, filepath.Base(f)), probe.TCP); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// tsharkFields are the ssh dissector's fields compared with ours.
var tsharkFields = []struct{ tshark, ours string }{
	{"ssh.cookie", FieldCookie},
	{"ssh.kex_algorithms", FieldKex},
	{"ssh.server_host_key_algorithms", FieldHostKey},
	{"ssh.encryption_algorithms_client_to_server", FieldEncC2S},
	{"ssh.encryption_algorithms_server_to_client", FieldEncS2C},
	{"ssh.mac_algorithms_client_to_server", FieldMACC2S},
	{"ssh.mac_algorithms_server_to_client", FieldMACS2C},
	{"ssh.compression_algorithms_client_to_server", FieldCmpC2S},
	{"ssh.compression_algorithms_server_to_client", FieldCmpS2C},
	{"ssh.first_kex_packet_follows", FieldFirstKexFollows},
	{"ssh.kex.hassh_algorithms", FieldHASSHAlgorithms},
	{"ssh.kex.hassh", FieldHASSH},
}

// TestTsharkAgrees dissects testdata/clients.pcap, recorded in the same
// run as clients/*.bin, with Wireshark's SSH dissector and checks that
// every client KEXINIT it finds is one of the recordings (matched by the
// cookie) and that every name-list, the flag and the HASSH agree.
func TestTsharkAgrees(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install -y tshark); skipping the Wireshark cross-check")
	}
	args := []string{"-r", "testdata/clients.pcap", "-d", "tcp.port==2222,ssh", "-Y", "tcp.dstport==2222 && ssh.cookie",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f.tshark)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	byCookie := map[string]probe.Fields{}
	files, _ := filepath.Glob("clients/*.bin")
	for _, f := range files {
		fields, _ := ParseClient(readClient(t, filepath.Base(f)))
		if c := fields.Value(FieldCookie); c != probe.NotAvailable {
			byCookie[c] = fields
		}
	}
	rows := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != len(tsharkFields) {
			t.Fatalf("tshark row of %d columns: %q", len(cols), sc.Text())
		}
		cookie := strings.ReplaceAll(cols[0], ":", "")
		ours, ok := byCookie[cookie]
		if !ok {
			t.Errorf("tshark found a KEXINIT with cookie %s that no recording has", cookie)
			continue
		}
		rows++
		for i, f := range tsharkFields[1:] {
			want := cols[i+1]
			if f.ours == FieldFirstKexFollows && (want == "False" || want == "0") {
				want = "0"
			}
			if got := ours.Value(f.ours); got != want {
				t.Errorf("cookie %s: %s = %q, tshark %s = %q", cookie, f.ours, got, f.tshark, want)
			}
		}
	}
	if rows != len(byCookie) || rows < 10 {
		t.Fatalf("tshark found %d client KEXINITs, the recordings hold %d", rows, len(byCookie))
	}
}
