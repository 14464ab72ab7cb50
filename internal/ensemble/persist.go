package ensemble

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
)

// Format and FormatVersion identify a saved ensemble; Load refuses other
// formats and newer versions. Version 2 added multi-hot features: a binary
// that knew only version 1 would encode such a model's rows wrongly, so it
// must refuse it rather than attribute quietly with the wrong features.
const (
	Format        = "scannergrouper-ensemble"
	FormatVersion = 2
)

// maxSavedClasses bounds what Load accepts from an untrusted file.
const (
	maxSavedClasses  = 1 << 12
	maxSavedFeatures = 1 << 16
)

type savedModel struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	Unknown    int               `json:"unknown"`
	Classes    []int             `json:"classes"`
	ClassNames []string          `json:"class_names,omitempty"`
	Features   []ServiceFeatures `json:"features"`
	Coef       [][]float64       `json:"coef"`
	Intercept  []float64         `json:"intercept"`
	C          float64           `json:"c"`
	Theta      float64           `json:"theta"`
	ThetaF1    float64           `json:"theta_f1"`
	Window     WindowConfig      `json:"window"`
	Fits       []FitInfo         `json:"fits,omitempty"`
	MultiHot   bool              `json:"multi_hot,omitempty"`
}

// Save writes the model as versioned JSON.
func (m *Model) Save(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(savedModel{
		Format: Format, Version: FormatVersion,
		Unknown: m.Unknown, Classes: m.Classes, ClassNames: m.ClassNames, Features: m.Features,
		Coef: m.Coef, Intercept: m.Intercept, C: m.C, Theta: m.Theta, ThetaF1: m.ThetaF1,
		Window: m.Window, Fits: m.Fits, MultiHot: m.MultiHot,
	})
}

// SaveFile writes the model atomically (atomicfile), so an interrupted run
// never leaves a truncated model behind.
func (m *Model) SaveFile(path string) error {
	return atomicfile.Write(path, m.Save)
}

// Load reads a model written by Save and checks it is consistent.
func Load(r io.Reader) (*Model, error) {
	var s savedModel
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("ensemble: reading model: %w", err)
	}
	if s.Format != Format {
		return nil, fmt.Errorf("ensemble: not a saved ensemble (format %q)", s.Format)
	}
	if s.Version < 1 || s.Version > FormatVersion {
		return nil, fmt.Errorf("ensemble: model format version %d, this build reads 1 to %d", s.Version, FormatVersion)
	}
	m := &Model{Unknown: s.Unknown, Classes: s.Classes, ClassNames: s.ClassNames, Features: s.Features,
		Coef: s.Coef, Intercept: s.Intercept, C: s.C, Theta: s.Theta, ThetaF1: s.ThetaF1,
		Window: s.Window, Fits: s.Fits, MultiHot: s.MultiHot}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("ensemble: invalid model: %w", err)
	}
	m.buildIndex()
	return m, nil
}

// LoadFile reads a model file.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func (m *Model) check() error {
	if m.Unknown <= 0 || m.Unknown > maxSavedClasses {
		return fmt.Errorf("unknown class %d out of range", m.Unknown)
	}
	if len(m.Classes) < 2 {
		return errors.New("need at least 2 classes")
	}
	for i, c := range m.Classes {
		// The unknown class is a fitted class too with Config.FitUnknown.
		if c < 0 || c > m.Unknown || (i > 0 && c <= m.Classes[i-1]) {
			return fmt.Errorf("class %d not an ascending class", c)
		}
	}
	if m.ClassNames != nil && len(m.ClassNames) != m.Unknown+1 {
		return fmt.Errorf("%d class names for %d classes", len(m.ClassNames), m.Unknown+1)
	}
	width := 0
	seen := map[string]bool{}
	for _, f := range m.Features {
		if f.Service == "" || seen[f.Service] {
			return fmt.Errorf("empty or repeated service %q", f.Service)
		}
		seen[f.Service] = true
		for i, v := range f.Values {
			if v < 0 || (i > 0 && v <= f.Values[i-1]) {
				return fmt.Errorf("service %s: values not ascending non-negative", f.Service)
			}
		}
		width += len(f.Values)
		if f.Absent {
			width++
		}
		if width > maxSavedFeatures {
			return errors.New("too many features")
		}
	}
	want := len(m.Classes)
	if want == 2 {
		want = 1
	}
	if len(m.Coef) != want || len(m.Intercept) != want {
		return fmt.Errorf("%d classifiers for %d classes", len(m.Coef), len(m.Classes))
	}
	for k, row := range m.Coef {
		if len(row) != width {
			return fmt.Errorf("classifier %d has %d weights, layout has %d", k, len(row), width)
		}
		for _, v := range append(slices.Clone(row), m.Intercept[k]) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("classifier %d has a non-finite weight", k)
			}
		}
	}
	if math.IsNaN(m.Theta) || m.Theta < 0 || m.Theta > 1 {
		return fmt.Errorf("θ %v outside [0, 1]", m.Theta)
	}
	return m.Window.Validate()
}
