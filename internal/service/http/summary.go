package http

import "github.com/scannergrouper/scannergrouper/internal/probe"

// Summary is the request line and User-Agent, what an analyst scans first.
func (Service) Summary(f probe.Fields) string {
	s := f.Value("Method") + " " + f.Value("Url") + " " + f.Value("Version")
	for _, name := range []string{"User-Agent", "user-agent", "User-agent"} {
		if ua, ok := f.Get(name); ok {
			return s + "  UA: " + ua.Value
		}
	}
	return s + "  (no User-Agent)"
}
