package abuse

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MaxLineBytes bounds one line of an import file (a verbose answer of a
// much reported IP fits).
const MaxLineBytes = 4 << 20

// LineError names a line of an import file that was not read.
type LineError struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

func (e LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ImportReport says what ReadFile read.
type ImportReport struct {
	File    string      `json:"file"`
	Format  string      `json:"format"` // "jsonl" or "csv"
	Lines   int         `json:"lines"`  // data lines
	Checks  int         `json:"checks"`
	Skipped []LineError `json:"skipped"`
}

// Read reads offline check results from r (named name in messages): the
// API's check answers, one JSON object a line ({"data": {...}} or the bare
// data object), or a CSV whose header names the answer's fields
// (ipAddress and abuseConfidenceScore at least; docs/formats.md §6). A line
// that holds no check is reported with its number and the rest is read. A
// check's date is its checkedAt / checked_at field, else checkedAt (the
// file's modification time, for answers saved as they came).
func Read(r io.Reader, name string, checkedAt time.Time) ([]Check, ImportReport, error) {
	rep := ImportReport{File: name, Skipped: []LineError{}}
	br := bufio.NewReaderSize(r, 64<<10)
	var checks []Check
	var handle func(n int, line []byte)
	n := 0
	for {
		line, err := readLine(br)
		if err == io.EOF {
			break
		}
		n++
		if errors.Is(err, errLineTooLong) {
			rep.Lines++
			rep.Skipped = append(rep.Skipped, LineError{name, n, fmt.Sprintf("line longer than %d MiB", MaxLineBytes>>20)})
			continue
		}
		if err != nil {
			return checks, rep, err
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if handle == nil {
			if trimmed[0] == '{' {
				rep.Format = "jsonl"
				handle = func(n int, line []byte) {
					rep.Lines++
					c, err := decodeLine(line, checkedAt)
					if err != nil {
						rep.Skipped = append(rep.Skipped, LineError{name, n, err.Error()})
						return
					}
					checks = append(checks, c)
				}
			} else {
				rep.Format = "csv"
				h, err := csvHandler(string(trimmed), name, n, checkedAt, &rep, &checks)
				if err != nil {
					return nil, rep, err
				}
				handle = h
				continue
			}
		}
		handle(n, trimmed)
	}
	rep.Checks = len(checks)
	if rep.Lines > 0 && rep.Checks == 0 {
		return nil, rep, fmt.Errorf("%s: none of its %d lines holds a check (%v)", name, rep.Lines, rep.Skipped[0])
	}
	return checks, rep, nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its end; over MaxLineBytes it
// drops the line and returns errLineTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(buf) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return bytes.TrimRight(buf, "\r\n"), nil
	}
}

// decodeLine reads one JSON check, with an optional checkedAt of its own.
func decodeLine(line []byte, checkedAt time.Time) (Check, error) {
	var dated struct {
		CheckedAt  string `json:"checkedAt"`
		CheckedAt2 string `json:"checked_at"`
	}
	if err := json.Unmarshal(line, &dated); err != nil {
		return Check{}, fmt.Errorf("malformed JSON: %v", err)
	}
	when := checkedAt
	if s := dated.CheckedAt + dated.CheckedAt2; s != "" {
		t, err := parseTime(s)
		if err != nil {
			return Check{}, fmt.Errorf("checkedAt %q: %v", s, err)
		}
		when = t
	}
	return DecodeCheck(line, when)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	return t.UTC(), err
}

// csvColumns are the header names each field is read from (lower-cased).
var csvColumns = map[string][]string{
	"ip":         {"ipaddress", "ip_address", "ip"},
	"score":      {"abuseconfidencescore", "abuse_confidence_score", "confidence", "score"},
	"country":    {"countrycode", "country_code", "country"},
	"usage":      {"usagetype", "usage_type"},
	"isp":        {"isp"},
	"domain":     {"domain"},
	"reports":    {"totalreports", "total_reports", "reports"},
	"users":      {"numdistinctusers", "num_distinct_users", "distinct_users"},
	"last":       {"lastreportedat", "last_reported_at"},
	"categories": {"categories"},
	"tor":        {"istor", "is_tor", "tor"},
	"whitelist":  {"iswhitelisted", "is_whitelisted", "whitelisted"},
	"checked":    {"checkedat", "checked_at"},
}

func csvHandler(header, name string, n int, checkedAt time.Time, rep *ImportReport, checks *[]Check) (func(int, []byte), error) {
	fields, err := csv.NewReader(strings.NewReader(header)).Read()
	if err != nil {
		return nil, fmt.Errorf("%s:%d: header: %v", name, n, err)
	}
	col := map[string]int{}
	for i, f := range fields {
		f = strings.ToLower(strings.TrimSpace(f))
		for key, names := range csvColumns {
			for _, nm := range names {
				if f == nm {
					if _, ok := col[key]; !ok {
						col[key] = i
					}
				}
			}
		}
	}
	if _, ok := col["ip"]; !ok {
		return nil, fmt.Errorf("%s:%d: no ipAddress column in the header %q", name, n, header)
	}
	if _, ok := col["score"]; !ok {
		if _, cats := col["categories"]; cats {
			return nil, fmt.Errorf("%s:%d: a bulk-report file (reports to send, no abuseConfidenceScore), not check results", name, n)
		}
		return nil, fmt.Errorf("%s:%d: no abuseConfidenceScore column in the header %q", name, n, header)
	}
	return func(n int, line []byte) {
		rep.Lines++
		c, err := csvCheck(line, col, checkedAt)
		if err != nil {
			rep.Skipped = append(rep.Skipped, LineError{name, n, err.Error()})
			return
		}
		*checks = append(*checks, c)
	}, nil
}

func csvCheck(line []byte, col map[string]int, checkedAt time.Time) (Check, error) {
	rec, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return Check{}, err
	}
	get := func(key string) string {
		i, ok := col[key]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	addr, err := netip.ParseAddr(get("ip"))
	if err != nil {
		return Check{}, fmt.Errorf("%q is not an IP address", get("ip"))
	}
	score, err := strconv.Atoi(get("score"))
	if err != nil || score < 0 || score > 100 {
		return Check{}, fmt.Errorf("%s: score %q is not in 0..100", addr, get("score"))
	}
	c := Check{IP: addr.Unmap().String(), Score: score, CountryCode: get("country"), UsageType: get("usage"), ISP: get("isp"),
		Domain: get("domain"), CheckedAt: checkedAt.UTC()}
	for _, f := range []struct {
		key string
		to  *int
	}{{"reports", &c.TotalReports}, {"users", &c.DistinctUsers}} {
		if v := get(f.key); v != "" {
			if *f.to, err = strconv.Atoi(v); err != nil {
				return Check{}, fmt.Errorf("%s: %s %q is not a number", addr, f.key, v)
			}
		}
	}
	c.Tor, c.Whitelisted = get("tor") == "true" || get("tor") == "1", get("whitelist") == "true" || get("whitelist") == "1"
	if v := get("last"); v != "" {
		if c.LastReportedAt, err = parseTime(v); err != nil {
			return Check{}, fmt.Errorf("%s: lastReportedAt %q: %v", addr, v, err)
		}
	}
	if v := get("checked"); v != "" {
		if c.CheckedAt, err = parseTime(v); err != nil {
			return Check{}, fmt.Errorf("%s: checkedAt %q: %v", addr, v, err)
		}
	}
	if v := get("categories"); v != "" {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			cat, err := strconv.Atoi(f)
			if err != nil {
				return Check{}, fmt.Errorf("%s: category %q is not a number", addr, f)
			}
			c.Categories = append(c.Categories, cat)
		}
	}
	return c, nil
}
