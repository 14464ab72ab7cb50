package ingest

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// slowStore holds its first InsertProbes until release is closed and
// records the batches it was given.
type slowStore struct {
	store.Store
	started, release chan struct{}
	mu               sync.Mutex
	batches          [][]uint16 // source ports, per call
}

func (s *slowStore) InsertProbes(ctx context.Context, ps []probe.Probe) (int, error) {
	s.mu.Lock()
	first := len(s.batches) == 0
	ports := make([]uint16, len(ps))
	for i, p := range ps {
		ports[i] = p.SrcPort
	}
	s.batches = append(s.batches, ports)
	s.mu.Unlock()
	if first {
		close(s.started)
		<-s.release
	}
	return s.Store.InsertProbes(ctx, ps)
}

// Extraction goes on while a batch is being written: the next batch fills
// while the store is busy, and the batches reach the store whole and in
// input order.
func TestExtractionOverlapsTheStore(t *testing.T) {
	defer func(n int) { batchSize = n }(batchSize)
	batchSize = 4
	st := &slowStore{Store: openStore(t), started: make(chan struct{}), release: make(chan struct{})}
	b := newBatcher(st, nil)
	probeN := func(i int) probe.Probe {
		return probe.Probe{Time: time.Date(2024, 3, 1, 10, 0, i, 0, time.UTC), SrcIP: netip.MustParseAddr("203.0.113.7"), SrcPort: uint16(40000 + i),
			DstIP: netip.MustParseAddr("192.0.2.1"), DstPort: 80, Transport: probe.TCP, Service: "http",
			Payload: []byte("GET / HTTP/1.1\r\n\r\n")}
	}
	filled := make(chan error, 1)
	go func() {
		for i := range 7 { // one full batch, then three probes of the next
			if err := b.emit(probeN(i)); err != nil {
				filled <- err
				return
			}
		}
		filled <- nil
	}()
	select {
	case <-st.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first full batch never reached the store")
	}
	select {
	case err := <-filled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("extraction waited for the store to write the previous batch")
	}
	close(st.release)
	if err := b.finish(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := [][]uint16{{40000, 40001, 40002, 40003}, {40004, 40005, 40006}}
	if !slices.EqualFunc(st.batches, want, slices.Equal) {
		t.Fatalf("store got batches %v, want %v", st.batches, want)
	}
	if b.res.Stored != 7 || countProbes(t, st.Store) != 7 {
		t.Errorf("stored %d, store holds %d; want 7", b.res.Stored, countProbes(t, st.Store))
	}
}
