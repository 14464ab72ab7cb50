package rdp

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary gives the cookie (or routing token) and what the client asked
// for.
func (Service) Summary(f probe.Fields) string {
	who := "cookie " + f.Value(FieldCookie)
	if rt := f.Value(FieldRoutingToken); rt != probe.NotAvailable {
		who = "token " + rt
	}
	what := f.Value(FieldNegRequest)
	if p := f.Value(FieldRequestedProtoNames); p != probe.NotAvailable {
		what = p
	}
	return who + "  " + what
}
