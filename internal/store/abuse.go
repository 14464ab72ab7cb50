package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AbuseStore keeps abuse reputation checks (AbuseIPDB): the latest check
// of each IP with its date, so a rerun checks only what is stale.
type AbuseStore interface {
	// PutAbuseChecks stores checks in one transaction. A check replaces the
	// stored one of its IP only when it is at least as recent, so importing
	// an old file never overwrites a newer check.
	PutAbuseChecks(ctx context.Context, checks []AbuseCheck) error
	// AbuseChecks lists the stored checks, ordered by IP.
	AbuseChecks(ctx context.Context) ([]AbuseCheck, error)
	// AbuseAPIChecksSince counts the checks of source "api" made at or after
	// t: what a run has already spent of today's quota.
	AbuseAPIChecksSince(ctx context.Context, t time.Time) (int, error)
}

// AbuseCheck is one IP's abuse reputation at CheckedAt.
type AbuseCheck struct {
	IP             string    `json:"ip"`
	Score          int       `json:"score"` // abuseConfidenceScore, 0..100
	CountryCode    string    `json:"country_code,omitempty"`
	UsageType      string    `json:"usage_type,omitempty"`
	ISP            string    `json:"isp,omitempty"`
	Domain         string    `json:"domain,omitempty"`
	TotalReports   int       `json:"total_reports"`
	DistinctUsers  int       `json:"distinct_users"`
	LastReportedAt time.Time `json:"last_reported_at,omitzero"`
	Categories     []int     `json:"categories,omitempty"` // report categories, most frequent first
	Whitelisted    bool      `json:"whitelisted,omitempty"`
	Tor            bool      `json:"tor,omitempty"`
	CheckedAt      time.Time `json:"checked_at"`
	Source         string    `json:"source"` // "api" or the imported file's name
}

// abuseSchema is append-only: a released step is never edited.
var abuseSchema = []string{
	`CREATE TABLE abuse_checks (
		ip               TEXT    NOT NULL PRIMARY KEY,
		checked_at       BIGINT  NOT NULL, -- Unix seconds, like last_reported_at (0: none)
		score            INTEGER NOT NULL,
		country_code     TEXT    NOT NULL DEFAULT '',
		usage_type       TEXT    NOT NULL DEFAULT '',
		isp              TEXT    NOT NULL DEFAULT '',
		domain           TEXT    NOT NULL DEFAULT '',
		total_reports    INTEGER NOT NULL DEFAULT 0,
		distinct_users   INTEGER NOT NULL DEFAULT 0,
		last_reported_at BIGINT  NOT NULL DEFAULT 0,
		categories       TEXT    NOT NULL DEFAULT '',
		whitelisted      INTEGER NOT NULL DEFAULT 0,
		tor              INTEGER NOT NULL DEFAULT 0,
		source           TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX abuse_checks_source_checked ON abuse_checks (source, checked_at);`,
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PutAbuseChecks upserts checks in one transaction, keeping the newer.
func (s *SQL) PutAbuseChecks(ctx context.Context, checks []AbuseCheck) error {
	if len(checks) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.d.bind(`INSERT INTO abuse_checks (ip, checked_at, score, country_code, usage_type, isp, domain,
			total_reports, distinct_users, last_reported_at, categories, whitelisted, tor, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (ip) DO UPDATE SET checked_at = excluded.checked_at, score = excluded.score,
			country_code = excluded.country_code, usage_type = excluded.usage_type, isp = excluded.isp,
			domain = excluded.domain, total_reports = excluded.total_reports, distinct_users = excluded.distinct_users,
			last_reported_at = excluded.last_reported_at, categories = excluded.categories,
			whitelisted = excluded.whitelisted, tor = excluded.tor, source = excluded.source
		WHERE excluded.checked_at >= abuse_checks.checked_at`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, c := range checks {
		if c.CheckedAt.IsZero() {
			return fmt.Errorf("store: abuse check of %s has no date", c.IP)
		}
		if _, err := stmt.ExecContext(ctx, c.IP, toUnix(c.CheckedAt), c.Score, c.CountryCode, c.UsageType, c.ISP, c.Domain,
			c.TotalReports, c.DistinctUsers, toUnix(c.LastReportedAt), joinInts(c.Categories), boolInt(c.Whitelisted),
			boolInt(c.Tor), c.Source); err != nil {
			return fmt.Errorf("store: abuse check of %s: %w", c.IP, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit abuse checks: %w", err)
	}
	return nil
}

// AbuseChecks lists every stored check.
func (s *SQL) AbuseChecks(ctx context.Context) ([]AbuseCheck, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ip, checked_at, score, country_code, usage_type, isp, domain, total_reports,
		distinct_users, last_reported_at, categories, whitelisted, tor, source FROM abuse_checks ORDER BY ip`)
	if err != nil {
		return nil, fmt.Errorf("store: query abuse checks: %w", err)
	}
	defer rows.Close()
	var out []AbuseCheck
	for rows.Next() {
		c, err := scanAbuseCheck(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanAbuseCheck(rows *sql.Rows) (AbuseCheck, error) {
	var c AbuseCheck
	var checked, last int64
	var cats string
	var wl, tor int
	if err := rows.Scan(&c.IP, &checked, &c.Score, &c.CountryCode, &c.UsageType, &c.ISP, &c.Domain, &c.TotalReports,
		&c.DistinctUsers, &last, &cats, &wl, &tor, &c.Source); err != nil {
		return c, fmt.Errorf("store: read abuse check: %w", err)
	}
	c.CheckedAt, c.LastReportedAt = fromUnix(checked), fromUnix(last)
	c.Whitelisted, c.Tor = wl != 0, tor != 0
	if cats != "" {
		for _, f := range strings.Split(cats, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return c, fmt.Errorf("store: abuse check of %s: category %q", c.IP, f)
			}
			c.Categories = append(c.Categories, n)
		}
	}
	return c, nil
}

// AbuseAPIChecksSince counts today's API checks.
func (s *SQL) AbuseAPIChecksSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT COUNT(*) FROM abuse_checks WHERE source = 'api' AND checked_at >= ?`), t.Unix()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count abuse checks: %w", err)
	}
	return n, nil
}
