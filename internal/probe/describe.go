package probe

// MinClassifyBytes is how much of a stream no service claims is waited for
// before it is called a whole first message of service "other": a TLS
// record header alone does not identify a hello.
const MinClassifyBytes = 8

// FirstMessageComplete reports whether payload, the start of what a client
// sent in one session to dstPort, holds its whole first message: the
// payload cap was reached, the service that claims the bytes says its
// message is complete, or no service claims MinClassifyBytes of it. Every
// path that cuts first probes out of a stream (capture reassembly, the
// sensor's listeners) decides with it, so they cut alike.
func FirstMessageComplete(payload []byte, transport Transport, dstPort uint16) bool {
	if len(payload) >= MaxPayload {
		return true
	}
	svc := Classify(payload, transport, dstPort)
	if svc == nil {
		return len(payload) >= MinClassifyBytes
	}
	return svc.Complete(payload, transport)
}

// Describe classifies p.Payload by content (p.DstPort only breaks ties) and
// sets p.Service, p.Fields and p.ParseError from the service that claims it:
// service Other with no fields when none does, the fields the parser got
// with the parser's error when it rejects the bytes.
func Describe(p *Probe) {
	svc := Classify(p.Payload, p.Transport, p.DstPort)
	if svc == nil {
		p.Service, p.Fields, p.ParseError = Other, nil, ""
		return
	}
	p.Service = svc.Name()
	fields, err := svc.Parse(p.Payload, p.Transport)
	p.Fields = fields
	p.ParseError = ""
	if err != nil {
		p.ParseError = err.Error()
	}
}
