package ingest

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/scannergrouper/scannergrouper/internal/benchutil"
	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
	"github.com/scannergrouper/scannergrouper/internal/simulate"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// sd24World generates the SelfDeploy-24-sized synthetic world (≈1.2 M
// packets, ≈150 k first probes in 91 daily pcaps) once per benchmark.
func sd24World(b *testing.B) string {
	b.Helper()
	cfg, err := simulate.PresetConfig("sd24", 1)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, "pcap")
}

// BenchmarkExtractSD24 is capture + session tracking + parsing alone.
func BenchmarkExtractSD24(b *testing.B) {
	pcaps := sd24World(b)
	b.ResetTimer()
	m := benchutil.Start()
	var st capture.Stats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = capture.Extract(context.Background(), []string{pcaps}, capture.Options{}, func(probe.Probe) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	m.Report(b, float64(st.Packets)*float64(b.N), "packets")
	b.ReportMetric(float64(st.Probes)*float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}

// c23Payloads generates one two-hundredth of the 360 Company-23-shaped
// world (390 k probes in 30 daily payload CSVs, as the 360 data comes) once
// per benchmark.
func c23Payloads(b *testing.B) []string {
	b.Helper()
	dir := b.TempDir()
	if _, err := simulate.GenerateStream(context.Background(), simulate.C23Config(1, 0.005), dir); err != nil {
		b.Fatal(err)
	}
	files, err := capture.ListPayloadCSV([]string{filepath.Join(dir, "payload")})
	if err != nil {
		b.Fatal(err)
	}
	return files
}

// BenchmarkExtractPayloadCSV is reading and parsing payload CSVs alone:
// the most probes per CPU-second an ingest of them can reach, whatever
// the store costs.
func BenchmarkExtractPayloadCSV(b *testing.B) {
	files := c23Payloads(b)
	b.ResetTimer()
	m := benchutil.Start()
	var probes int64
	for i := 0; i < b.N; i++ {
		probes = 0
		for _, f := range files {
			st, err := capture.ExtractPayloadCSV(context.Background(), f, capture.Options{}, func(probe.Probe) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			probes += st.Probes
		}
	}
	m.Report(b, float64(probes)*float64(b.N), "probes")
}

// BenchmarkIngestPayloadCSV is the whole ingest of the same CSVs into a
// fresh store (for PostgreSQL, this process's CPU only).
func BenchmarkIngestPayloadCSV(b *testing.B) {
	files := c23Payloads(b)
	ingest := func(st store.Store) (Result, error) {
		return Run(context.Background(), st, PayloadCSV, files, capture.Options{}, nil)
	}
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, ingest) })
	b.Run("postgres", func(b *testing.B) {
		benchIngestInto(b, func() string { return sharedtest.PostgresDSN(b) }, ingest)
	})
}

// BenchmarkIngestSD24 is the whole ingest into a fresh store: a SQLite
// file, and a PostgreSQL database when SCANNERGROUPER_TEST_POSTGRES names a
// server (this process's CPU only; the server's is not counted here, see
// BenchmarkInsertProbes in internal/store).
func BenchmarkIngestSD24(b *testing.B) {
	pcaps := sd24World(b)
	ingest := func(st store.Store) (Result, error) {
		return Run(context.Background(), st, Capture, []string{pcaps}, capture.Options{}, nil)
	}
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, ingest) })
	b.Run("postgres", func(b *testing.B) {
		benchIngestInto(b, func() string { return sharedtest.PostgresDSN(b) }, ingest)
	})
}

// benchIngest times ingest into a fresh SQLite store per iteration and
// reports packets and stored probes per second.
func benchIngest(b *testing.B, ingest func(store.Store) (Result, error)) {
	benchIngestInto(b, func() string { return filepath.Join(b.TempDir(), "sg.db") }, ingest)
}

// benchIngestInto is benchIngest into the new store newDSN names.
func benchIngestInto(b *testing.B, newDSN func() string, ingest func(store.Store) (Result, error)) {
	b.ResetTimer()
	m := benchutil.Start()
	var res Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := store.Open(context.Background(), newDSN())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if res, err = ingest(st); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	m.Report(b, float64(res.Packets)*float64(b.N), "packets")
	m.Report(b, float64(res.Stored)*float64(b.N), "probes")
}

// sd24Stream merges the sd24 world's daily pcaps into one pcap stream, as
// `tcpdump -w -` would have written it over the 13 weeks.
func sd24Stream(b *testing.B) (string, int64) {
	b.Helper()
	dir := sd24World(b)
	files, err := capture.ListCaptures([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "sd24.pcap")
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	var w *pcapgo.Writer
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		if w == nil {
			w = pcapgo.NewWriterNanos(bw)
			if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
				b.Fatal(err)
			}
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := w.WritePacket(ci, data); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	info, _ := out.Stat()
	out.Close()
	return path, info.Size()
}

// BenchmarkIngestStdinSD24 is `cat sd24.pcap | scannergrouper ingest -`: the
// same world as BenchmarkIngestSD24 as one stream through an OS pipe (with
// the reader that lets a signal end a blocked read) into a fresh store.
func BenchmarkIngestStdinSD24(b *testing.B) {
	path, size := sd24Stream(b)
	b.SetBytes(size)
	benchIngest(b, func(st store.Store) (Result, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return Result{}, err
		}
		defer pr.Close()
		go func() {
			if f, err := os.Open(path); err == nil {
				io.Copy(pw, f)
				f.Close()
			}
			pw.Close()
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		return RunReader(ctx, st, capture.StdinName, pr, capture.Options{}, nil)
	})
}
