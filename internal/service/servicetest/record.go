package servicetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file records what real clients send, for the testdata of services
// whose real-tool bytes are not in the shared probe corpus (SSH, RDP). It
// runs only when a test asks for it (go test -run TestRecord... -record):
// the recordings are committed, and the tests read those.

// Client is one real tool to record: Cmd is run (with "ADDR" and "PORT" in
// its arguments replaced by the listener's), or Dial, when set, is called
// with the listener's address instead (a client built into the test).
type Client struct {
	Name string
	Cmd  []string
	Dial func(addr string) error
}

// Recording is the bytes one connection of a client sent.
type Recording struct {
	Client  string
	Conn    int
	Payload []byte
}

// Listener is how the recorder answers: Greeting is sent as soon as a
// connection opens (a server that speaks first), Reply is given the bytes
// received so far after each read and returns what to send, once.
type Listener struct {
	Greeting []byte
	Reply    func(got []byte) []byte
}

// Record runs every client against a loopback listener on port, keeps
// what each connection sent until the client went quiet for idle, and
// captures the loopback traffic into pcapPath with dumpcap (skipped when
// pcapPath is ""). Recordings come in client order, then connection order.
func Record(t *testing.T, port int, l Listener, clients []Client, idle time.Duration, pcapPath string) []Recording {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var stopCapture func()
	if pcapPath != "" {
		stopCapture = startCapture(t, port, pcapPath)
	}
	var mu sync.Mutex
	var got []Recording
	current := ""
	conns := map[string]int{}
	var wg sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			name := current
			n := conns[name]
			conns[name]++
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				payload := serve(c, l, idle)
				mu.Lock()
				got = append(got, Recording{Client: name, Conn: n, Payload: payload})
				mu.Unlock()
			}()
		}
	}()
	for _, cl := range clients {
		mu.Lock()
		current = cl.Name
		mu.Unlock()
		if cl.Dial != nil {
			if err := cl.Dial(addr); err != nil {
				t.Logf("%s: %v (expected: the listener is no real server)", cl.Name, err)
			}
		} else {
			args := make([]string, len(cl.Cmd))
			for i, a := range cl.Cmd {
				a = strings.ReplaceAll(a, "ADDR", "127.0.0.1")
				args[i] = strings.ReplaceAll(a, "PORT", fmt.Sprint(port))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
			cancel()
			t.Logf("%s: %v\n%s", cl.Name, err, out)
		}
		time.Sleep(idle + 200*time.Millisecond)
	}
	// Connections a client opened late are still recorded: stop
	// accepting, then wait for every connection's reader.
	time.Sleep(2 * idle)
	ln.Close()
	<-accepting
	wg.Wait()
	if stopCapture != nil {
		stopCapture()
	}
	order := map[string]int{}
	for i, cl := range clients {
		order[cl.Name] = i
	}
	mu.Lock()
	defer mu.Unlock()
	sorted := make([]Recording, 0, len(got))
	for i := range clients {
		for n := 0; ; n++ {
			found := false
			for _, r := range got {
				if order[r.Client] == i && r.Conn == n {
					sorted = append(sorted, r)
					found = true
				}
			}
			if !found {
				break
			}
		}
	}
	return sorted
}

func serve(c net.Conn, l Listener, idle time.Duration) []byte {
	defer c.Close()
	if len(l.Greeting) > 0 {
		c.Write(l.Greeting)
	}
	var buf bytes.Buffer
	replied := false
	chunk := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// A client that has not spoken yet may be busy with another of
		// its connections (ssh-keyscan): wait for it until the deadline.
		wait := idle
		if buf.Len() == 0 {
			wait = time.Until(deadline)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(chunk)
		buf.Write(chunk[:n])
		if n > 0 && !replied && l.Reply != nil {
			if r := l.Reply(buf.Bytes()); r != nil {
				c.Write(r)
				replied = true
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, io.EOF) {
				break
			}
			break
		}
	}
	return buf.Bytes()
}

// startCapture runs dumpcap on the loopback interface for traffic to and
// from port and returns the function that stops it.
func startCapture(t *testing.T, port int, path string) func() {
	t.Helper()
	dumpcap, err := exec.LookPath("dumpcap")
	if err != nil {
		t.Fatalf("dumpcap not installed: %v", err)
	}
	os.Remove(path)
	cmd := exec.Command(dumpcap, "-q", "-i", "lo", "-P", "-f", fmt.Sprintf("tcp port %d", port), "-w", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // dumpcap needs a moment before it sees packets
	return func() {
		time.Sleep(time.Second)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

// WriteRecordings writes each recording to dir/<client>[-<conn>].bin (the
// suffix only for a client's second and later connections) and returns
// the file names.
func WriteRecordings(t *testing.T, dir string, recs []Recording) []string {
	t.Helper()
	var names []string
	for _, r := range recs {
		if len(r.Payload) == 0 {
			continue
		}
		name := r.Client
		if r.Conn > 0 {
			name += fmt.Sprintf("-%d", r.Conn)
		}
		name += ".bin"
		if err := os.WriteFile(filepath.Join(dir, name), r.Payload, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// ReadClient returns a recording of the calling package's clients/ folder
// by file name ("openssh-9.2p1.bin").
func ReadClient(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ClientFiles lists the file names of the calling package's recordings
// (clients/*.bin), sorted.
func ClientFiles(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("clients", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// AddClients seeds a fuzz target with every recording of clients/.
func AddClients(f *testing.F) {
	f.Helper()
	for _, name := range ClientFiles(f) {
		f.Add(ReadClient(f, name))
	}
}
