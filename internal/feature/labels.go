package feature

import (
	"net/netip"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// LabelProbes returns the org of each probe's source IP at the probe's time
// ("" when orgOf knows none), the parallel slice FieldStatistics takes.
// orgOf comes from the label package's reader, so a probe gets the org
// training would give it.
func LabelProbes(probes []probe.Probe, orgOf func(netip.Addr, time.Time) string) []string {
	out := make([]string, len(probes))
	for i := range probes {
		out[i] = orgOf(probes[i].SrcIP.Unmap(), probes[i].Time)
	}
	return out
}
