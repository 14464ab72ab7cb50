package pipeline

import (
	"context"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// StoreAttributions records attributions of [from, to) made by a model,
// replacing what an earlier identification of the same window stored.
func StoreAttributions(ctx context.Context, st store.Store, atts []Attribution, from, to time.Time, modelVersion string) error {
	rows := make([]store.Attribution, len(atts))
	for i, a := range atts {
		rows[i] = store.Attribution{IP: a.IP, Org: a.Org, Probability: a.Prob, Services: a.Services,
			From: from, To: to, ModelVersion: modelVersion}
	}
	return st.PutAttributions(ctx, rows)
}

// StoredAttribution is one stored verdict.
type StoredAttribution = store.Attribution

// Attributions lists stored attributions, for one org or all ("").
func Attributions(ctx context.Context, st store.Store, org string) ([]StoredAttribution, error) {
	return st.Attributions(ctx, org)
}
