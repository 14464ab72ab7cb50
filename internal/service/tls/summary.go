package tls

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary gives the fingerprints analysts search for, and the SNI.
func (service) Summary(f probe.Fields) string {
	return "JA4 " + f.Value(FieldJA4) + "  JA3 " + f.Value(FieldJA3) + "  SNI " + f.Value(FieldSNI)
}
