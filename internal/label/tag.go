package label

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Cookie tags (paper Appendix A): the honeypot puts a fresh tag into the
// Set-Cookie header of each reply and records which scanner IP got it.
// When a search engine later publishes the banner of our honeypot, the tag
// in it names the engine's scanner IP that fetched it.
//
// A tag is TagPrefix followed by the URL-safe base64 (no padding) of
// nonce(12) ‖ AES-256-GCM(time ms (8, big endian) ‖ sensor id), with the
// prefix as additional data. Only the holder of the key can make or read
// one, and any change to a tag makes Open fail.

// TagPrefix starts every tag so it can be found in banner text.
const TagPrefix = "sgt1_"

// MaxSensorBytes bounds the sensor id carried in a tag; longer ids are cut.
const MaxSensorBytes = 64

const (
	nonceBytes  = 12
	tagOverhead = 16
	minTagBytes = nonceBytes + 8 + tagOverhead
	maxTagBytes = minTagBytes + MaxSensorBytes
)

// tagRE finds tags in free text; the length bounds keep it from matching
// unrelated long tokens.
var tagRE = regexp.MustCompile(regexp.QuoteMeta(TagPrefix) + `[A-Za-z0-9_-]{48,140}`)

// TagInfo is what a tag carries.
type TagInfo struct {
	Time   time.Time // when it was issued (millisecond precision)
	Sensor string
}

// Tagger makes and opens tags with one key.
type Tagger struct {
	aead   cipher.AEAD
	sensor string
	rand   io.Reader
}

// NewTagger returns a tagger for the sensor. Any key length is accepted:
// the AES-256 key is the SHA-256 of key, so a passphrase file works; use
// at least 16 random bytes (LoadTagKey enforces it). Nonces come from
// crypto/rand unless WithRand says otherwise.
func NewTagger(key []byte, sensor string) *Tagger {
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic("label: AES-256 with a 32-byte key cannot fail: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("label: GCM over AES cannot fail: " + err.Error())
	}
	if len(sensor) > MaxSensorBytes {
		sensor = sensor[:MaxSensorBytes]
	}
	return &Tagger{aead: aead, sensor: sensor, rand: rand.Reader}
}

// WithRand returns a copy of t that draws nonces from r (a seeded source
// makes tags reproducible in tests; never use one in production).
func (t *Tagger) WithRand(r io.Reader) *Tagger {
	c := *t
	c.rand = r
	return &c
}

// Tag returns a fresh tag for a reply sent at now. It returns "" only if
// the nonce source fails (never with crypto/rand).
func (t *Tagger) Tag(now time.Time) string {
	buf := make([]byte, nonceBytes, maxTagBytes)
	if _, err := io.ReadFull(t.rand, buf); err != nil {
		return ""
	}
	plain := make([]byte, 8, 8+len(t.sensor))
	binary.BigEndian.PutUint64(plain, uint64(now.UnixMilli()))
	plain = append(plain, t.sensor...)
	buf = t.aead.Seal(buf, buf[:nonceBytes], plain, []byte(TagPrefix))
	return TagPrefix + base64.RawURLEncoding.EncodeToString(buf)
}

// Open authenticates and decrypts a tag. Tags made with another key, cut,
// extended or changed in any byte are rejected.
func (t *Tagger) Open(tag string) (TagInfo, error) {
	body, ok := strings.CutPrefix(tag, TagPrefix)
	if !ok {
		return TagInfo{}, errors.New("tag: missing prefix " + TagPrefix)
	}
	if base64.RawURLEncoding.DecodedLen(len(body)) > maxTagBytes {
		return TagInfo{}, errors.New("tag: too long")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return TagInfo{}, fmt.Errorf("tag: not URL-safe base64: %w", err)
	}
	if len(raw) < minTagBytes {
		return TagInfo{}, errors.New("tag: too short")
	}
	plain, err := t.aead.Open(nil, raw[:nonceBytes], raw[nonceBytes:], []byte(TagPrefix))
	if err != nil {
		return TagInfo{}, errors.New("tag: authentication failed (tampered, or made with another key)")
	}
	ms := int64(binary.BigEndian.Uint64(plain[:8]))
	return TagInfo{Time: time.UnixMilli(ms).UTC(), Sensor: string(plain[8:])}, nil
}

