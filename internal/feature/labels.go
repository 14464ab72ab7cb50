package feature

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// ReadOrgLabels reads an IP → org CSV with header "ip,org" (docs/formats.md §3) or
// the artifact's "IP,Label". Org names are lower-cased and trimmed; the
// artifact's "webRay" becomes "webray". Rows whose org is unattributed are
// kept (the value says so). A repeated IP with a different org is an error:
// a probe must not get a label by row order.
func ReadOrgLabels(r io.Reader) (map[netip.Addr]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("feature: labels: header: %w", err)
	}
	ipCol, orgCol := -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "ip":
			ipCol = i
		case "org", "label":
			orgCol = i
		}
	}
	if ipCol < 0 || orgCol < 0 {
		return nil, fmt.Errorf("feature: labels: header %q lacks ip and org (or IP,Label) columns", strings.Join(head, ","))
	}
	out := map[netip.Addr]string{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("feature: labels: line %d: %w", line, err)
		}
		if len(rec) <= max(ipCol, orgCol) {
			return nil, fmt.Errorf("feature: labels: line %d: %d columns, want at least %d", line, len(rec), max(ipCol, orgCol)+1)
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(rec[ipCol]))
		if err != nil {
			return nil, fmt.Errorf("feature: labels: line %d: %w", line, err)
		}
		ip = ip.Unmap()
		org := strings.ToLower(strings.TrimSpace(rec[orgCol]))
		if prev, dup := out[ip]; dup && prev != org {
			return nil, fmt.Errorf("feature: labels: line %d: %s is both %q and %q", line, ip, prev, org)
		}
		out[ip] = org
	}
}

// LabelProbes returns the org of each probe's source IP ("" when unknown to
// labels), the parallel slice FieldStatistics takes.
func LabelProbes(probes []probe.Probe, labels map[netip.Addr]string) []string {
	out := make([]string, len(probes))
	for i := range probes {
		out[i] = labels[probes[i].SrcIP.Unmap()]
	}
	return out
}
