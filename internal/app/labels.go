package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Labels imports an optional label file into the store's label database
// and returns a labeler over everything stored (labels import, IP lists,
// cookie tags) and the registry's fully-disclosed test.
func Labels(ctx context.Context, st store.Store, file string, log *slog.Logger) (pipeline.Labeler, func(string) bool, error) {
	ls, err := LoadLabels(ctx, st, file, log)
	if err != nil {
		return nil, nil, err
	}
	return ls.LabelOf, ls.FullyDisclosed, nil
}

// LabelSource is what the stored ground truth gives the pipeline.
type LabelSource struct {
	LabelOf        pipeline.Labeler
	FullyDisclosed func(string) bool
	// Networks are the published networks (entries wider than one
	// address) valid at a time: neighbourhood evidence.
	Networks pipeline.Networks
	resolver *label.Resolver
}

// Fingerprint identifies what the labels say (label.Resolver.Fingerprint);
// it walks every label, so it is computed when asked.
func (ls *LabelSource) Fingerprint() string { return ls.resolver.Fingerprint() }

// LoadLabels imports an optional label file into the store's label
// database and returns what every stored label source says.
func LoadLabels(ctx context.Context, st store.Store, file string, log *slog.Logger) (*LabelSource, error) {
	ldb, err := label.Open(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	if file != "" {
		rep, err := ldb.ImportFile(ctx, file, label.ImportOptions{})
		if err != nil {
			return nil, fmt.Errorf("labels %s: %w", file, err)
		}
		if log != nil {
			log.Info("labels imported", "file", file, "new", rep.Added)
		}
	}
	resolver, err := ldb.Resolver(ctx, label.Policy{})
	if err != nil {
		return nil, err
	}
	labelOf := func(a netip.Addr, t time.Time) string {
		org, _ := resolver.Lookup(a, t)
		return org
	}
	networks := func(t time.Time) []pipeline.LabelledNetwork {
		var out []pipeline.LabelledNetwork
		for p, org := range resolver.Networks(t) {
			out = append(out, pipeline.LabelledNetwork{Prefix: p, Org: org})
		}
		return out
	}
	return &LabelSource{LabelOf: labelOf, FullyDisclosed: ldb.Registry().FullyDisclosed, Networks: networks,
		resolver: resolver}, nil
}