// FindTags returns the tag-shaped tokens of text, in order, without
// repeats.
func FindTags(text string) []string {
	var out []string
	for _, m := range tagRE.FindAllString(text, -1) {
		dup := false
		for _, o := range out {
			if o == m {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// TagKeyEnv is the environment variable LoadTagKey falls back to.
const TagKeyEnv = "SCANNERGROUPER_TAG_KEY"

// LoadTagKey reads the tag key from path (or, when path is "", from
// $SCANNERGROUPER_TAG_KEY). File or variable hold the key as hex, as
// base64, or (files only) as raw bytes; it must have at least 16 bytes.
func LoadTagKey(path string, getenv func(string) string) ([]byte, error) {
	var text []byte
	from := ""
	if path != "" {
		data, err := readFileLimited(path, 4096)
		if err != nil {
			return nil, fmt.Errorf("tag key: %w", err)
		}
		text, from = data, path
	} else {
		v := getenv(TagKeyEnv)
		if v == "" {
			return nil, fmt.Errorf("tag key: pass --key-file or set %s", TagKeyEnv)
		}
		text, from = []byte(v), "$"+TagKeyEnv
	}
	s := strings.TrimSpace(string(text))
	var key []byte
	if b, err := hex.DecodeString(s); err == nil {
		key = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		key = b
	} else if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		key = b
	} else if path != "" {
		key = text
	} else {
		return nil, fmt.Errorf("tag key in %s is neither hex nor base64", from)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("tag key in %s has %d bytes; use at least 16 random bytes", from, len(key))
	}
	return key, nil
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a key file", path, limit)
	}
	return data, nil
}

// RecordTag stores that tag was given to scanner at time at.
func (s *LabelDB) RecordTag(ctx context.Context, tag string, scanner netip.Addr, sensor string, at time.Time) error {
	if !strings.HasPrefix(tag, TagPrefix) || !scanner.IsValid() {
		return fmt.Errorf("record tag: need a tag and a scanner address")
	}
	return s.st.RecordTag(ctx, store.TagRecord{Tag: tag, Scanner: scanner.Unmap(), Sensor: sensor, IssuedAt: at})
}

// TagRecipient returns the scanner address a tag was given to.
func (s *LabelDB) TagRecipient(ctx context.Context, tag string) (addr netip.Addr, at time.Time, ok bool, err error) {
	rec, ok, err := s.st.TagRecipient(ctx, tag)
	if err != nil || !ok {
		return addr, at, false, err
	}
	return rec.Scanner, rec.IssuedAt, true, nil
}

// TagImportReport says what a search-engine export yielded.
type TagImportReport struct {
	File       string      `json:"file"`
	Format     string      `json:"format"`
	Records    int         `json:"records"`
	Tags       int         `json:"tags"`       // tag-shaped tokens found
	Valid      int         `json:"valid"`      // authenticated
	Rejected   int         `json:"rejected"`   // tampered or foreign
	Unrecorded int         `json:"unrecorded"` // valid, but we never recorded giving it out
	Labels     int         `json:"labels"`
	Added      int         `json:"added"`
	Scanners   []string    `json:"scanners"`
	Problems   []LineError `json:"problems,omitempty"`
}

// TagSource is the source name of labels learnt from cookie tags.
const TagSource = "cookie-tag"

// ImportTags reads a search-engine export (JSON lines, a JSON array, or
// CSV), finds our tags anywhere in its text, opens them with tagger, and
// labels each scanner IP that received a found tag with the engine's org
// (source "cookie-tag", valid from the day the tag was given out). All
// labels land in one transaction.
func (s *LabelDB) ImportTags(ctx context.Context, r io.Reader, name, engine string, tagger *Tagger) (TagImportReport, error) {
	rep := TagImportReport{File: name}
	org := s.reg.Canonical(engine)
	if org == "" {
		return rep, fmt.Errorf("import tags: --org names no organisation")
	}
	type found struct {
		tag    string
		record int
	}
	var tags []found
	collect := func(record int, text string) {
		for _, t := range FindTags(text) {
			tags = append(tags, found{t, record})
		}
	}
	br := newPeekReader(r)
	first, err := br.firstNonSpace()
	if err != nil {
		return rep, fmt.Errorf("%s: %w", name, err)
	}
	switch first {
	case '[', '{':
		rep.Format = "json"
		if err := eachJSONRecord(br, first == '[', func(n int, v any) { rep.Records++; walkStrings(v, func(s string) { collect(n, s) }) }); err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
	default:
		rep.Format = "csv"
		header := true
		err := eachLine(br, func(n int, line string) error {
			if header {
				header = false
				return nil
			}
			if strings.TrimSpace(line) == "" {
				return nil
			}
			rep.Records++
			// Tags hold no comma or quote, so the raw line is enough and
			// a malformed CSV line still yields its tags.
			collect(n, line)
			return nil
		}, func(n int) {
			rep.Problems = append(rep.Problems, LineError{File: name, Line: n, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)})
		})
		if err != nil {
			return rep, err
		}
	}
	seen := map[string]bool{}
	var labels []Label
	scanners := map[string]bool{}
	for _, f := range tags {
		if seen[f.tag] {
			continue
		}
		seen[f.tag] = true
		rep.Tags++
		info, err := tagger.Open(f.tag)
		if err != nil {
			rep.Rejected++
			rep.Problems = append(rep.Problems, LineError{File: name, Line: f.record, Msg: err.Error()})
			continue
		}
		rep.Valid++
		addr, at, ok, err := s.TagRecipient(ctx, f.tag)
		if err != nil {
			return rep, err
		}
		if !ok {
			rep.Unrecorded++
			rep.Problems = append(rep.Problems, LineError{File: name, Line: f.record,
				Msg: fmt.Sprintf("valid tag of sensor %q issued %s was never recorded as given out", info.Sensor, info.Time.Format(time.RFC3339))})
			continue
		}
		scanners[addr.String()] = true
		labels = append(labels, Label{Prefix: netip.PrefixFrom(addr, addr.BitLen()), Org: org, Source: TagSource,
			ValidFrom: at.Truncate(24 * time.Hour), Note: fmt.Sprintf("tag from sensor %s issued %s, published by %s", info.Sensor, at.Format(time.RFC3339), engine)})
	}
	rep.Scanners = sortedKeys(scanners)
	rep.Labels = len(labels)
	if len(labels) > 0 {
		res, err := s.AddLabels(ctx, labels, nil, name)
		if err != nil {
			return rep, err
		}
		rep.Added = res.Added
	}
	return rep, nil
}

// walkStrings calls fn with every string inside a decoded JSON value.
func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

// maxJSONRecord bounds one decoded record of an export.
const maxJSONRecord = 16 << 20

// eachJSONRecord decodes a JSON array of records (array) or a stream of
// records such as JSON lines, calling fn with each record's 1-based number.
func eachJSONRecord(r io.Reader, array bool, fn func(n int, v any)) error {
	lr := &limitedRecordReader{r: r}
	dec := json.NewDecoder(lr)
	dec.UseNumber()
	if array {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("JSON: %w", err)
		}
	}
	for n := 1; ; n++ {
		if array && !dec.More() {
			return nil
		}
		lr.reset()
		var v any
		err := dec.Decode(&v)
		if err == io.EOF && !array {
			return nil
		}
		if err != nil {
			return fmt.Errorf("JSON record %d: %w", n, err)
		}
		fn(n, v)
	}
}

