package ssh

import (
	"flag"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

var record = flag.Bool("record", false, "record real SSH clients on loopback into clients/ and testdata/clients.pcap (needs ssh, ssh-keyscan, nmap, ncat, dumpcap)")

// serverIdent is what the recording listener says first: the Debian 12
// OpenSSH server's identification. It sends no KEXINIT, so every client
// stops after its own.
const serverIdent = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n"

// recordPort is where the recordings were made: 2222, a port where an
// identification line is a client's for Detect.
const recordPort = 2222

// TestRecordRealClients rewrites clients/*.bin and testdata/clients.pcap;
// clients/README.md says which tool and command made each file.
func TestRecordRealClients(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record the real clients")
	}
	clients := []servicetest.Client{
		{Name: "openssh-9.2p1", Cmd: []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-p", "PORT", "root@ADDR", "true"}},
		{Name: "ssh-keyscan-9.2p1", Cmd: []string{"ssh-keyscan", "-T", "3", "-p", "PORT", "ADDR"}},
		{Name: "go-x-crypto-ssh", Dial: func(addr string) error {
			c, err := xssh.Dial("tcp", addr, &xssh.ClientConfig{User: "root", Auth: []xssh.AuthMethod{xssh.Password("root")},
				HostKeyCallback: xssh.InsecureIgnoreHostKey(), Timeout: 3 * time.Second})
			if err == nil {
				c.Close()
			}
			return err
		}},
		{Name: "nmap-ssh2-enum-algos", Cmd: []string{"nmap", "-Pn", "-n", "-p", "PORT", "--script", "ssh2-enum-algos", "ADDR"}},
		{Name: "nmap-ssh-hostkey", Cmd: []string{"nmap", "-Pn", "-n", "-p", "PORT", "--script", "ssh-hostkey", "ADDR"}},
		{Name: "nmap-sV", Cmd: []string{"nmap", "-Pn", "-n", "-sV", "-p", "PORT", "ADDR"}},
		{Name: "ncat-banner", Cmd: []string{"sh", "-c", "printf 'SSH-2.0-OpenSSH_7.4\\r\\n' | ncat -w 3 ADDR PORT"}},
	}
	recs := servicetest.Record(t, recordPort, servicetest.Listener{Greeting: []byte(serverIdent)}, clients,
		1500*time.Millisecond, "testdata/clients.pcap")
	for _, name := range servicetest.WriteRecordings(t, "clients", recs) {
		t.Log("wrote clients/" + name)
	}
}
