package probe

import (
	"fmt"
	"sort"
	"sync"
)

// Service is one application protocol ScannerGrouper can recognise in a first
// probe. Implementations live in internal/service/<name> and register
// themselves from internal/service/all.
type Service interface {
	// Name is the lower-case service name stored with each probe ("http").
	Name() string
	// Detect reports how sure the service is that payload is one of its
	// first messages: 0 = not this protocol. Content decides before port:
	// a ClientHello on port 80 is TLS (docs/formats.md §1).
	Detect(payload []byte, transport Transport, dstPort uint16) Confidence
	// Complete reports whether payload holds a whole first message, so TCP
	// reassembly can stop waiting for more segments. It is only asked after
	// Detect accepted the payload.
	Complete(payload []byte, transport Transport) bool
	// Parse turns a payload into named fields (names: docs/formats.md §2). It must
	// never panic and must bound its allocations by len(payload).
	Parse(payload []byte, transport Transport) (Fields, error)
	// Kind says how a field of this service is encoded. Unknown names get
	// the service's default kind.
	Kind(field string) Kind
}

// Confidence is a Detect score; the highest wins.
type Confidence uint8

const (
	NotMine Confidence = 0
	// ByPort means only the destination port suggests the protocol.
	ByPort Confidence = 10
	// ByContent means the bytes look like the protocol's message.
	ByContent Confidence = 50
	// Certain means the bytes can only be this protocol.
	Certain Confidence = 100
)

// Other is the service name for payloads no registered service claims. They
// are stored with raw payload and port so a later service can be added
// without re-ingesting.
const Other = "other"

var (
	regMu    sync.RWMutex
	services = map[string]Service{}
	// sorted caches Services() because Classify runs once per session.
	sorted []Service
	// order is the registration order: internal/service/all registers in
	// the order the pipeline, the CLI and the reports use.
	order []string
)

// Register adds a service. It panics on a duplicate name, which is a
// programming error found at start-up.
func Register(s Service) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := services[s.Name()]; dup {
		panic(fmt.Sprintf("probe: service %q registered twice", s.Name()))
	}
	services[s.Name()] = s
	order = append(order, s.Name())
	sorted = make([]Service, 0, len(services))
	for _, svc := range services {
		sorted = append(sorted, svc)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
}

// Lookup returns the registered service with that name.
func Lookup(name string) (Service, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	s, ok := services[name]
	return s, ok
}

// Services returns the registered services sorted by name. The slice is
// shared: callers must not modify it.
func Services() []Service {
	regMu.RLock()
	defer regMu.RUnlock()
	return sorted
}

// ServiceNames returns the names of the registered services in the order
// they were registered: the order of internal/service/all, which is the
// pipeline's service order (ensemble columns, saved models) and the order
// of every listing. The slice is a copy.
func ServiceNames() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return append([]string(nil), order...)
}

// Classify picks the service with the highest confidence for a payload; ties
// go to the name that sorts first so the result never depends on map order.
// It returns nil when no service claims the payload.
func Classify(payload []byte, transport Transport, dstPort uint16) Service {
	var best Service
	var bestScore Confidence
	for _, s := range Services() {
		if c := s.Detect(payload, transport, dstPort); c > bestScore {
			best, bestScore = s, c
		}
	}
	return best
}

// Summarizer is implemented by services that can describe a probe in one
// short line for listings (request line and User-Agent, JA4 and SNI, ...).
type Summarizer interface {
	Summary(fields Fields) string
}

// Summary describes a probe in one line, using its service's Summarizer when
// there is one and the first fields otherwise.
func Summary(p Probe) string {
	if s, ok := Lookup(p.Service); ok {
		if sum, ok := s.(Summarizer); ok {
			return sum.Summary(p.Fields)
		}
	}
	if len(p.Fields) == 0 {
		n := len(p.Payload)
		if n > 24 {
			n = 24
		}
		return fmt.Sprintf("%q", p.Payload[:n])
	}
	var b []byte
	for i, f := range p.Fields {
		if i == 3 {
			break
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f.Name...)
		b = append(b, '=')
		b = append(b, f.Value...)
	}
	return string(b)
}

// ServerFirst is implemented by services whose server speaks without
// waiting for the client (SSH: each side sends its identification and
// KEXINIT on its own). For them a server payload does not end the client's
// first message, and a payload alone does not tell which side sent it.
type ServerFirst interface {
	ServerSpeaksFirst() bool
}

// SpeaksFirst reports whether svc is a ServerFirst service whose server
// speaks first.
func SpeaksFirst(svc Service) bool {
	sf, ok := svc.(ServerFirst)
	return ok && sf.ServerSpeaksFirst()
}