// limitedRecordReader fails a decode that reads more than maxJSONRecord
// bytes for one record, so one hostile record cannot exhaust memory.
type limitedRecordReader struct {
	r    io.Reader
	read int
}

func (l *limitedRecordReader) reset() { l.read = 0 }

func (l *limitedRecordReader) Read(p []byte) (int, error) {
	if l.read >= maxJSONRecord {
		return 0, fmt.Errorf("record larger than %d bytes", maxJSONRecord)
	}
	if len(p) > maxJSONRecord-l.read {
		p = p[:maxJSONRecord-l.read]
	}
	n, err := l.r.Read(p)
	l.read += n
	return n, err
}

// peekReader lets the format be decided from the first non-space byte.
type peekReader struct {
	buf []byte
	r   io.Reader
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) firstNonSpace() (byte, error) {
	tmp := make([]byte, 4096)
	for {
		p.buf = bytes.TrimPrefix(p.buf, []byte("\ufeff"))
		trimmed := bytes.TrimLeft(p.buf, " \t\r\n")
		if len(trimmed) > 0 {
			return trimmed[0], nil
		}
		if len(p.buf) > 1<<20 {
			return 0, errors.New("no content in the first MiB")
		}
		n, err := p.r.Read(tmp)
		p.buf = append(p.buf, tmp[:n]...)
		if err == io.EOF && n == 0 {
			return 0, errors.New("empty file")
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
	}
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}
