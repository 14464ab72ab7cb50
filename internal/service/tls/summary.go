package tls

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary gives the fingerprints analysts search for, and the SNI.
func (service) Summary(f probe.Fields) string {
	return "JA4 " + f.Value("ja4") + "  JA3 " + f.Value("ja3_md5") + "  SNI " + f.Value("extensions_sni")
}
