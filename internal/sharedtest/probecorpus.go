package sharedtest

import "testing"

// CorpusProbe is what every record of the real tool probe corpus
// (realdata/probe_corpus/real_tool_probes.jsonl) says about one connection:
// which tool sent which first payload to which listener. A test embeds it in
// a struct of its own that adds the dissection it checks against (the
// record's "http", "tls" or "dns" object) and loads that with ProbeCorpus;
// encoding/json fills the embedded fields too.
type CorpusProbe struct {
	Tool       string `json:"tool"`
	DstPort    uint16 `json:"dst_port"`
	Listener   string `json:"listener"`
	Provenance string `json:"provenance"`
	PayloadHex string `json:"payload_hex"`
}

// ProbeCorpus decodes every record of the real tool probe corpus, in file
// order, into a T (usually a struct embedding CorpusProbe).
func ProbeCorpus[T any](t testing.TB) []T {
	t.Helper()
	return JSONLines[T](t, "realdata", "probe_corpus", "real_tool_probes.jsonl")
}
