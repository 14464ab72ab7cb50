package app

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// ClassNotSeen is the classification of an IP without stored probes in the
// period looked at.
const ClassNotSeen = "not-seen"

// Lookup answers "who is this IP, and why?" (pipeline.Models.Explain) with
// the models and labels loaded once: the CLI's `ip` and the API's
// /v1/ip share it, so they say the same.
type Lookup struct {
	st      store.Store
	models  *pipeline.Models
	labels  *LabelSource
	Version string // the models' version
	// Explain encodes and classifies with the models' buffers: one at a
	// time.
	mu sync.Mutex
}

// NewLookup loads the models in dir and the stored labels.
func NewLookup(ctx context.Context, st store.Store, dir string) (*Lookup, error) {
	ls, err := LoadLabels(ctx, st, "", nil)
	if err != nil {
		return nil, err
	}
	m, err := pipeline.LoadModels(dir, ls.FullyDisclosed)
	if err != nil {
		return nil, err
	}
	m.Networks = ls.Networks
	return &Lookup{st: st, models: m, labels: ls, Version: m.Manifest.Version}, nil
}

// Explain returns the verdict on each IP, in the order given, from its
// stored probes in [from, to) (zero bounds are open); an IP without probes
// there is "not-seen".
func (l *Lookup) Explain(ctx context.Context, ips []netip.Addr, from, to time.Time) ([]pipeline.Explanation, error) {
	data, err := pipeline.LoadIPs(ctx, l.st, pipeline.Services, ips, from, to, l.labels.LabelOf)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	exps, err := l.models.Explain(data)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	byIP := make(map[string]pipeline.Explanation, len(exps))
	for _, e := range exps {
		byIP[e.IP] = e
	}
	out := make([]pipeline.Explanation, 0, len(ips))
	for _, ip := range ips {
		e, ok := byIP[ip.String()]
		if !ok {
			e = NotSeen(ip)
		}
		out = append(out, e)
	}
	return out, nil
}

// NotSeen is the explanation of an IP without stored probes.
func NotSeen(ip netip.Addr) pipeline.Explanation {
	return pipeline.Explanation{IP: ip.String(), Org: "unknown", Classification: ClassNotSeen,
		Reasons: []string{"no stored probe from this IP in the period"}}
}
