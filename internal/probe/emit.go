package probe

// Emitter is implemented by services the simulator (internal/simulate) can
// send. It says how the service's first probes travel; the builders of
// their payloads and of the honeypot's replies live beside it, in the
// service's emit.go, so that a protocol is one folder end to end.
type Emitter interface {
	// Transport is what the service's first probes travel over.
	Transport() Transport
	// DefaultPort is the service's well-known port: the one a client
	// leaves out of an address (an HTTP Host header without ":port").
	DefaultPort() uint16
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
