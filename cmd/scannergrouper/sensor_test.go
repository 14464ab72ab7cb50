package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// childArgsEnv makes the test binary run the CLI with these arguments
// (separated by US, 0x1f) instead of the tests: how TestSensorCommand gets a sensor
// process of its own to signal and to drop privileges in.
const childArgsEnv = "SCANNERGROUPER_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		os.Exit(run(strings.Split(args, "\x1f")))
	}
	os.Exit(m.Run())
}

// TestSensorCommand runs 'scannergrouper sensor' as its own process, talks
// HTTP and DNS to it, stops it with SIGTERM and checks that what it got is
// stored. Run as root, it also has the sensor drop to user nobody and
// checks that the serving process no longer is root.
func TestSensorCommand(t *testing.T) {
	dir := t.TempDir()
	// The sensor may run as nobody: it must reach and write the folder.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	db := filepath.Join(dir, "sensor.db")
	key := []byte("cli-test-key-0123456789")
	keyFile := filepath.Join(dir, "tag.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--db", db, "sensor", "--sensor", "cli-hp", "--key-file", keyFile, "--report-every", "-1s",
		"--listen", "http=127.0.0.1:0", "--listen", "dns=127.0.0.1:0", "--server", "lighttpd/1.4.69"}
	var nobody *user.User
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err == nil {
			nobody = u
			args = append(args, "--user", "nobody")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0])
	child.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\x1f"))
	stderr, err := child.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	child.Stdout = &stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// The start lines name the ports the kernel chose.
	addrs := map[string]string{}
	lines := bufio.NewScanner(stderr)
	var log strings.Builder
	listening := regexp.MustCompile(`msg="sensor: listening" service=(\w+) network=(\w+) addr=(\S+)`)
	for len(addrs) < 3 && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addrs[m[1]+"/"+m[2]] = m[3]
		}
	}
	if len(addrs) < 3 {
		t.Fatalf("sensor did not report its listeners:\n%s", log.String())
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addrs["http/tcp"] + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Server") != "lighttpd/1.4.69" || len(label.FindTags(resp.Header.Get("Set-Cookie"))) != 1 {
		t.Errorf("answer headers %v", resp.Header)
	}
	tag := label.FindTags(resp.Header.Get("Set-Cookie"))
	q := new(dns.Msg).SetQuestion("probe.example.", dns.TypeA)
	ans, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, addrs["dns/udp"])
	if err != nil || len(ans.Answer) != 1 || !strings.Contains(ans.Answer[0].String(), "192.0.2.1") {
		t.Errorf("DNS answer %v, %v", ans, err)
	}
	if nobody != nil {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(child.Process.Pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(string(status))
		if m == nil || m[1] != nobody.Uid || m[2] != nobody.Uid || m[3] != nobody.Uid {
			t.Errorf("sensor runs with uids %v, want all %s (nobody)", m, nobody.Uid)
		}
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	werr := child.Wait()
	tail := <-rest
	if werr != nil {
		t.Fatalf("sensor exited with %v after SIGTERM:\n%s%s", werr, log.String(), tail)
	}
	if !strings.Contains(stdout.String(), `sensor "cli-hp" ran`) || !strings.Contains(stdout.String(), "2 first probes (2 newly stored), 1 cookie tags") {
		t.Errorf("summary %q", stdout.String())
	}
	if !strings.Contains(tail, `msg="sensor: stopped"`) {
		t.Errorf("no stop line in the log:\n%s", tail)
	}

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]string{}
	for p, err := range st.Probes(context.Background(), store.ProbeQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.Sensor != "cli-hp" {
			t.Errorf("probe of sensor %q", p.Sensor)
		}
		got[p.Service] = p.Fields.Value("Url") + p.Fields.Value("qname")
	}
	if got["http"] != "/admin"+"N/A" || got["dns"] != "N/A"+"probe.example" || len(got) != 2 {
		t.Errorf("stored %v", got)
	}
	if len(tag) == 1 {
		rec, ok, err := st.TagRecipient(context.Background(), tag[0])
		if err != nil || !ok || rec.Scanner.String() != "127.0.0.1" || rec.Sensor != "cli-hp" {
			t.Errorf("tag record %+v %v %v", rec, ok, err)
		}
	}
}
