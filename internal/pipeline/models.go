package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/atomicfile"
	"github.com/scannergrouper/scannergrouper/internal/buildinfo"
	"github.com/scannergrouper/scannergrouper/internal/ensemble"
	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/openset"
)

// ModelsFormatVersion is written into manifest.json; a newer one is refused.
// Version 2 added the owner tables of weak votes (Manifest.Owners), which a
// version-1 reader would ignore and so attribute differently.
const ModelsFormatVersion = 3

// Manifest describes a saved set of models (a models folder): which
// organisations they know, how they were trained, and on what.
type Manifest struct {
	FormatVersion int                 `json:"format_version"`
	Version       string              `json:"model_version"` // changes with every training or update
	Mode          string              `json:"mode"`
	Created       time.Time           `json:"created"`
	TrainedUntil  time.Time           `json:"trained_until"`
	Classes       []string            `json:"classes"` // known orgs, then "unknown"
	Services      []string            `json:"services"`
	Backbone      string              `json:"backbone"`
	Select        string              `json:"select"`
	Seed          uint64              `json:"seed"`
	Fields        map[string][]string `json:"fields"`
	// Background lists, per service, the SHA-256 of the encodings called
	// unknown outright (see Background), and the count that made them so.
	Background    map[string][]string `json:"background,omitempty"`
	BackgroundMin int                 `json:"background_min,omitempty"`
	// Owners maps, per service, the training encodings (SHA-256) that one
	// class sent most of to that class; a probe is a strong vote only when
	// its encoding is here with the class predicted (Background.MinPurity).
	Owners    map[string]map[string]int `json:"owners,omitempty"`
	MinPurity float64                   `json:"min_purity,omitempty"`
	// Ensemble is how per-IP evidence is combined: "evidence" (combiner.json
	// and evidence.json, format 3) or "vote" (ensemble.json; empty in
	// formats 1 and 2).
	Ensemble string         `json:"ensemble,omitempty"`
	Build    buildinfo.Info `json:"build"` // the code that trained them (version, VCS revision)
}

// Save writes the models into dir: manifest.json, one layout and one
// checkpoint per service, and ensemble.json. Every file is replaced
// atomically; the manifest goes last, so a crash leaves the previous
// manifest naming a consistent set or the new one naming complete files.
func (r *Result) Save(dir, mode string, trainedUntil time.Time) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	man := &Manifest{FormatVersion: ModelsFormatVersion, Mode: mode, Created: time.Now().UTC(), TrainedUntil: trainedUntil.UTC(),
		Classes: r.Classes.Names[:r.Classes.Unknown], Backbone: r.Options.Backbone, Select: string(r.Options.Select),
		Seed: r.Options.Seed, Fields: map[string][]string{}, Background: map[string][]string{}, BackgroundMin: r.Options.BackgroundMin,
		Owners: map[string]map[string]int{}, MinPurity: r.Options.MinPurity}
	man.Version = fmt.Sprintf("%s-%s", mode, man.Created.Format("20060102T150405Z"))
	man.Build = buildinfo.Read()
	for _, svc := range Services {
		sm := r.Models[svc]
		if sm == nil {
			continue
		}
		man.Services = append(man.Services, svc)
		man.Fields[svc] = sm.Fields
		if sm.Background != nil && sm.Background.MinCount > 0 {
			man.Background[svc] = sm.Background.digests()
		}
		if t := sm.Background.ownerTable(); t != nil {
			man.Owners[svc] = t
		}
		if err := sm.Layout.SaveFile(filepath.Join(dir, svc+".layout.json")); err != nil {
			return nil, err
		}
		if err := sm.Model.Save(filepath.Join(dir, svc+".model"), []byte(man.Version)); err != nil {
			return nil, err
		}
	}
	if r.Combiner != nil {
		man.Ensemble = "evidence"
		for name, v := range map[string]any{"combiner.json": r.Combiner, "evidence.json": evidence.Save(r.state.mem, r.state.pay)} {
			if err := writeJSON(filepath.Join(dir, name), v); err != nil {
				return nil, err
			}
		}
	} else {
		man.Ensemble = "vote"
	}
	// Incremental training keeps the vote ensemble beside the combiner:
	// until two weeks have been seen the combiner has nothing to fit on.
	if r.Ensemble != nil {
		if err := r.Ensemble.SaveFile(filepath.Join(dir, "ensemble.json")); err != nil {
			return nil, err
		}
	}
	err := atomicfile.Write(filepath.Join(dir, "manifest.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(man)
	})
	return man, err
}

