// Package capture reads honeypot traffic (pcap/pcapng files, gzip or not, and
// payload CSV logs), follows TCP and UDP sessions, and emits the first service
// probe of each session (docs/formats.md §1) with its parsed fields.
package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Options tune extraction; the zero value is usable.
type Options struct {
	// Sensor is stored with every probe (which honeypot saw it).
	Sensor string
	// Honeypots are the sensors' own addresses. When set, they decide the
	// direction of conversations whose start was not captured, and
	// conversations the honeypot itself opened are ignored.
	Honeypots []netip.Prefix
	// RequireHandshake drops TCP conversations whose SYN was not captured.
	RequireHandshake bool
	// MaxFlows bounds the session table (default 1<<20); beyond it the least
	// recently seen sessions are evicted, so memory stays constant however
	// large the capture.
	MaxFlows int
	// TCPIdle and UDPIdle end a session after that much silence (defaults
	// 5 minutes each; docs/formats.md §1 fixes the UDP one).
	TCPIdle, UDPIdle time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxFlows <= 0 {
		o.MaxFlows = 1 << 20
	}
	if o.TCPIdle <= 0 {
		o.TCPIdle = 5 * time.Minute
	}
	if o.UDPIdle <= 0 {
		o.UDPIdle = 5 * time.Minute
	}
	return o
}

// Stats summarise an extraction.
type Stats struct {
	Files           int   `json:"files"`
	Packets         int64 `json:"packets"`
	Sessions        int64 `json:"sessions"`
	Midstream       int64 `json:"midstream_sessions"`
	Retransmissions int64 `json:"retransmissions"`
	Evicted         int64 `json:"evicted"`
	// Truncated counts first messages cut at probe.MaxPayload;
	// DroppedSegments counts out-of-order segments not buffered because
	// the session's out-of-order buffer was full.
	Truncated       int64          `json:"truncated_payloads"`
	DroppedSegments int64          `json:"dropped_out_of_order"`
	Probes          int64          `json:"probes"`
	ByService       map[string]int `json:"by_service"`
}

func (s *Stats) count(service string) {
	s.Probes++
	if s.ByService == nil {
		s.ByService = map[string]int{}
	}
	s.ByService[service]++
}

// Extract reads every capture named by paths (files, or directories whose
// capture files are read in name order) as one continuous stream of traffic
// and calls emit with each first probe. A damaged file does not stop the
// run: its probes up to the damage are emitted, and the returned error lists
// every file that failed with its byte offset. An error from emit or ctx
// stops the run at once.
func Extract(ctx context.Context, paths []string, opts Options, emit func(probe.Probe) error) (Stats, error) {
	opts = opts.withDefaults()
	var stats Stats
	files, err := ListCaptures(paths)
	if err != nil {
		return stats, err
	}
	t := newTracker(opts, &stats, emit)
	var fileErrs []error
	for _, name := range files {
		fr, err := openFile(name)
		if err != nil {
			fileErrs = append(fileErrs, err)
			continue
		}
		stats.Files++
		fileErr, err := t.readAll(ctx, name, fr)
		fr.Close()
		if err != nil {
			return stats, err
		}
		if fileErr != nil {
			fileErrs = append(fileErrs, fileErr)
		}
	}
	if err := t.flush(); err != nil {
		return stats, err
	}
	return stats, errors.Join(fileErrs...)
}

// captureSuffixes are the file names taken from a directory; a file named
// explicitly is always tried.
var captureSuffixes = []string{".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz"}

// ListCaptures expands directories (recursively, sorted by path, so
// one-file-per-day captures are read in time order) and checks files exist.
func ListCaptures(paths []string) ([]string, error) {
	return listFiles(paths, captureSuffixes, "capture files")
}

// ListPayloadCSV expands directories into the .csv files under them
// (recursively, sorted by path: one log per day is read in time order) and
// checks files exist.
func ListPayloadCSV(paths []string) ([]string, error) {
	return listFiles(paths, []string{".csv"}, "payload CSV files")
}

func listFiles(paths, suffixes []string, what string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		var inDir []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			lower := strings.ToLower(d.Name())
			for _, suf := range suffixes {
				if strings.HasSuffix(lower, suf) {
					inDir = append(inDir, path)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(inDir) == 0 {
			return nil, fmt.Errorf("%s: no %s (%s)", p, what, strings.Join(suffixes, ", "))
		}
		sort.Strings(inDir)
		out = append(out, inDir...)
	}
	return out, nil
}
