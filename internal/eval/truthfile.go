package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
)

// IPTruth is what a simulated world's truth says of one scanner IP.
type IPTruth struct {
	// Org is the true organisation ("unknown" for unattributed scanners).
	Org string
	// Hidden: a member of Org whose address the labels do not list.
	Hidden bool
}

// WorldTruth is a simulated world's full ground truth per scanner IP, keyed
// by the address as netip.Addr.String writes it.
type WorldTruth map[string]IPTruth

// truthColumns are the columns of a simulated world's truth.csv (written by
// internal/simulate, one row per first probe) that scoring needs.
var truthColumns = []string{"src_ip", "org", "hidden"}

// ReadWorldTruth reads a simulated world's truth.csv into per-IP truth: an
// IP's org is that of its last row, and it is hidden when any row says so.
// eval reads the file itself, by column name, so that scoring against a
// simulated world does not make the scoring packages depend on the
// simulator (docs/architecture.md, layer rules).
func ReadWorldTruth(path string) (WorldTruth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := make([]int, len(truthColumns))
	for i, name := range truthColumns {
		if col[i] = slices.Index(head, name); col[i] < 0 {
			return nil, fmt.Errorf("%s: no %s column (header %v): not a simulated world's truth.csv", path, name, head)
		}
	}
	truth := WorldTruth{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return truth, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ip, err := netip.ParseAddr(rec[col[0]])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		hidden, err := strconv.ParseBool(rec[col[2]])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: hidden: %w", path, line, err)
		}
		t := truth[ip.String()]
		t.Org, t.Hidden = rec[col[1]], t.Hidden || hidden
		truth[ip.String()] = t
	}
}