// Models is a loaded models folder, ready to identify.
type Models struct {
	Manifest Manifest
	Classes  *Classes
	Services map[string]*ServiceModel
	Ensemble *ensemble.Model
	// Combiner and state: the evidence combiner (format 3, "evidence").
	Combiner *evidence.Combiner
	state    *evidenceState
	// Networks are the published networks at a time (neighbourhood
	// evidence); set by the caller, nil for none.
	Networks Networks
}

// LoadModels reads a models folder written by Result.Save.
func LoadModels(dir string, fullyDisclosed func(string) bool) (*Models, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no trained models in %s (run scannergrouper train first)", dir)
		}
		return nil, err
	}
	m := &Models{Services: map[string]*ServiceModel{}}
	if err := json.Unmarshal(b, &m.Manifest); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	if m.Manifest.FormatVersion > ModelsFormatVersion {
		return nil, fmt.Errorf("%s: models format %d is newer than this binary knows (%d)", dir, m.Manifest.FormatVersion, ModelsFormatVersion)
	}
	m.Classes = newClasses(m.Manifest.Classes, fullyDisclosed)
	for _, svc := range m.Manifest.Services {
		layout, err := feature.LoadFile(filepath.Join(dir, svc+".layout.json"))
		if err != nil {
			return nil, err
		}
		model, _, err := openset.Load(filepath.Join(dir, svc+".model"))
		if err != nil {
			return nil, fmt.Errorf("%s model: %w", svc, err)
		}
		// The layout's field names, not the manifest's: a layout follows its
		// service's field renamings when loaded (feature.Load).
		m.Services[svc] = &ServiceModel{Service: svc, Fields: layout.FieldNames(), Layout: layout, Model: model,
			Background: backgroundFrom(m.Manifest.BackgroundMin, m.Manifest.Background[svc]).
				withPurity(m.Manifest.MinPurity).withOwners(m.Manifest.Owners[svc])}
	}
	if m.Manifest.Ensemble == "evidence" {
		var saved evidence.Saved
		m.Combiner = &evidence.Combiner{}
		if err := readJSON(filepath.Join(dir, "combiner.json"), m.Combiner); err != nil {
			return nil, err
		}
		if err := readJSON(filepath.Join(dir, "evidence.json"), &saved); err != nil {
			return nil, err
		}
		if m.Combiner.K != m.Classes.Unknown || saved.K != m.Classes.Unknown {
			return nil, fmt.Errorf("%s: the combiner knows %d organisations and the manifest %d", dir, m.Combiner.K, m.Classes.Unknown)
		}
		mem, pay, err := saved.Load()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		m.state = &evidenceState{mem: mem, pay: pay}
		if _, err := os.Stat(filepath.Join(dir, "ensemble.json")); err != nil {
			return m, nil
		}
	}
	if m.Ensemble, err = ensemble.LoadFile(filepath.Join(dir, "ensemble.json")); err != nil {
		return nil, err
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error { return json.NewEncoder(w).Encode(v) })
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Identify attributes every scanner IP of data with the loaded models.
// With the evidence combiner, the labels data carries (valid at each
// probe's time) are label memory: a listed IP is named with evidence
// "listed", and listed IPs are neighbours.
func (m *Models) Identify(data *Data) ([]Attribution, error) {
	if m.Combiner != nil {
		state := m.windowState(data)
		images, err := encodeData(m.Services, data)
		if err != nil {
			return nil, err
		}
		ev, err := gatherEvidence(m.Services, state, data, images)
		if err != nil {
			return nil, err
		}
		return ev.attributions(m.Combiner, m.Classes), nil
	}
	preds := map[string][]int{}
	for svc, sm := range m.Services {
		enc, err := encodeSeries(sm.Layout, data.S(svc))
		if err != nil {
			return nil, err
		}
		p, err := predictProbeVotes(sm, enc, m.Classes)
		if err != nil {
			return nil, err
		}
		preds[svc] = p
	}
	return Identify(data, preds, m.Classes, m.Ensemble)
}

