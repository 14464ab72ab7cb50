package ssh

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary gives the identification line as sent and the HASSH.
func (Service) Summary(f probe.Fields) string {
	ident := "SSH-" + f.Value(FieldProtoVersion) + "-" + f.Value(FieldSoftwareVersion)
	if c := f.Value(FieldComments); c != probe.NotAvailable {
		ident += " " + c
	}
	return ident + "  HASSH " + f.Value(FieldHASSH)
}
