package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Emitter is implemented by services the simulator (internal/simulate) can
// send. It says how the service's first probes travel and decodes the
// service's payload templates; the builders of the payloads and of the
// honeypot's replies live beside it, in the service's emit.go, so that a
// protocol is one folder end to end.
type Emitter interface {
	// Transport is what the service's first probes travel over.
	Transport() Transport
	// DefaultPort is the service's well-known port: the one a client
	// leaves out of an address (an HTTP Host header without ":port").
	DefaultPort() uint16
	// Wire says how the service's first payloads look on the wire.
	Wire() Wire
	// Templates reads the service's parts of the simulator's data and
	// returns the decoder of its templates.
	Templates(d *EmitData) (TemplateDecoder, error)
}

// Wire is how an emitter's first payloads are sent. Zero shares draw
// nothing.
type Wire struct {
	// SplitShare of the first payloads longer than 64 bytes are sent in two
	// TCP segments (ClientHellos often are).
	SplitShare float64
	// ServerClosesFirstShare of the connections are closed by the honeypot
	// first.
	ServerClosesFirstShare float64
}

// TemplateDecoder decodes one profile's list of templates of a service (the
// value of its "<service>" member in the simulator's profiles.json).
type TemplateDecoder func(raw json.RawMessage) ([]Template, error)

// Template is one payload template of a scanner profile.
type Template interface {
	Name() string
	// Weight is how often the template is drawn among its profile's.
	Weight() float64
	// Active is the [from, to) share of the world's span the template is
	// drawn in; nil: always.
	Active() []float64
	// Ports are [port, weight] pairs that replace the service's port list;
	// nil: the service's.
	Ports() [][2]int
	// Next names the profile's template of a follow-up probe sent on the
	// same port right after this one; "" for none.
	Next() string
	// Emit builds one probe to dst:dport whose connection opens at syn,
	// drawing what varies per probe from rng.
	Emit(rng *rand.Rand, dst netip.Addr, dport uint16, syn time.Time) Emission
	// Derive returns the j-th template derived from this one (j = 1, 2,
	// ...): another that differs in one field, without randomness.
	Derive(j int) Template
}

// Emission is one probe built from a template.
type Emission struct {
	Payload []byte
	// Banner is what the honeypot sends as soon as the connection opens,
	// before the client's payload (an SSH server's identification); nil
	// for protocols where the client speaks first.
	Banner []byte
	// Split, when > 0, is where the client wrote its payload in two parts
	// (an SSH client's identification line, then its KEXINIT once it read
	// the server's): the payload travels in two segments cut there.
	Split int
	// Reply is the honeypot's answer.
	Reply []byte
	// Signature is the payload with what varies per connection left out;
	// Template extends it where it leaves out list content the payload
	// carries ("" when Signature says it all).
	Signature, Template string
	// JA3 is the MD5 JA3 of a ClientHello, "" otherwise.
	JA3 string
}

// EmitData is the simulator's data as emitters read it: the members of its
// profiles.json and of its "generic" member that the simulator does not
// read itself, and the members of corpus.json. Every member must be read by
// some emitter.
type EmitData struct {
	parts map[string]map[string]json.RawMessage
	read  map[string]bool
}

// NewEmitData holds the members of the profile file (profile), of its
// generic member (generic) and of the corpus file (corpus).
func NewEmitData(profile, generic, corpus map[string]json.RawMessage) *EmitData {
	return &EmitData{parts: map[string]map[string]json.RawMessage{
		"profiles": profile, "generic": generic, "corpus": corpus}, read: map[string]bool{}}
}

func (d *EmitData) decode(part, key string, v any) error {
	d.read[part+"."+key] = true
	raw, ok := d.parts[part][key]
	if !ok {
		return nil
	}
	if err := DecodeStrict(raw, v); err != nil {
		return fmt.Errorf("%s %s: %w", part, key, err)
	}
	return nil
}

// Profile decodes a member of the profile file into v (left alone when
// absent).
func (d *EmitData) Profile(key string, v any) error { return d.decode("profiles", key, v) }

// Generic decodes a member of the profile file's "generic" member.
func (d *EmitData) Generic(key string, v any) error { return d.decode("generic", key, v) }

// Corpus decodes a member of the corpus file.
func (d *EmitData) Corpus(key string, v any) error { return d.decode("corpus", key, v) }

// Unread lists the members no emitter read, as "part.key", sorted.
func (d *EmitData) Unread() []string {
	var out []string
	for part, m := range d.parts {
		for key := range m {
			if !d.read[part+"."+key] {
				out = append(out, part+"."+key)
			}
		}
	}
	sort.Strings(out)
	return out
}

// DecodeStrict decodes JSON into v, refusing fields v does not have.
func DecodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// EmitterOf returns the Emitter of a registered service, if it has one.
func EmitterOf(service string) (Emitter, bool) {
	if s, ok := Lookup(service); ok {
		if e, ok := s.(Emitter); ok {
			return e, true
		}
	}
	return nil, false
}

// TemplateMeta is what every template of the simulator's profiles.json
// carries; a service's template type embeds it for Name, Weight and Active.
type TemplateMeta struct {
	TemplateName   string    `json:"name"`
	TemplateWeight float64   `json:"weight"`
	Source         string    `json:"source"`
	ActiveSpan     []float64 `json:"active"`
}

func (m *TemplateMeta) Name() string      { return m.TemplateName }
func (m *TemplateMeta) Weight() float64   { return m.TemplateWeight }
func (m *TemplateMeta) Active() []float64 { return m.ActiveSpan }

// DerivedName is the name of the j-th template derived from base.
func DerivedName(base string, j int) string { return base + "~t" + strconv.Itoa(j) }

// Resolver is a template that resolves itself: checks its settings and
// loads what it names from its own package (the recorded clients of SSH
// and RDP).
type Resolver interface {
	Template
	Resolve() error
}

// OwnTemplates is the Templates of an emitter that reads nothing from the
// simulator's shared data: its decoder decodes a list of T and resolves
// each.
func OwnTemplates[T Resolver]() TemplateDecoder {
	return func(raw json.RawMessage) ([]Template, error) {
		return DecodeTemplates(raw, func(t T) error { return t.Resolve() })
	}
}

// DecodeTemplates decodes a profile's list of templates of type T (a
// pointer to a service's template struct) and resolves each; an error
// names the template.
func DecodeTemplates[T Template](raw json.RawMessage, resolve func(T) error) ([]Template, error) {
	var ts []T
	if err := DecodeStrict(raw, &ts); err != nil {
		return nil, err
	}
	out := make([]Template, len(ts))
	for i, t := range ts {
		if err := resolve(t); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name(), err)
		}
		out[i] = t
	}
	return out, nil
}
