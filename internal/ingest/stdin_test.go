package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// storedRows renders every stored probe as one line holding every column
// but source_file, sorted by the store's order.
func storedRows(t *testing.T, st store.Store) []string {
	t.Helper()
	var rows []string
	for p, err := range st.Probes(context.Background(), store.ProbeQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%d %s:%d>%s:%d/%s %s sensor=%q fields=%s err=%q off=%d payload=%x",
			p.Time.UnixNano(), p.SrcIP, p.SrcPort, p.DstIP, p.DstPort, p.Transport, p.Service, p.Sensor,
			p.Fields.AppendJSON(nil), p.ParseError, p.Offset, p.Payload))
	}
	return rows
}

func sources(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for p, err := range st.Probes(context.Background(), store.ProbeQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		out[p.SourceFile]++
	}
	return out
}

func realPcap(t *testing.T) (string, []byte) {
	t.Helper()
	path := sharedtest.Path(t, "realdata", "probe_corpus", "real_tool_probes_loopback.pcap")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestStdinStoresWhatFileIngestStores(t *testing.T) {
	ctx := context.Background()
	path, data := realPcap(t)
	opts := capture.Options{Sensor: "lo-1"}
	fromFile := openStore(t)
	if _, err := Run(ctx, fromFile, Capture, []string{path}, opts, nil); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	for _, c := range []struct {
		name  string
		input []byte
	}{{"plain", data}, {"gzip", gz.Bytes()}} {
		t.Run(c.name, func(t *testing.T) {
			fromStdin := openStore(t)
			res, err := RunReader(ctx, fromStdin, capture.StdinName, bytes.NewReader(c.input), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Probes != 381 || res.Stored != 381 {
				t.Fatalf("stdin: %d probes, %d stored; want 381", res.Probes, res.Stored)
			}
			want, got := storedRows(t, fromFile), storedRows(t, fromStdin)
			if len(got) != len(want) {
				t.Fatalf("stdin stored %d rows, file %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d differs:\nfile  %s\nstdin %s", i, want[i], got[i])
				}
			}
			if src := sources(t, fromStdin); src["stdin"] != 381 {
				t.Fatalf("source_file of stdin probes: %v", src)
			}
			// The same stream again stores nothing: the key is the probe's
			// time and addresses, not where it was read from.
			again, err := RunReader(ctx, fromStdin, capture.StdinName, bytes.NewReader(c.input), opts, nil)
			if err != nil || again.Stored != 0 || countProbes(t, fromStdin) != 381 {
				t.Fatalf("second run: stored %d, table %d, err %v", again.Stored, countProbes(t, fromStdin), err)
			}
			// Nor does the file after the stream.
			if res, err := Run(ctx, fromStdin, Capture, []string{path}, opts, nil); err != nil || res.Stored != 0 {
				t.Fatalf("file after stdin: stored %d, err %v", res.Stored, err)
			}
		})
	}
}

func TestDamagedStdinKeepsProbesBeforeTheDamage(t *testing.T) {
	ctx := context.Background()
	_, data := realPcap(t)
	junk := make([]byte, 5000)
	rand.Read(junk)
	var gzCut bytes.Buffer
	zw := gzip.NewWriter(&gzCut)
	zw.Write(data)
	zw.Close()
	cases := []struct {
		name  string
		input []byte
		want  string // in the error after "stdin: offset N: "
	}{
		{"truncated", data[:len(data)/2], "truncated packet record"},
		{"garbage-inside", append(append(append([]byte(nil), data[:200000]...), junk...), data[205000:]...), ""},
		{"gzip-truncated", gzCut.Bytes()[:gzCut.Len()/2], "truncated packet record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			res, err := RunReader(ctx, st, capture.StdinName, bytes.NewReader(c.input), capture.Options{}, nil)
			var fe *capture.FileError
			if !errors.As(err, &fe) || fe.File != "stdin" || fe.Offset <= 0 || !strings.HasPrefix(err.Error(), fmt.Sprintf("stdin: offset %d: ", fe.Offset)) {
				t.Fatalf("want an error naming stdin and an offset, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			if res.Stored == 0 || res.Stored >= 381 || countProbes(t, st) != int(res.Stored) {
				t.Fatalf("stored %d probes (table %d) from before the damage", res.Stored, countProbes(t, st))
			}
			// Every kept probe starts before the damage.
			for p, err := range st.Probes(ctx, store.ProbeQuery{}) {
				if err != nil {
					t.Fatal(err)
				}
				if p.Offset >= fe.Offset {
					t.Fatalf("probe at offset %d is past the damage at %d", p.Offset, fe.Offset)
				}
			}
		})
	}
	t.Run("not-a-capture", func(t *testing.T) {
		_, err := RunReader(ctx, openStore(t), capture.StdinName, strings.NewReader("IP,Label\n1.2.3.4,censys\n"), capture.Options{}, nil)
		if err == nil || err.Error() != "stdin: offset 0: "+capture.ErrNotCapture.Error() {
			t.Fatalf("got %v", err)
		}
	})
}

// A stream that never ends (tcpdump still running) is stopped by a signal:
// the read blocked on the pipe returns, and every probe read is stored,
// including sessions whose first message was still being collected.
func TestStoppedStdinStoresWhatWasRead(t *testing.T) {
	_, data := realPcap(t)
	st := openStore(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		defer close(done)
		res, err = RunReader(ctx, st, capture.StdinName, pr, capture.Options{}, nil)
	}()
	if _, werr := pw.Write(data); werr != nil { // the whole capture, then silence
		t.Fatal(werr)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a stop did not end a read blocked on the pipe")
	}
	var fe *capture.FileError
	if !errors.Is(err, ErrStopped) || !errors.As(err, &fe) || fe.File != "stdin" || fe.Offset != int64(len(data)) {
		t.Fatalf("want a stop at stdin offset %d, got %v", len(data), err)
	}
	if res.Stored != 381 || countProbes(t, st) != 381 {
		t.Fatalf("stored %d (table %d), want all 381", res.Stored, countProbes(t, st))
	}
}

// TestTcpdumpPipe is `tcpdump -w - | scannergrouper ingest -` with the real
// tcpdump: its stream, written packet by packet (-U), is read as it comes,
// and tcpdump's exit on SIGINT is a clean end.
func TestTcpdumpPipe(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed (.ci/run installs it)")
	}
	port := httpServer(t)
	td := exec.Command("tcpdump", "-i", "lo", "-U", "-w", "-", fmt.Sprintf("tcp port %d", port))
	stdout, err := td.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := td.StderrPipe()
	if err := td.Start(); err != nil {
		t.Skipf("tcpdump does not start here: %v", err)
	}
	defer td.Process.Kill()
	// tcpdump says "listening on lo" once it captures.
	lines := bufio.NewScanner(stderr)
	var said strings.Builder
	for !strings.Contains(said.String(), "listening on") && lines.Scan() {
		said.WriteString(lines.Text() + "\n")
	}
	if !strings.Contains(said.String(), "listening on") {
		td.Process.Kill()
		td.Wait()
		t.Skipf("tcpdump cannot capture here: %s", said.String())
	}
	go io.Copy(io.Discard, stderr)
	st := openStore(t)
	done := make(chan struct{})
	var res Result
	var runErr error
	go func() {
		defer close(done)
		res, runErr = RunReader(context.Background(), st, capture.StdinName, stdout, capture.Options{Sensor: "tcpdump"}, nil)
	}()
	get(t, port, "through-tcpdump/3.0")
	time.Sleep(1500 * time.Millisecond) // libpcap hands packets over within its 1 s timeout
	td.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when tcpdump exited")
	}
	td.Wait()
	if runErr != nil {
		t.Fatalf("tcpdump's end is a clean end: %v", runErr)
	}
	var found bool
	for _, p := range probesOf(t, st) {
		if p.Fields.Value("User-Agent") == "through-tcpdump/3.0" {
			found = p.DstPort == uint16(port) && p.Service == "http" && p.SourceFile == "stdin" && p.Sensor == "tcpdump"
		}
	}
	if !found || res.Stored < 1 {
		t.Fatalf("probe from tcpdump's stream not stored as expected: %+v", res)
	}
}
