package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"os"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// OrgList is one organisation's list as written by WriteLists.
type OrgList struct {
	Org   string   `json:"org"`
	Rows  int      `json:"rows"` // verdicts (one per IP and window)
	IPs   int      `json:"ips"`  // distinct IPs (the .txt list)
	Files []string `json:"files"`
}

// WriteLists writes the per-organisation lists (txt, csv, json) of the
// stored verdicts into out: of org only when org is not "", of every
// organisation but "unknown" otherwise. Each file is replaced atomically.
func WriteLists(ctx context.Context, st store.Store, out, org string) ([]OrgList, error) {
	atts, err := pipeline.Attributions(ctx, st, org)
	if err != nil {
		return nil, err
	}
	byOrg := map[string][]pipeline.StoredAttribution{}
	for _, a := range atts {
		if a.Org != "unknown" || org == "unknown" {
			byOrg[a.Org] = append(byOrg[a.Org], a)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	written := []OrgList{}
	for _, o := range slices.Sorted(maps.Keys(byOrg)) {
		rows := byOrg[o]
		ips, err := WriteOrgList(out, o, rows)
		if err != nil {
			return nil, err
		}
		base := filepath.Join(out, o)
		written = append(written, OrgList{Org: o, Rows: len(rows), IPs: ips, Files: []string{base + ".txt", base + ".csv", base + ".json"}})
	}
	return written, nil
}

// WriteOrgList writes one org's list as txt (distinct IPs), csv and json
// (every verdict) and returns the number of distinct IPs.
func WriteOrgList(dir, org string, rows []pipeline.StoredAttribution) (int, error) {
	base := filepath.Join(dir, org)
	seen := map[string]bool{}
	if err := atomicfile.Write(base+".txt", func(w io.Writer) error {
		fmt.Fprintf(w, "# %s scanner IPs attributed by scannergrouper\n", org)
		for _, r := range rows {
			if !seen[r.IP] {
				seen[r.IP] = true
				fmt.Fprintln(w, r.IP)
			}
		}
		return nil
	}); err != nil {
		return 0, err
	}
	if err := atomicfile.Write(base+".csv", func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"ip", "org", "probability", "services", "from", "to", "model_version"})
		for _, r := range rows {
			cw.Write([]string{r.IP, r.Org, strconv.FormatFloat(r.Probability, 'f', 4, 64), strings.Join(r.Services, "+"),
				r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.ModelVersion})
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return 0, err
	}
	return len(seen), atomicfile.Write(base+".json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	})
}
