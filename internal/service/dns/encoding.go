package dns

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Encoding widths (reference-impl §2.7).
const (
	// QNameWidth is the qname's width in bytes: names differ late
	// ("…shadowserver.org"), so it gets more than the default.
	QNameWidth = 32
	// CanvasSide is the DNS canvas side in every training mode: the whole
	// header and the qname fit in 16×16, and there is nothing to grow.
	CanvasSide = 16
)

// FieldOrder is every field in wire order, as Parse emits them.
var FieldOrder = []string{
	FieldID, FieldQR, FieldOpcode, FieldAA, FieldTC, FieldRD, FieldRA, FieldZ, FieldAD, FieldCD, FieldRcode,
	FieldQDCount, FieldANCount, FieldNSCount, FieldARCount, FieldQName, FieldQType, FieldQClass, FieldEDNS,
}

// Encoding implements probe.Encoder: every header field is an int at its
// wire width, most significant bit first; qname is a string that may embed
// the sensor's address (reverse lookups, "ip-192-0-2-1" names). Every query
// carries every field, so they are all fixed and the canvas is fixed too.
func (Service) Encoding() probe.Encoding {
	return probe.Encoding{Rule: rule, Fixed: FieldOrder, Side: CanvasSide,
		KeyFields: []string{FieldQName, FieldQType, FieldQClass, FieldRD, FieldEDNS},
		PerProbe:  []string{FieldID}}
}

func rule(field string) (probe.FieldRule, bool) {
	if field == FieldQName {
		return probe.FieldRule{Kind: probe.KindString, Width: QNameWidth, Identity: probe.IdentityQName}, true
	}
	if w, ok := IntFieldWidths[field]; ok {
		return probe.FieldRule{Kind: probe.KindInt, Width: w}, true
	}
	return probe.FieldRule{}, false
}
