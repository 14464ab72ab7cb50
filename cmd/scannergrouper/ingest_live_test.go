package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func TestIngestFromStdin(t *testing.T) {
	pcap := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "sg.db")
	rootCmd.SetIn(bytes.NewReader(data))
	defer rootCmd.SetIn(nil)
	code, out, errOut := runCLIAll(t, "--db", db, "ingest", "--sensor", "pipe", "-")
	if code != exitOK || !strings.Contains(out, "first probes 381, newly stored 381") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	rootCmd.SetIn(bytes.NewReader(data[:len(data)/2]))
	code, out, errOut = runCLIAll(t, "--db", db, "ingest", "-")
	if code != exitError || !strings.Contains(out, "newly stored 0") ||
		!regexp.MustCompile(`scannergrouper: stdin: offset \d+: truncated packet record`).MatchString(errOut) {
		t.Fatalf("truncated stream: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"ingest", "-", pcap},
		{"ingest", "--format", "payload-csv", "-"},
		{"ingest", "--interface", "lo", pcap},
		{"ingest", "--bpf", "tcp", pcap},
	} {
		if code, _, errOut := runCLIAll(t, append([]string{"--db", db}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want a usage error\n%s", args, code, errOut)
		}
	}
}

// buildBinary builds the command for tests that send it signals.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "scannergrouper")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // the live capture needs no cgo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin
}

// TestSignalsStoreEverything sends SIGINT and SIGTERM to the real binary:
// reading stdin that never ends, and capturing on lo.
func TestSignalsStoreEverything(t *testing.T) {
	bin := buildBinary(t)
	pcap := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("stdin-SIGINT", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "sg.db")
		cmd := exec.Command(bin, "--db", db, "ingest", "-")
		in, _ := cmd.StdinPipe()
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		in.Write(data) // and keep the pipe open, as a running tcpdump does
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
		}
		in.Close()
		if !strings.Contains(out.String(), "newly stored 381") || !strings.Contains(errOut.String(), "stopped by signal") {
			t.Fatalf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
	})
	t.Run("live-SIGTERM", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("live capture is Linux-only")
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		go srv.Serve(ln)
		defer srv.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		db := filepath.Join(t.TempDir(), "sg.db")
		cmd := exec.Command(bin, "--db", db, "ingest", "--interface", "lo", "--bpf", fmt.Sprintf("tcp port %d", port),
			"--stats-every", "100ms", "--flush-idle", "1h")
		stderr, _ := cmd.StderrPipe()
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stderr)
		var log strings.Builder
		for lines.Scan() { // wait for the first counters: the capture is running
			log.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), "msg=live") {
				break
			}
		}
		if !strings.Contains(log.String(), "msg=live") {
			cmd.Wait()
			if strings.Contains(log.String(), "CAP_NET_RAW") {
				t.Skipf("no CAP_NET_RAW here: %s", log.String())
			}
			t.Fatalf("no counters from the capture:\n%s", log.String())
		}
		go io.Copy(io.Discard, stderr)
		// Half a request: only the stop can store it (--flush-idle 1h).
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /sigterm HTTP/1.1\r\nUser-Agent: half/1.0\r\n")
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("SIGTERM is a normal stop: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "first probes 1 ") || !strings.Contains(out.String(), "newly stored 1") {
			t.Fatalf("stdout:\n%s", out.String())
		}
		code, list, _ := runCLIAll(t, "--db", db, "probes", "--json")
		if code != exitOK || !strings.Contains(list, "half/1.0") || !strings.Contains(list, "/sigterm") {
			t.Fatalf("stored probe: exit %d\n%s", code, list)
		}
	})
}
