// Package corpusfile is the format of internal/simulate/data/corpus.json.
// gendata.go writes that file and the protocol folders' emitters read their
// parts back with unknown fields disallowed, so both use these types: a field
// added to one side only would otherwise break loading, or never be written.
// The package holds no code so that gendata.go can import it without
// pulling in the simulator, which embeds the very file gendata rewrites.
package corpusfile

import (
	"github.com/scannergrouper/scannergrouper/internal/service/dns"
	"github.com/scannergrouper/scannergrouper/internal/service/http"
	"github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// File is the whole of corpus.json.
type File struct {
	Comment       string        `json:"comment"`
	TLSStacks     []TLSStack    `json:"tls_stacks"`
	HTTPRequests  []HTTPRequest `json:"http_requests"`
	DNSQueries    []DNSQuery    `json:"dns_queries"`
	BotUserAgents []string      `json:"bot_user_agents"`
}

// The entries are defined in their protocol folders (internal/service/<proto>),
// which read them back.
type (
	// TLSStack is a TLS ClientHello of a real tool, as lists.
	TLSStack = tls.CorpusStack
	// HTTPRequest is the first HTTP request of a real tool.
	HTTPRequest = http.CorpusRequest
	// DNSQuery is the question of a real tool's first DNS query.
	DNSQuery = dns.CorpusQuery
)
