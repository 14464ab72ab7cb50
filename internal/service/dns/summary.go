package dns

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary is the question, with the flags that tell tools apart.
func (Service) Summary(f probe.Fields) string {
	return f.Value("qname") + " type " + f.Value("qtype") + " class " + f.Value("qclass") +
		" rd=" + f.Value("rd") + " edns=" + f.Value("edns")
}
