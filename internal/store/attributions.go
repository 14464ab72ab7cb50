package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AttributionStore keeps identify's verdicts: one per scanner IP and
// identified window.
type AttributionStore interface {
	// PutAttributions stores atts in one transaction; a verdict for an IP
	// and window already stored is replaced, so identifying the same window
	// again keeps only the newer verdicts.
	PutAttributions(ctx context.Context, atts []Attribution) error
	// Attributions lists stored verdicts for one org, or all orgs for "",
	// ordered by org, IP and window start.
	Attributions(ctx context.Context, org string) ([]Attribution, error)
}

// Attribution is one stored verdict: IP was attributed to Org during the
// window [From, To) by the model ModelVersion. Window bounds are kept to the
// nanosecond and identify a verdict together with IP.
type Attribution struct {
	IP           string    `json:"ip"`
	Org          string    `json:"org"`
	Probability  float64   `json:"probability"`
	Services     []string  `json:"services"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	ModelVersion string    `json:"model_version"`
}

// attributionSchema is append-only: a released step is never edited.
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

// PutAttributions upserts atts in one transaction.
func (s *SQL) PutAttributions(ctx context.Context, atts []Attribution) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.d.bind(`INSERT INTO attributions (ip, window_start, window_end, org, probability, services, model_version)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip, window_start, window_end) DO UPDATE SET org = excluded.org, probability = excluded.probability,
			services = excluded.services, model_version = excluded.model_version`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range atts {
		if _, err := stmt.ExecContext(ctx, a.IP, a.From.UnixNano(), a.To.UnixNano(), a.Org, a.Probability, strings.Join(a.Services, ","), a.ModelVersion); err != nil {
			return fmt.Errorf("store: attribution of %s: %w", a.IP, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit attributions: %w", err)
	}
	return nil
}

const attributionColumns = `SELECT ip, org, probability, services, window_start, window_end, model_version FROM attributions`

// Attributions lists stored verdicts.
func (s *SQL) Attributions(ctx context.Context, org string) ([]Attribution, error) {
	q := attributionColumns
	var args []any
	if org != "" {
		q += ` WHERE org = ?`
		args = append(args, org)
	}
	return s.queryAttributions(ctx, q, args)
}

// queryAttributions runs q, a query of attributionColumns, and orders its
// verdicts by org, IP and window.
func (s *SQL) queryAttributions(ctx context.Context, q string, args []any) ([]Attribution, error) {
	rows, err := s.db.QueryContext(ctx, s.d.bind(q+` ORDER BY org, ip, window_start`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: query attributions: %w", err)
	}
	defer rows.Close()
	var out []Attribution
	for rows.Next() {
		a, err := scanAttribution(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