// windowState is the evidence state for identifying data: the saved
// memory and payload senders, plus the networks listed at data's start
// and the labels valid during data (label memory). What data adds goes
// into an overlay of the saved memory, which is shared and left as it is:
// a lookup of one IP costs nothing proportional to the memory's size.
func (m *Models) windowState(data *Data) *evidenceState {
	state := &evidenceState{mem: m.state.mem.Overlay(), pay: m.state.pay}
	first, _ := data.Span()
	state.addNetworks(m.Classes, m.Networks, first)
	for _, svc := range Services {
		ser := data.S(svc)
		for i, r := range ser.recs.all() {
			if r.org != 0 {
				state.mem.Add(ser.SrcIP(i), evidenceClass(m.Classes, ser.Org(i)))
			}
		}
	}
	return state
}

// WindowAttributions are the verdicts on one identification window.
type WindowAttributions struct {
	From, To     time.Time
	Attributions []Attribution
}

// IdentifyWindows cuts [from, to) into consecutive windows of the given
// length from from (0: one window; a zero from is the day of data's first
// probe, a zero to the end of the window holding its last) and attributes every scanner IP seen in each one, as the
// paper identifies week by week. Windows without probes are left out.
func (m *Models) IdentifyWindows(data *Data, from, to time.Time, length time.Duration) ([]WindowAttributions, error) {
	if length < 0 {
		return nil, fmt.Errorf("negative window length %v", length)
	}
	first, last := data.Span()
	if from.IsZero() {
		from = dayStart(first)
	}
	if to.IsZero() {
		to = last.Add(time.Nanosecond)
		if length > 0 && to.After(from) {
			// An open end closes the last window at its full length, so
			// that windows keep the same bounds as traffic arrives.
			n := (to.Sub(from) + length - 1) / length
			to = from.Add(n * length)
		}
	}
	var out []WindowAttributions
	for w := from; w.Before(to); {
		end := to
		if length > 0 && w.Add(length).Before(to) {
			end = w.Add(length)
		}
		part := data.Slice(w, end)
		if part.Count() > 0 {
			atts, err := m.Identify(part)
			if err != nil {
				return nil, err
			}
			out = append(out, WindowAttributions{From: w, To: end, Attributions: atts})
		}
		w = end
	}
	return out, nil
}

// incrementalState is what an incremental models folder keeps besides the
// models: the options, the weeks trained, the ensemble's rows of every week
// (it is refitted on all of them), and the background counts.
type incrementalState struct {
	Options    Options                           `json:"options"`
	Origin     time.Time                         `json:"window_origin"`
	Weeks      []time.Time                       `json:"weeks"`
	Rows       []ensemble.IPRow                  `json:"rows"`
	Labels     []int                             `json:"labels"`
	Background map[string]map[string][2]int      `json:"background_counts"`
	Senders    map[string]map[string]map[int]int `json:"senders,omitempty"`
	// Examples are the evidence rows of every week, gathered before the
	// models learnt that week: what the combiner is refitted on.
	Examples [][]evidence.Example `json:"evidence_examples,omitempty"`
	AsNew    [][]evidence.Example `json:"evidence_as_new,omitempty"`
	// Sources are what the payload senders were counted from
	// (evidenceSources), with the fingerprint of the labels they were
	// learnt with; absent in states saved before them, which the next
	// update relearns from the history.
	Sources            map[string]*serviceSources `json:"evidence_sources,omitempty"`
	SourcesNeedHistory bool                       `json:"evidence_needs_history,omitempty"`
	LabelsFingerprint  string                     `json:"labels_fingerprint,omitempty"`
}

