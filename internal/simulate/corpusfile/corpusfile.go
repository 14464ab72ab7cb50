// Package corpusfile is the format of internal/simulate/data/corpus.json.
// gendata.go writes that file and the simulator reads it back with unknown
// fields disallowed, so both use these types: a field added to one side only
// would otherwise break loading, or never be written.
// The package holds no code so that gendata.go can import it without
// pulling in the simulator, which embeds the very file gendata rewrites.
package corpusfile

// File is the whole of corpus.json.
type File struct {
	Comment       string        `json:"comment"`
	TLSStacks     []TLSStack    `json:"tls_stacks"`
	HTTPRequests  []HTTPRequest `json:"http_requests"`
	DNSQueries    []DNSQuery    `json:"dns_queries"`
	BotUserAgents []string      `json:"bot_user_agents"`
}

// TLSStack is a TLS ClientHello of a real tool, as lists. 16-bit values are
// hex strings ("0x1301") as the capture names them.
type TLSStack struct {
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	RecordVersion string   `json:"record_version"`
	ClientVersion string   `json:"client_version"`
	SessionIDLen  int      `json:"session_id_len"`
	Ciphers       []string `json:"ciphers"`
	Compression   []int    `json:"compression"`
	Extensions    []int    `json:"extensions"`
	Groups        []int    `json:"groups"`
	PointFormats  []int    `json:"point_formats"`
	SigAlgs       []string `json:"sigalgs"`
	Versions      []string `json:"versions"`
	ALPN          []string `json:"alpn"`
	// FixedRandom is the hex client random of tools that never change it
	// (masscan): for them it is part of the fingerprint.
	FixedRandom  string `json:"fixed_random,omitempty"`
	CorpusJA3MD5 string `json:"corpus_ja3_md5"`
}

// HTTPRequest is the first HTTP request of a real tool. A Host header of
// {host} stands for the target's address with its port, as most clients send
// it, and {ip} for the address alone.
type HTTPRequest struct {
	Name    string      `json:"name"`
	Source  string      `json:"source"`
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Version string      `json:"version"`
	Headers [][2]string `json:"headers"`
	// Trailer is what the tool sent after the request's blank line
	// (l9tcpid appends other protocols' probes).
	Trailer string `json:"trailer,omitempty"`
}

// DNSQuery is the question of a real tool's first DNS query.
type DNSQuery struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Flags  string `json:"flags"`
	QName  string `json:"qname"`
	QType  uint16 `json:"qtype"`
	QClass uint16 `json:"qclass"`
	EDNS   bool   `json:"edns"`
}
