package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// ReplayFiles lists the daily captures of a simulated world (DIR/pcap, or
// DIR itself, holding YYYY-MM-DD.pcap[.gz] files) with their days, in
// order.
func ReplayFiles(dir string) ([]string, []time.Time, error) {
	pcapDir := filepath.Join(dir, "pcap")
	if _, err := os.Stat(pcapDir); err != nil {
		pcapDir = dir
	}
	entries, err := os.ReadDir(pcapDir)
	if err != nil {
		return nil, nil, err
	}
	var files []string
	var days []time.Time
	for _, e := range entries {
		if e.IsDir() || ignoredName(e.Name()) {
			continue
		}
		day, err := time.Parse("2006-01-02", e.Name()[:min(10, len(e.Name()))])
		if err != nil {
			return nil, nil, fmt.Errorf("replay: %s: want one capture per day named YYYY-MM-DD.pcap", filepath.Join(pcapDir, e.Name()))
		}
		files = append(files, filepath.Join(pcapDir, e.Name()))
		days = append(days, day)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("replay: no daily captures in %s", pcapDir)
	}
	// Names sort as days do.
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return days[a].Compare(days[b]) })
	sf, sd := make([]string, len(files)), make([]time.Time, len(files))
	for i, j := range idx {
		sf[i], sd[i] = files[j], days[j]
	}
	return sf, sd, nil
}

// Replay feeds a simulated world day by day on clock: each day's capture
// is ingested once the clock passes the day's end, then the cycle steps.
// Days already ingested (a restarted replay) are skipped. It returns when
// the last day was fed and its period handled.
func (c *Cycle) Replay(ctx context.Context, dir string, clock Clock) error {
	files, days, err := ReplayFiles(dir)
	if err != nil {
		return err
	}
	for i, f := range files {
		due := days[i].Add(24 * time.Hour)
		if wait := due.Sub(clock.Now()); wait > 0 {
			if err := clock.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		key := "replay/" + filepath.Base(f)
		info, err := os.Stat(f)
		if err != nil {
			return err
		}
		mark := FileMark{Size: info.Size(), ModTime: info.ModTime().UTC()}
		if prev, ok := c.state.Files[key]; !ok || prev.Size != mark.Size || !prev.ModTime.Equal(mark.ModTime) {
			if _, err := c.ingestFile(ctx, f, key, mark); err != nil {
				return err
			}
		}
		// The world's time is the end of the last day fed, however far
		// the clock ran while ingesting it.
		if _, err := c.Step(ctx, due); err != nil {
			return err
		}
	}
	return nil
}

// ScaledClock runs speed times faster than the wall clock from Start: a
// replay's simulated time.
type ScaledClock struct {
	Start time.Time // simulated time at creation
	Speed float64
	wall  time.Time
}

// NewScaledClock starts a simulated clock at start.
func NewScaledClock(start time.Time, speed float64) *ScaledClock {
	return &ScaledClock{Start: start, Speed: speed, wall: time.Now()}
}

func (s *ScaledClock) Now() time.Time {
	return s.Start.Add(time.Duration(float64(time.Since(s.wall)) * s.Speed))
}

func (s *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	return WallClock{}.Sleep(ctx, time.Duration(float64(d)/s.Speed))
}

// FakeClock is a test clock: Sleep advances it at once.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock starts a test clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.Advance(d)
	return nil
}

// Advance moves the clock forward by d.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
