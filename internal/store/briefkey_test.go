package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// TestBriefKeyParse reads the briefKey values SQLite and PostgreSQL spell
// and refuses damaged ones with the value in the message.
func TestBriefKeyParse(t *testing.T) {
	var b briefKeys
	var p probe.Probe
	pid, err := b.parse([]byte("198.51.100.7 2001:db8::1 http 40123 8080 77"), &p)
	if err != nil {
		t.Fatal(err)
	}
	want := probe.Probe{SrcIP: netip.MustParseAddr("198.51.100.7"), DstIP: netip.MustParseAddr("2001:db8::1"), Service: "http", SrcPort: 40123, DstPort: 8080}
	if pid != 77 || p.SrcIP != want.SrcIP || p.DstIP != want.DstIP || p.Service != want.Service || p.SrcPort != want.SrcPort || p.DstPort != want.DstPort {
		t.Errorf("parsed %+v, payload %d; want %+v, payload 77", p, pid, want)
	}
	var q probe.Probe
	if _, err := b.parse([]byte("198.51.100.8 192.0.2.1 http 1 2 3"), &q); err != nil || q.Service != "http" {
		t.Fatalf("second key: %v, service %q", err, q.Service)
	}
	for _, bad := range []string{
		"",
		"198.51.100.7",
		"198.51.100.7 192.0.2.1 http 1 2",
		"198.51.100.7 192.0.2.1 http 1 2 3 4",
		"198.51.100.999 192.0.2.1 http 1 2 3",
		"198.51.100.7 nowhere http 1 2 3",
		"198.51.100.7 192.0.2.1 http 65536 2 3",
		"198.51.100.7 192.0.2.1 http 1 -2 3",
		"198.51.100.7 192.0.2.1 http 1 2 x",
		"198.51.100.7  192.0.2.1 http 1 2 3",
	} {
		var p probe.Probe
		if _, err := b.parse([]byte(bad), &p); err == nil {
			t.Errorf("%q parsed as %+v", bad, p)
		} else if !strings.Contains(err.Error(), "bad ") {
			t.Errorf("%q: error %v does not say what is bad", bad, err)
		}
	}
}

// FuzzBriefKey: no key makes parse panic, and what it accepts spells the
// same key again.
func FuzzBriefKey(f *testing.F) {
	f.Add("198.51.100.7 192.0.2.1 http 40123 8080 77")
	f.Add("::1 ::2 dns 0 53 9223372036854775807")
	f.Add("1.2.3.4 5.6.7.8  1 2 3")
	f.Fuzz(func(t *testing.T, key string) {
		var b briefKeys
		var p probe.Probe
		pid, err := b.parse([]byte(key), &p)
		if err != nil {
			return
		}
		again := fmt.Sprintf("%s %s %s %d %d %d", p.SrcIP, p.DstIP, p.Service, p.SrcPort, p.DstPort, pid)
		var q probe.Probe
		pid2, err := b.parse([]byte(again), &q)
		if err != nil || pid2 != pid || q.SrcIP != p.SrcIP || q.DstIP != p.DstIP || q.Service != p.Service || q.SrcPort != p.SrcPort || q.DstPort != p.DstPort {
			t.Fatalf("%q parsed as %+v %d, spelt %q, read again as %+v %d (%v)", key, p, pid, again, q, pid2, err)
		}
	})
}

// TestBriefReadAcrossBatches reads more probes than a reader's batches
// hold, in order, stops one read half-way (the store then takes a write at
// once: the read let its snapshot go), and ends one whose context is
// cancelled with the context's error, a few batches later at most.
func TestBriefReadAcrossBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		const n = 10*briefBatchRows + 17
		all := manyProbes(0, n, "")
		if _, err := s.InsertProbes(ctx, all); err != nil {
			t.Fatal(err)
		}
		got := collect(t, s, ProbeQuery{Brief: true})
		if len(got) != n {
			t.Fatalf("%d probes, want %d", len(got), n)
		}
		for i, p := range got {
			if w := all[i]; !p.Time.Equal(w.Time) || p.SrcIP != w.SrcIP || p.SrcPort != w.SrcPort || !slices.EqualFunc(p.Fields, w.Fields, sameField) {
				t.Fatalf("probe %d: %+v, want %+v", i, p, w)
			}
		}

		k := 0
		for _, err := range s.Probes(ctx, ProbeQuery{Brief: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if k++; k == briefBatchRows+5 {
				break
			}
		}
		if _, err := s.InsertProbes(ctx, manyProbes(n, 10, "")); err != nil {
			t.Fatalf("write after a read stopped half-way: %v", err)
		}

		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		k = 0
		var last error
		for _, err := range s.Probes(cctx, ProbeQuery{Brief: true}) {
			if err != nil {
				last = err
				break
			}
			if k++; k == briefBatchRows {
				cancel()
			}
		}
		if !errors.Is(last, context.Canceled) || k > 5*briefBatchRows {
			t.Fatalf("a read cancelled after %d probes ended with %v, want context.Canceled", k, last)
		}
	})
}
