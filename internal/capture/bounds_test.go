package capture

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// A client that sends its stream out of order and far ahead cannot make a
// session hold more than 2 * probe.MaxPayload, and a first message longer
// than probe.MaxPayload is cut there; both are counted.
func TestSessionBytesAreBounded(t *testing.T) {
	var stats Stats
	var got []probe.Probe
	tr := newTracker(Options{}.withDefaults(), &stats, func(p probe.Probe) error {
		got = append(got, p)
		return nil
	})
	c, s := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("192.0.2.10")
	now := t0
	pkt := func(seq uint32, payload []byte, syn bool) *packet {
		now = now.Add(time.Millisecond)
		return &packet{Time: now, Src: c, Dst: s, SrcPort: 40000, DstPort: 9999, SYN: syn, ACK: !syn, Seq: seq, Payload: payload}
	}
	if err := tr.handle(pkt(999, nil, true)); err != nil {
		t.Fatal(err)
	}
	// 16 segments of 1.5 KiB, each 1 byte further than the last, all after
	// a gap at the start: overlapping, so 24 KiB of pending data covering
	// little of the stream would fit the old per-segment checks.
	seg := bytes.Repeat([]byte{'A'}, 1500)
	for i := 0; i < 16; i++ {
		if err := tr.handle(pkt(1000+100+uint32(i), seg, false)); err != nil {
			t.Fatal(err)
		}
	}
	f := tr.flows[func() flowKey { k, _ := makeKey(pkt(0, nil, false)); return k }()]
	if f == nil || pendingBytes(f) > probe.MaxPayload {
		t.Fatalf("out-of-order buffer holds %d bytes, cap %d", pendingBytes(f), probe.MaxPayload)
	}
	if stats.DroppedSegments == 0 {
		t.Fatalf("segments beyond the cap were not counted: %+v", stats)
	}
	// The stream from its start, 20 KiB of it: the probe stops at 16 KiB.
	big := bytes.Repeat([]byte{'B'}, 20<<10)
	if err := tr.handle(pkt(1000, big, false)); err != nil {
		t.Fatal(err)
	}
	if err := tr.flush(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Payload) != probe.MaxPayload || stats.Truncated != 1 {
		t.Fatalf("probes %d, payload %d, truncated %d", len(got), len(got[0].Payload), stats.Truncated)
	}
}