// SaveIncremental writes an incremental state into dir (the models, plus
// incremental.json, written before the manifest that makes it current).
func (inc *Incremental) Save(dir string) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st := incrementalState{Options: inc.Res.Options, Origin: inc.Window.Origin, Weeks: inc.Weeks, Rows: inc.Rows,
		Labels: inc.Labels, Background: map[string]map[string][2]int{}, Senders: map[string]map[string]map[int]int{},
		Examples: inc.Examples, AsNew: inc.AsNew, LabelsFingerprint: inc.LabelsFingerprint}
	if inc.sources != nil {
		st.Sources, st.SourcesNeedHistory = inc.sources.services, inc.needsHistory
	}
	for svc, sm := range inc.Res.Models {
		if sm.Background != nil {
			st.Background[svc] = sm.Background.counts()
			st.Senders[svc] = sm.Background.senderCounts()
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, "incremental.json"), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(st)
	}); err != nil {
		return nil, err
	}
	until := time.Time{}
	if n := len(inc.Weeks); n > 0 {
		until = inc.Weeks[n-1].Add(inc.Period())
	}
	return inc.Res.Save(dir, "incremental", until)
}

// LoadIncremental reads a folder saved by Incremental.Save, ready for the
// next week.
func LoadIncremental(dir string, fullyDisclosed func(string) bool) (*Incremental, error) {
	m, err := LoadModels(dir, fullyDisclosed)
	if err != nil {
		return nil, err
	}
	if m.Manifest.Mode != "incremental" {
		return nil, fmt.Errorf("%s holds %s-mode models; weekly updates need models trained with --mode incremental", dir, m.Manifest.Mode)
	}
	b, err := os.ReadFile(filepath.Join(dir, "incremental.json"))
	if err != nil {
		return nil, err
	}
	var st incrementalState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s/incremental.json: %w", dir, err)
	}
	if len(st.Rows) != len(st.Labels) {
		return nil, fmt.Errorf("%s/incremental.json: %d rows but %d labels", dir, len(st.Rows), len(st.Labels))
	}
	for svc, sm := range m.Services {
		sm.Background = backgroundFromCounts(st.Options.BackgroundMin, st.Background[svc]).
			withPurity(st.Options.MinPurity).withSenders(st.Senders[svc])
	}
	inc := NewIncremental(m.Classes, st.Options, st.Origin)
	inc.Res.Models, inc.Res.Ensemble = m.Services, m.Ensemble
	inc.Rows, inc.Labels, inc.Weeks = st.Rows, st.Labels, st.Weeks
	inc.Examples, inc.AsNew = st.Examples, st.AsNew
	if m.Combiner != nil || st.Options.Evidence {
		inc.Res.Combiner, inc.state = m.Combiner, m.state
		if inc.state == nil {
			inc.state = newEvidenceState(m.Classes)
		}
		inc.Res.state = inc.state
		if st.Sources != nil {
			// Recounted from the sources: the saved counts say how many
			// sent each payload, not who, which the next period needs to
			// count a sender once.
			inc.sources = newEvidenceSources()
			inc.sources.load(st.Sources)
			inc.needsHistory, inc.LabelsFingerprint = st.SourcesNeedHistory, st.LabelsFingerprint
			inc.state.pay = inc.sources.payloads(inc.Res.Models)
		} else {
			inc.sources = nil
		}
	}
	return inc, nil
}
