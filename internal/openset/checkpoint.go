package openset

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/scannergrouper/scannergrouper/internal/nn"
)

// layoutVersion identifies this package's checkpoint contents (array names
// and shapes for a given Config); bump it when the network changes.
const layoutVersion = 1

type layout struct {
	Version int    `json:"openset_layout"`
	Config  Config `json:"config"`
	H       int    `json:"h"`
	W       int    `json:"w"`
}

func (m *Model) arrays() []nn.NamedArray {
	var out []nn.NamedArray
	add := func(prefix string, name string, shape []int, data []float32) {
		out = append(out, nn.NamedArray{Name: prefix + name, Shape: slices.Clone(shape), Data: data})
	}
	for _, p := range m.params {
		add("model/", p.Name, p.Shape, p.Data)
	}
	for _, b := range m.buffers {
		add("model/", b.Name, []int{len(b.Data)}, b.Data)
	}
	for _, p := range m.emaParams {
		add("ema/", p.Name, p.Shape, p.Data)
	}
	for _, b := range m.emaBuffers {
		add("ema/", b.Name, []int{len(b.Data)}, b.Data)
	}
	for i, p := range m.params {
		add("optimizer/", p.Name+".momentum_buffer", p.Shape, m.opt.Velocity[i])
	}
	return out
}

// Save writes model, EMA, optimiser state, iteration and the caller's meta
// (e.g. the feature-layout version) atomically to path. The same state and
// meta always give the same bytes.
func (m *Model) Save(path string, meta []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	lay, err := json.Marshal(layout{Version: layoutVersion, Config: m.cfg, H: m.h, W: m.w})
	if err != nil {
		return err
	}
	return nn.WriteCheckpoint(path, &nn.Checkpoint{Iteration: m.iter, Layout: lay, Meta: meta, Arrays: m.arrays()})
}

// Load reads a checkpoint written by Save and returns the model (ready to
// Predict or to continue training) and the caller's meta.
func Load(path string) (*Model, []byte, error) {
	c, err := nn.ReadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	var lay layout
	if err := json.Unmarshal(c.Layout, &lay); err != nil {
		return nil, nil, fmt.Errorf("openset: %s: bad layout: %w", path, err)
	}
	if lay.Version != layoutVersion {
		return nil, nil, fmt.Errorf("openset: %s: layout version %d, this build reads %d", path, lay.Version, layoutVersion)
	}
	m, err := NewModel(lay.Config, lay.H, lay.W)
	if err != nil {
		return nil, nil, fmt.Errorf("openset: %s: %w", path, err)
	}
	want := m.arrays()
	if len(want) != len(c.Arrays) {
		return nil, nil, fmt.Errorf("openset: %s: %d arrays, expected %d", path, len(c.Arrays), len(want))
	}
	for i, a := range want {
		got := c.Arrays[i]
		if got.Name != a.Name || !slices.Equal(got.Shape, a.Shape) {
			return nil, nil, fmt.Errorf("openset: %s: array %d is %s%v, expected %s%v", path, i, got.Name, got.Shape, a.Name, a.Shape)
		}
		copy(a.Data, got.Data)
	}
	if c.Iteration < 0 {
		return nil, nil, fmt.Errorf("openset: %s: negative iteration", path)
	}
	m.iter = c.Iteration
	return m, c.Meta, nil
}
