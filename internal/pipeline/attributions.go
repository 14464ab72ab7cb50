package pipeline

import (
	"context"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// attributionSchema keeps identify's verdicts: one row per scanner IP and
// identified window, replaced when the same window is identified again.
var attributionSchema = []string{
	`CREATE TABLE attributions (
		ip            TEXT    NOT NULL,
		window_start  BIGINT  NOT NULL,
		window_end    BIGINT  NOT NULL,
		org           TEXT    NOT NULL,
		probability   REAL    NOT NULL,
		services      TEXT    NOT NULL,
		model_version TEXT    NOT NULL,
		PRIMARY KEY (ip, window_start, window_end)
	);
	CREATE INDEX attributions_org ON attributions (org);`,
}

// StoreAttributions records attributions of [from, to) made by a model.
func StoreAttributions(ctx context.Context, st store.Store, atts []Attribution, from, to time.Time, modelVersion string) error {
	if err := st.Migrate(ctx, "attribution", attributionSchema); err != nil {
		return err
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO attributions (ip, window_start, window_end, org, probability, services, model_version)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip, window_start, window_end) DO UPDATE SET org = excluded.org, probability = excluded.probability,
			services = excluded.services, model_version = excluded.model_version`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range atts {
		if _, err := stmt.ExecContext(ctx, a.IP, from.UnixNano(), to.UnixNano(), a.Org, a.Prob, strings.Join(a.Services, ","), modelVersion); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// StoredAttribution is one row of the attributions table.
type StoredAttribution struct {
	IP           string    `json:"ip"`
	Org          string    `json:"org"`
	Probability  float64   `json:"probability"`
	Services     []string  `json:"services"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	ModelVersion string    `json:"model_version"`
}

// Attributions lists stored attributions, for one org or all ("").
func Attributions(ctx context.Context, st store.Store, org string) ([]StoredAttribution, error) {
	if err := st.Migrate(ctx, "attribution", attributionSchema); err != nil {
		return nil, err
	}
	q := `SELECT ip, org, probability, services, window_start, window_end, model_version FROM attributions`
	var args []any
	if org != "" {
		q += ` WHERE org = ?`
		args = append(args, org)
	}
	rows, err := st.DB().QueryContext(ctx, q+` ORDER BY org, ip, window_start`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredAttribution
	for rows.Next() {
		var a StoredAttribution
		var svcs string
		var from, to int64
		if err := rows.Scan(&a.IP, &a.Org, &a.Probability, &svcs, &from, &to, &a.ModelVersion); err != nil {
			return nil, err
		}
		if svcs != "" {
			a.Services = strings.Split(svcs, ",")
		}
		a.From, a.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
