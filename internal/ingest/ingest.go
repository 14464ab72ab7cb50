// Package ingest moves first probes from captures and payload logs into the
// store in batched transactions.
package ingest

import (
	"context"
	"errors"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Format names an input format.
type Format string

const (
	Capture    Format = "capture"     // pcap / pcapng, gzip or not, files or directories
	PayloadCSV Format = "payload-csv" // one payload-carrying packet per row
)

// batchSize trades transaction overhead against work lost on a crash; SQLite
// inserts run at their best with thousands of rows per transaction.
const batchSize = 4096

// Result reports what an ingest did.
type Result struct {
	capture.Stats
	Extracted int64 `json:"-"`      // first probes handed to the store so far (for progress)
	Stored    int64 `json:"stored"` // probes new to the store (the rest were already there)
}

// Run extracts first probes from paths and stores them. Probes already
// stored (same time, addresses, ports, transport) are skipped, so running it
// twice on the same files stores each probe once. Errors in one input file
// are reported after the others were ingested; everything stored before an
// error stays stored.
func Run(ctx context.Context, st store.Store, format Format, paths []string, opts capture.Options, progress func(Result)) (Result, error) {
	var res Result
	batch := make([]probe.Probe, 0, batchSize)
	flush := func() error {
		n, err := st.InsertProbes(ctx, batch)
		res.Stored += int64(n)
		batch = batch[:0]
		if progress != nil {
			progress(res)
		}
		return err
	}
	emit := func(p probe.Probe) error {
		res.Extracted++
		batch = append(batch, p)
		if len(batch) == batchSize {
			return flush()
		}
		return nil
	}
	var inputErrs []error
	switch format {
	case PayloadCSV:
		for _, path := range paths {
			s, err := capture.ExtractPayloadCSV(ctx, path, opts, emit)
			res.add(s)
			if err != nil {
				if ctx.Err() != nil {
					return res, err
				}
				inputErrs = append(inputErrs, err)
			}
		}
	default:
		s, err := capture.Extract(ctx, paths, opts, emit)
		res.Stats = s
		if err != nil {
			var fe *capture.FileError
			if !errors.As(err, &fe) {
				// Not a per-file problem (cancelled, store failure): stop, but
				// still keep what was extracted.
				if ferr := flush(); ferr != nil {
					return res, errors.Join(err, ferr)
				}
				return res, err
			}
			inputErrs = append(inputErrs, err)
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	return res, errors.Join(inputErrs...)
}

func (r *Result) add(s capture.Stats) {
	r.Files += s.Files
	r.Packets += s.Packets
	r.Sessions += s.Sessions
	r.Midstream += s.Midstream
	r.Retransmissions += s.Retransmissions
	r.Evicted += s.Evicted
	r.Probes += s.Probes
	for k, v := range s.ByService {
		if r.ByService == nil {
			r.ByService = map[string]int{}
		}
		r.ByService[k] += v
	}
}
