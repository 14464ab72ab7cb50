package analysis

// Unknown is the attribution of a scanner the system could not place (docs/formats.md §3).
const Unknown = "unknown"

// IsStillUnknown says whether a probe belongs in the still-unknown analysis: its scanner was
// attributed Unknown, and its ground-truth org (empty when there is none) is not a known org.
// unknownClass lists the orgs that count as the unknown class although they are labelled (the
// fully disclosed ones, censys and driftnet in the paper); the artifact's rule is
// y_true ∈ {driftnet, unattributed, censys} and prediction = unknown (docs/paper-faithful.md §6).
func IsStillUnknown(attributed, trueOrg string, unknownClass map[string]bool) bool {
	if attributed != Unknown {
		return false
	}
	return trueOrg == "" || trueOrg == Unknown || unknownClass[trueOrg]
}

// IsAttributedUnknownClass says whether a probe goes into the known-class view as a highlighted
// point: a probe of the unknown class (no known org in the ground truth) that the system attributed
// to a known org.
func IsAttributedUnknownClass(attributed, trueOrg string, unknownClass map[string]bool) bool {
	if attributed == "" || attributed == Unknown {
		return false
	}
	return trueOrg == "" || trueOrg == Unknown || unknownClass[trueOrg]
}
