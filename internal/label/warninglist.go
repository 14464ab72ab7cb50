package label

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// maxWarninglistBytes bounds a MISP warninglist JSON document (the largest
// published address lists are a few MiB).
const maxWarninglistBytes = 256 << 20

// warninglist is a native MISP warninglist (list.json of the
// misp-warninglists repository); docs/formats.md.
type warninglist struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Version     json.Number     `json:"version"`
	Type        string          `json:"type"`
	List        json.RawMessage `json:"list"`
}

// startsWithJSONObject reports whether the first byte of br that is not
// white space (or a byte-order mark) opens a JSON object.
func startsWithJSONObject(br *bufio.Reader) bool {
	head, _ := br.Peek(4096)
	head = bytes.TrimPrefix(head, []byte("\ufeff"))
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) > 0 && head[0] == '{'
}

// parseWarninglist reads a MISP warninglist: every entry of its list that
// is an address or CIDR prefix becomes a label of the organisation the list
// names (--org, else the list's folder, file name or name, first one the
// registry knows; else the list's folder or file name as it is, as the MISP
// CSV import does). Entries that are no address are skipped, naming their
// line.
func (p *parser) parseWarninglist(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, maxWarninglistBytes+1))
	if err != nil {
		return err
	}
	if len(raw) > maxWarninglistBytes {
		return fmt.Errorf("%s: a MISP warninglist larger than %d MiB", p.name, maxWarninglistBytes>>20)
	}
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	var wl warninglist
	if err := json.Unmarshal(raw, &wl); err != nil {
		return fmt.Errorf("%s: not a MISP warninglist: %v", p.name, jsonErrorAt(raw, err))
	}
	if wl.List == nil {
		return fmt.Errorf("%s: not a MISP warninglist: no \"list\"", p.name)
	}
	var entries []string
	if err := json.Unmarshal(wl.List, &entries); err != nil {
		return fmt.Errorf("%s: MISP warninglist %q: \"list\" is not a list of strings", p.name, wl.Name)
	}
	switch strings.ToLower(wl.Type) {
	case "", "cidr", "string":
	default:
		return fmt.Errorf("%s: MISP warninglist %q is of type %s, not a list of addresses", p.name, wl.Name, wl.Type)
	}
	p.out.Report.Format = FormatMISP
	id := p.warninglistID()
	org := p.warninglistOrg(id, wl.Name)
	note := "misp " + id
	if wl.Version != "" {
		note += " v" + wl.Version.String()
	}
	src := p.sourceOr("misp-warninglists")
	for _, e := range entries {
		p.out.Report.Lines++
		pfx, err := ParseNet(strings.TrimSpace(e))
		if err != nil {
			p.skip(lineOf(raw, e), "list entry: "+err.Error())
			continue
		}
		p.emit(Label{Prefix: pfx, Org: org, Source: src, Note: note})
	}
	return nil
}

// warninglistID is the list's identifier: its folder for a list.json (the
// repository's layout, lists/<id>/list.json), else the file name.
func (p *parser) warninglistID() string {
	if strings.EqualFold(filepath.Base(p.name), "list.json") {
		if dir := filepath.Base(filepath.Dir(p.name)); dir != "." && dir != string(filepath.Separator) {
			return dir
		}
	}
	return fileStem(p.name)
}

// mispListSuffixes are the endings of the scanning lists' identifiers.
var mispListSuffixes = []string{"-nt-scanning", "-scanning", "-scanners", "-scanner"}

func (p *parser) warninglistOrg(id, name string) string {
	if p.opts.Org != "" {
		return p.reg.Canonical(p.opts.Org)
	}
	candidates := []string{id}
	for _, sfx := range mispListSuffixes {
		if s, ok := strings.CutSuffix(id, sfx); ok && s != "" {
			candidates = append(candidates, s)
		}
	}
	candidates = append(candidates, name)
	if f := strings.Fields(name); len(f) > 0 {
		candidates = append(candidates, f[0])
	}
	for _, c := range candidates {
		if p.reg.Known(c) {
			return p.reg.Canonical(c)
		}
	}
	return p.reg.Canonical(id)
}

// lineOf is the 1-based line of raw where the JSON string s first appears.
func lineOf(raw []byte, s string) int {
	q, _ := json.Marshal(s)
	i := bytes.Index(raw, q)
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(raw[:i], []byte("\n"))
}

// jsonErrorAt adds the line of a JSON syntax error to its message.
func jsonErrorAt(raw []byte, err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return "line " + strconv.Itoa(1+bytes.Count(raw[:min(int(se.Offset), len(raw))], []byte("\n"))) + ": " + err.Error()
	}
	return err.Error()
}
