//go:build ignore

// gendata derives the simulator's embedded data files from the project's
// shared real data (../shared). It is run by hand when that data changes:
//
//	cd internal/simulate && go run gendata.go -shared ../../../shared
//
// It writes data/scanners_sd24.csv (one row per real SelfDeploy-24 scanner
// with its first-probe counts per service in the artifact's 8:2 time split)
// and data/corpus.json (TLS stacks, HTTP requests and DNS queries taken from
// the real tool captures, plus bot User-Agents from crawler-user-agents).
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/simulate/corpusfile"
)

func main() {
	shared := flag.String("shared", "../../../shared", "shared data folder")
	out := flag.String("out", "data", "output folder")
	flag.Parse()
	if err := writeScanners(*shared, *out); err != nil {
		log.Fatal(err)
	}
	if err := writeCorpus(*shared, *out); err != nil {
		log.Fatal(err)
	}
}

type counts [6]int // http, tls, dns train; http, tls, dns test

func writeScanners(shared, out string) error {
	rows := map[[2]string]*counts{}
	for i, split := range []string{"train", "test"} {
		f, err := os.Open(filepath.Join(shared, "reference", "scanner_truth_SelfDeploy24_"+split+".csv"))
		if err != nil {
			return err
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			return err
		}
		for _, r := range recs[1:] {
			key := [2]string{r[1], r[0]}
			c := rows[key]
			if c == nil {
				c = &counts{}
				rows[key] = c
			}
			for s := 0; s < 3; s++ {
				n, err := strconv.Atoi(r[2+s])
				if err != nil {
					return fmt.Errorf("%s: %v", split, err)
				}
				c[i*3+s] = n
			}
		}
	}
	// The artifact lists every driftnet probe twice, once labelled and once
	// "unknown" (docs/paper-faithful.md §1.8): keep only the labelled scanner.
	labelled := map[string]bool{}
	for k := range rows {
		if k[0] != "unknown" {
			labelled[k[1]] = true
		}
	}
	keys := make([][2]string, 0, len(rows))
	for k := range rows {
		if k[0] == "unknown" && labelled[k[1]] {
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	f, err := os.Create(filepath.Join(out, "scanners_sd24.csv"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# Derived from ../shared/reference/scanner_truth_SelfDeploy24_{train,test}.csv (ScannerGrouper artifact, SelfDeploy-24).")
	fmt.Fprintln(w, "# One row per scanner IP: first-probe counts per service in the artifact's time-ordered 8:2 split.")
	fmt.Fprintln(w, "# The artifact's duplicate 'unknown' copies of labelled (driftnet) scanners are dropped.")
	fmt.Fprintln(w, "org,ip,http_train,tls_train,dns_train,http_test,tls_test,dns_test")
	for _, k := range keys {
		c := rows[k]
		fmt.Fprintf(w, "%s,%s,%d,%d,%d,%d,%d,%d\n", k[0], k[1], c[0], c[1], c[2], c[3], c[4], c[5])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

type rawProbe struct {
	Tool       string `json:"tool"`
	DstPort    int    `json:"dst_port"`
	Provenance string `json:"provenance"`
	HTTP       *struct {
		Method  string      `json:"method"`
		URL     string      `json:"url"`
		Version string      `json:"version"`
		Headers [][2]string `json:"headers"`
	} `json:"http"`
	TLS *struct {
		RecordVersion string   `json:"record_version"`
		ClientVersion string   `json:"client_version"`
		SessionIDLen  int      `json:"session_id_len"`
		Ciphers       []string `json:"cipher_suites"`
		Compression   []int    `json:"compression"`
		Extensions    []int    `json:"extensions"`
		Groups        []int    `json:"supported_groups"`
		PointFormats  []int    `json:"ec_point_formats"`
		SigAlgs       []string `json:"signature_algorithms"`
		Versions      []string `json:"supported_versions"`
		ALPN          []string `json:"alpn"`
		SNI           *string  `json:"sni"`
		JA3MD5        string   `json:"ja3_md5"`
	} `json:"tls"`
	DNS *struct {
		Flags  string `json:"flags"`
		QName  string `json:"qname"`
		QType  uint16 `json:"qtype"`
		QClass uint16 `json:"qclass"`
		EDNS   bool   `json:"edns"`
	} `json:"dns"`
	TLSHex string `json:"tls_clienthello_hex"`
	PayHex string `json:"payload_hex"`
}

func writeCorpus(shared, out string) error {
	f, err := os.Open(filepath.Join(shared, "realdata", "probe_corpus", "real_tool_probes.jsonl"))
	if err != nil {
		return err
	}
	defer f.Close()
	var c corpusfile.File
	c.Comment = "Derived by gendata.go from ../shared/realdata/probe_corpus/real_tool_probes.jsonl (first payloads of unmodified tools captured on loopback; see realdata/README.md for versions) and realdata/fingerprints/crawler-user-agents.json (monperrus/crawler-user-agents@7c7f9f25, MIT)."
	seenTLS := map[string]bool{}
	seenHTTP := map[string]bool{}
	seenDNS := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var p rawProbe
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return err
		}
		src := fmt.Sprintf("real_tool_probes.jsonl tool=%s dst_port=%d (%s)", p.Tool, p.DstPort, p.Provenance)
		if t := p.TLS; t != nil && len(t.Ciphers) > 0 {
			key := p.Tool + "|" + t.JA3MD5 + "|" + strings.Join(t.ALPN, ",")
			if !seenTLS[key] {
				seenTLS[key] = true
				st := corpusfile.TLSStack{
					Name: fmt.Sprintf("%s#%d", p.Tool, countPrefix(c.TLSStacks, p.Tool)), Source: src,
					RecordVersion: t.RecordVersion, ClientVersion: t.ClientVersion, SessionIDLen: t.SessionIDLen,
					Ciphers: t.Ciphers, Compression: t.Compression, Extensions: t.Extensions, Groups: t.Groups,
					PointFormats: t.PointFormats, SigAlgs: t.SigAlgs, Versions: t.Versions, ALPN: t.ALPN,
					CorpusJA3MD5: t.JA3MD5,
				}
				if strings.HasPrefix(p.Tool, "masscan") {
					// masscan sends its template unchanged: the client random is
					// part of the fingerprint (bytes 11..43 of the record).
					if len(p.PayHex) >= 2*43 {
						st.FixedRandom = p.PayHex[2*11 : 2*43]
					}
				}
				c.TLSStacks = append(c.TLSStacks, st)
			}
		}
		if h := p.HTTP; h != nil && h.Method != "" && strings.HasPrefix(h.Version, "HTTP/") && p.TLS == nil {
			hdrs := make([][2]string, 0, len(h.Headers))
			for _, kv := range h.Headers {
				if strings.EqualFold(kv[0], "host") {
					// The tools were run against 127.0.0.1: keep whether they
					// name the port ({host}) or not ({ip}), or send it empty.
					switch kv[1] {
					case fmt.Sprintf("127.0.0.1:%d", p.DstPort):
						kv[1] = "{host}"
					case "127.0.0.1":
						kv[1] = "{ip}"
					}
				}
				hdrs = append(hdrs, kv)
			}
			trailer := ""
			if raw, err := hex.DecodeString(p.PayHex); err == nil {
				if i := strings.Index(string(raw), "\r\n\r\n"); i >= 0 {
					trailer = string(raw[i+4:])
				}
			}
			b, _ := json.Marshal([]any{h.Method, h.URL, h.Version, hdrs, trailer})
			if !seenHTTP[string(b)] {
				seenHTTP[string(b)] = true
				c.HTTPRequests = append(c.HTTPRequests, corpusfile.HTTPRequest{
					Name: fmt.Sprintf("%s#%d", p.Tool, countPrefixHTTP(c.HTTPRequests, p.Tool)), Source: src,
					Method: h.Method, URL: h.URL, Version: h.Version, Headers: hdrs, Trailer: trailer,
				})
			}
		}
		if d := p.DNS; d != nil && d.QName != "" {
			key := fmt.Sprint(p.Tool, d)
			if !seenDNS[key] {
				seenDNS[key] = true
				c.DNSQueries = append(c.DNSQueries, corpusfile.DNSQuery{Name: p.Tool, Source: src, Flags: d.Flags,
					QName: d.QName, QType: d.QType, QClass: d.QClass, EDNS: d.EDNS})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	bots, err := botAgents(filepath.Join(shared, "realdata", "fingerprints", "crawler-user-agents.json"))
	if err != nil {
		return err
	}
	c.BotUserAgents = bots
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "corpus.json"), append(b, '\n'), 0o644)
}

func countPrefix(s []corpusfile.TLSStack, tool string) int {
	n := 0
	for _, x := range s {
		if strings.HasPrefix(x.Name, tool+"#") {
			n++
		}
	}
	return n
}

func countPrefixHTTP(s []corpusfile.HTTPRequest, tool string) int {
	n := 0
	for _, x := range s {
		if strings.HasPrefix(x.Name, tool+"#") {
			n++
		}
	}
	return n
}

// botAgents keeps the first real instance of every 12th crawler entry: enough
// variety for the "bots and browsers" share of unattributed HTTP probes
// without embedding the whole list.
func botAgents(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, err
	}
	var out []string
	for i, e := range entries {
		if i%12 != 0 || len(e.Instances) == 0 {
			continue
		}
		ua := e.Instances[0]
		if ua == "" || strings.ContainsAny(ua, "\r\n") || len(ua) > 200 {
			continue
		}
		out = append(out, ua)
	}
	return out, nil
}
