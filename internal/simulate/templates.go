package simulate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// Templates per org (Config.TemplatesPerOrg). Real orgs run anything from
// one configuration per service to a handful (software versions, scan
// modules, path lists); a world where every org has k templates shows how
// much attribution relies on an org sending few distinct payloads. Extra
// templates are derived from the org's own, without randomness, so that
// the same k gives the same templates in every world: a derived template
// differs from its base in one field, as a new version of a tool would.

// derivedPaths are request paths scanners commonly fetch; a derived HTTP
// template fetches one its base does not.
var derivedPaths = []string{"/index.html", "/favicon.ico", "/robots.txt", "/.well-known/security.txt",
	"/sitemap.xml", "/login", "/api/v1/status", "/admin", "/server-status", "/.env",
	"/manager/html", "/version", "/config.json", "/owa/", "/remote/login"}

// derivedNames are question names a derived DNS template asks instead of
// its base's: CHAOS-class ones for version probes, popular domains for
// resolver probes.
var derivedNames = map[bool][]string{
	true: {"version.bind", "hostname.bind", "id.server", "version.server", "authors.bind",
		"version.pdns", "version.maradns", "version.mydns", "version.unbound", "version.nsd",
		"version.knot", "version.yadifa", "version.coredns", "version.powerdns", "version.dnsmasq"},
	false: {"example.com", "google.com", "cloudflare.com", "wikipedia.org", "amazon.com",
		"github.com", "microsoft.com", "apple.com", "example.net", "example.org",
		"bing.com", "yahoo.com", "baidu.com", "qq.com", "mozilla.org"},
}

// setTemplatesPerOrg gives every org profile exactly k templates in each
// service it has.
func (c *catalog) setTemplatesPerOrg(k int) {
	for _, org := range c.orgNames {
		op := c.orgs[org]
		op.HTTP = resizeTemplates(op.HTTP, k, func(v httpVariant) float64 { return v.Weight }, deriveHTTP)
		op.TLS = resizeTemplates(op.TLS, k, func(v tlsVariant) float64 { return v.Weight }, deriveTLS)
		op.DNS = resizeTemplates(op.DNS, k, func(v dnsVariant) float64 { return v.Weight }, deriveDNS)
		// A request may name a follow-up that was dropped.
		for i := range op.HTTP {
			if n := op.HTTP[i].Next; n != "" && op.httpByName(n) == nil {
				op.HTTP[i].Next = ""
			}
		}
	}
}

// resizeTemplates keeps the k heaviest of vs (file order among equals) or
// adds derived ones until there are k; the j-th derived one (j = 1, 2, ...)
// comes from vs[(j-1) mod len(vs)]. An empty vs (a service the org does
// not use) stays empty.
func resizeTemplates[V any](vs []V, k int, weight func(V) float64, derive func(base V, j int) V) []V {
	if len(vs) == 0 {
		return vs
	}
	if len(vs) >= k {
		idx := make([]int, len(vs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(weight(vs[b]), weight(vs[a])) })
		idx = idx[:k]
		slices.Sort(idx)
		out := make([]V, k)
		for i, j := range idx {
			out[i] = vs[j]
		}
		return out
	}
	out := slices.Clone(vs)
	for j := 1; len(out) < k; j++ {
		out = append(out, derive(vs[(j-1)%len(vs)], j))
	}
	return out
}

func derivedName(base string, j int) string { return base + "~t" + strconv.Itoa(j) }

// deriveHTTP fetches another path (the j-th common path the base does not
// fetch); exploit variants, whose path is drawn per probe, send another
// User-Agent version instead.
func deriveHTTP(base httpVariant, j int) httpVariant {
	v := base
	v.Name, v.Next = derivedName(base.Name, j), ""
	v.Headers = slices.Clone(base.Headers)
	if base.ExploitURL {
		for i, h := range v.Headers {
			if strings.EqualFold(h[0], "user-agent") {
				v.Headers[i][1] = bumpVersion(h[1], j)
				return v
			}
		}
		v.Headers = append(v.Headers, [2]string{"User-Agent", "scanner/" + strconv.Itoa(j) + ".0"})
		return v
	}
	var paths []string
	for _, p := range derivedPaths {
		if p != base.URL && !slices.Contains(base.URLs, p) {
			paths = append(paths, p)
		}
	}
	v.URL, v.URLs = paths[(j-1)%len(paths)], nil
	return v
}

// bumpVersion adds j to the last number in s ("Go-http-client/1.1" ->
// "Go-http-client/1.2" for j = 1), or appends "/j.0" when s has none.
func bumpVersion(s string, j int) string {
	end := strings.LastIndexAny(s, "0123456789") + 1
	if end == 0 {
		return s + "/" + strconv.Itoa(j) + ".0"
	}
	start := end - 1
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	n, _ := strconv.Atoi(s[start:end])
	return s[:start] + strconv.Itoa(n+j) + s[end:]
}

// deriveTLS moves one cipher suite of the base's first stack a place
// later (the j-th adjacent pair swapped), which changes JA3 and nothing
// else; a single-suite stack gets a second, common suite instead.
func deriveTLS(base tlsVariant, j int) tlsVariant {
	v := base
	v.Name, v.Stack, v.StackPrefix = derivedName(base.Name, j), derivedName(base.stacks[0].Name, j), ""
	st := base.stacks[0].Clone()
	st.Name, st.CorpusJA3MD5 = v.Stack, ""
	if n := len(st.Ciphers); n >= 2 {
		i := (j - 1) % (n - 1)
		st.Ciphers[i], st.Ciphers[i+1] = st.Ciphers[i+1], st.Ciphers[i]
	} else {
		st.Ciphers = append(st.Ciphers, 0x002f+uint16(j)) // TLS_RSA_WITH_AES_128_CBC_SHA and neighbours
	}
	v.stacks = []*stls.Stack{st}
	return v
}

// deriveDNS asks another name of the same kind (the j-th of derivedNames
// that the base does not ask).
func deriveDNS(base dnsVariant, j int) dnsVariant {
	v := base
	v.Name = derivedName(base.Name, j)
	var names []string
	for _, n := range derivedNames[base.QClass == 3] { // 3: CHAOS
		if n != base.QName {
			names = append(names, n)
		}
	}
	v.QName = names[(j-1)%len(names)]
	return v
}
