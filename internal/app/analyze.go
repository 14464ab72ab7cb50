package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/analysis"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// AnalyzeConfig is one analysis of the scanners still unknown in a period.
type AnalyzeConfig struct {
	From, To time.Time
	Models   string
	Out      string // report folder, replaced whole
	Seed     uint64
}

// Analyze identifies the period, clusters the still-unknown scanners and
// writes the report folder (report.md, clusters.json, t-SNE figures). The
// report is written beside Out and renamed into place, so a reader sees
// the old report or the new one.
func Analyze(ctx context.Context, st store.Store, cfg AnalyzeConfig) (*analysis.Report, error) {
	m, data, err := loadPeriod(ctx, st, cfg.Models, cfg.From, cfg.To)
	if err != nil {
		return nil, err
	}
	atts, err := m.Identify(data)
	if err != nil {
		return nil, err
	}
	in, err := pipeline.AnalysisInput(fmt.Sprintf("Still-unknown scanners %s .. %s", cfg.From.Format("2006-01-02"), cfg.To.Format("2006-01-02")),
		m.Services, data, atts, m.Classes)
	if err != nil {
		return nil, err
	}
	tmp := cfg.Out + ".new"
	os.RemoveAll(tmp)
	rep, err := analysis.WriteReport(tmp, in, analysis.Config{Seed: cfg.Seed})
	if err == nil {
		_, err = WriteAbuseSection(ctx, st, cfg.From, cfg.To, tmp, slog.Default())
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	old := cfg.Out + ".old"
	os.RemoveAll(old)
	if err := os.Rename(cfg.Out, old); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := os.Rename(tmp, cfg.Out); err != nil {
		return nil, err
	}
	os.RemoveAll(old)
	return rep, nil
}

// AnalysisDir is where the cycle keeps the latest still-unknown analysis.
func (c *Cycle) AnalysisDir() string { return filepath.Join(c.cfg.StateDir, "analysis") }
