package label

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// MaxLineBytes bounds one input line; longer lines are reported and
// skipped, so a hostile file cannot make the importer buffer without end.
const MaxLineBytes = 64 << 10

// LineError names a malformed input line.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// eachLine calls fn with every line of r (1-based numbers), without the line
// end (LF or CRLF) and, on line 1, without a UTF-8 byte-order mark. A line
// over MaxLineBytes is passed to tooLong instead.
func eachLine(r io.Reader, fn func(n int, line string) error, tooLong func(n int)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n++
			tooLong(n)
			// Drop the rest of the over-long line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		n++
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if ferr := fn(n, string(line)); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// splitCSV splits one CSV record (RFC 4180 quoting, "" inside quotes) that
// lies on a single line. Fields are not trimmed.
func splitCSV(line string) ([]string, error) {
	var fields []string
	var b strings.Builder
	i := 0
	for {
		b.Reset()
		if i < len(line) && line[i] == '"' {
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted field")
			}
			if i < len(line) && line[i] != ',' {
				return nil, fmt.Errorf("text after closing quote at column %d", i+1)
			}
		} else {
			j := strings.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			field := line[i : i+j]
			if strings.IndexByte(field, '"') >= 0 {
				return nil, fmt.Errorf("stray quote in unquoted field %q", field)
			}
			b.WriteString(field)
			i += j
		}
		fields = append(fields, b.String())
		if i >= len(line) {
			return fields, nil
		}
		i++ // the comma
		if i == len(line) {
			return append(fields, ""), nil
		}
	}
}

// ParseNet reads an address ("192.0.2.1", "2001:db8::1") as a host prefix
// or a CIDR ("192.0.2.0/24"); host bits of a CIDR are cleared. IPv4-mapped
// IPv6 is turned into IPv4; zones are refused.
func ParseNet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty address")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("%q: zoned addresses are not scanner addresses", s)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		p = unmapPrefix(p)
		if !p.IsValid() {
			return netip.Prefix{}, fmt.Errorf("%q: IPv4-mapped prefix shorter than /96", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseDate reads "2006-01-02" (UTC midnight) or an RFC 3339 time. With
// endOfDay, a bare date means the end of that day, so "--until
// 2024-04-30" includes April 30.
func ParseDate(s string, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD or RFC 3339", s)
}

// parsePeriod reads the period names of the NICT survey-scanner lists
// ("2023", "2024_1Q", also "2024Q1", "2024-Q1") as [from, until).
func parsePeriod(s string) (from, until time.Time, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) == 4 {
		y, ok := atoiYear(s)
		if !ok {
			return from, until, false
		}
		from = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(1, 0, 0), true
	}
	if len(s) < 6 {
		return from, until, false
	}
	y, ok := atoiYear(s[:4])
	if !ok {
		return from, until, false
	}
	rest := strings.TrimLeft(s[4:], "_-")
	var q byte
	switch {
	case len(rest) == 2 && rest[1] == 'Q':
		q = rest[0]
	case len(rest) == 2 && rest[0] == 'Q':
		q = rest[1]
	default:
		return from, until, false
	}
	if q < '1' || q > '4' {
		return from, until, false
	}
	from = time.Date(y, time.Month(3*int(q-'1')+1), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 3, 0), true
}

func atoiYear(s string) (int, bool) {
	y := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		y = y*10 + int(s[i]-'0')
	}
	return y, y >= 1970 && y <= 9999
}
