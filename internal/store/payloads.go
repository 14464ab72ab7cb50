package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Payloads stored once. A tool sends the same request over and over: its
// probes differ in their addresses, ports and times, and in a few fields
// that change from connection to connection whoever sends them (a TLS
// ClientHello's random bytes, a DNS query's ID, an SSH cookie: each
// service lists them, probe.Encoding.PerProbe). Everything else, the parsed
// fields (most of a probe's stored bytes: a ClientHello's are ≈ 3.6 KB of
// JSON), the service, the parse error and a payload, is stored once per
// distinct content in the payloads table, and each probe row references it
// by id:
//
//   - payloads.fields is the probe's field list with each per-probe field
//     in its place but its value empty (a hole);
//   - probes.fields is NULL, or the per-probe fields as a field list whose
//     names are the positions of the holes they fill ("3", "5");
//   - payloads.payload is the payload of the first probe stored with that
//     content; probes.payload is NULL when the probe's payload is those same
//     bytes, else its own (capped at probe.StoredPayloadCap).
//
// The content's key (payloads.hash) is the first 16 bytes of the SHA-256
// of service, parse error and the shared field list. A scanner chooses its
// payload's bytes, so the key must be collision resistant: a crafted
// collision would give a scanner's probes the fields of another tool. The
// writer hashes only content it has not seen: a bounded in-process cache,
// verified by comparing the whole content, maps content to its id, so a
// batch costs a lookup per probe and a round trip only for new contents.

// payloadHashLen is how many bytes of the SHA-256 key a content.
const payloadHashLen = 16

// payloadCacheMax bounds the writer's cache of contents (about 450 in a
// month of the largest dataset); past it the cache starts over.
const payloadCacheMax = 1 << 14

// payloadCache maps contents to their stored payload row.
type payloadCache struct {
	mu      sync.Mutex
	seed    maphash.Seed
	entries map[uint64][]*payloadEntry
	n       int
	// perProbe caches probe.EncodingOf(service).PerProbe.
	perProbe map[string][]string
}

// payloadEntry is one stored content as the writer knows it.
type payloadEntry struct {
	service, parseError string
	shared              probe.Fields // per-probe fields as holes
	hash                uint64       // sharedHash
	key                 []byte       // payloads.hash
	id                  int64
	payload             []byte // payloads.payload
	length              int64  // payloads.payload_len
}

func (c *payloadCache) lookup(h uint64, p *probe.Probe, perProbe []string) *payloadEntry {
	for _, e := range c.entries[h] {
		if e.service == p.Service && e.parseError == p.ParseError && sameShared(e.shared, p.Fields, perProbe) {
			return e
		}
	}
	return nil
}

// sharedHash hashes what p stores in its payload row: its service, parse
// error and fields, per-probe ones as holes. It walks the fields as they
// are (no JSON): most probes are found in the cache by it.
func sharedHash(seed maphash.Seed, p *probe.Probe, perProbe []string) uint64 {
	// Texts end in a 0 byte: "ab","c" and "a","bc" still hash apart
	// unless a text holds a 0, and a collision only costs a comparison.
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(p.Service)
	h.WriteByte(0)
	h.WriteString(p.ParseError)
	h.WriteByte(0)
	for _, f := range p.Fields {
		h.WriteString(f.Name)
		h.WriteByte(0)
		if slices.Contains(perProbe, f.Name) {
			h.WriteByte(1)
			continue
		}
		h.WriteString(f.Value)
		h.WriteByte(0)
		for _, it := range f.Items {
			h.WriteString(it)
			h.WriteByte(0)
		}
		h.WriteByte(1)
	}
	return h.Sum64()
}

// sameShared reports whether fs, per-probe fields as holes, is shared.
func sameShared(shared, fs probe.Fields, perProbe []string) bool {
	if len(shared) != len(fs) {
		return false
	}
	for i, f := range fs {
		s := shared[i]
		if s.Name != f.Name {
			return false
		}
		if slices.Contains(perProbe, f.Name) {
			if s.Value != "" || s.Items != nil {
				return false
			}
			continue
		}
		if s.Value != f.Value || !slices.Equal(s.Items, f.Items) {
			return false
		}
	}
	return true
}

func (c *payloadCache) add(e *payloadEntry) {
	if c.entries == nil || c.n >= payloadCacheMax {
		c.entries, c.n = map[uint64][]*payloadEntry{}, 0
	}
	c.entries[e.hash] = append(c.entries[e.hash], e)
	c.n++
}

// forget drops the entries of the given ids (rows another process pruned).
func (c *payloadCache) forget(ids map[int64]bool) {
	for h, es := range c.entries {
		es = slices.DeleteFunc(es, func(e *payloadEntry) bool { return ids[e.id] })
		if len(es) == 0 {
			delete(c.entries, h)
		} else {
			c.entries[h] = es
		}
	}
}

func (c *payloadCache) reset() {
	c.mu.Lock()
	c.entries, c.n = nil, 0
	c.mu.Unlock()
}

// perProbeFields returns the per-probe fields of service.
func (c *payloadCache) perProbeFields(service string) []string {
	if names, ok := c.perProbe[service]; ok {
		return names
	}
	if c.perProbe == nil {
		c.perProbe = map[string][]string{}
	}
	names := probe.EncodingOf(service).PerProbe
	c.perProbe[service] = names
	return names
}

// probeRow is one probe as its row stores it.
type probeRow struct {
	p         *probe.Probe
	payloadID int64
	entry     *payloadEntry // what gave payloadID
	fields    []byte        // per-probe fields JSON; nil: none (NULL)
	payload   []byte        // own payload; nil: the payload row's (NULL)
	diff      []byte        // own payload as a diff (payloadDiff); nil: none
	length    int64         // the payload's full length
	hash      uint64        // sharedHash
	// Of a probe whose content is not cached: the content (service, parse
	// error, shared fields JSON; splitContent) and its shared fields.
	content []byte
	shared  probe.Fields
}

// splitProbes turns probes into rows, resolving their payload ids from the
// cache where it can; lengths, when set, are the payloads' full lengths
// (stored rows whose payload is already capped). The rows whose content is
// not cached have payloadID 0.
func (c *payloadCache) splitProbes(probes []probe.Probe, lengths []int64) []probeRow {
	rows := make([]probeRow, len(probes))
	var own probe.Fields
	buf := make([]byte, 0, 64*len(probes))   // per-probe fields JSON
	diffs := make([]byte, 0, 32*len(probes)) // payload diffs
	// The first row of each content the cache does not know: the batch's
	// other rows of it share its content.
	misses := map[uint64][]*probeRow{}
	// The cache is locked probe by probe, not for the batch: ingest splits
	// the next batch while the writer resolves and remembers this one's
	// payloads.
	c.mu.Lock()
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	seed := c.seed
	c.mu.Unlock()
	for i := range probes {
		p := &probes[i]
		r := &rows[i]
		r.p = p
		r.length = int64(len(p.Payload))
		if lengths != nil {
			r.length = max(r.length, lengths[i])
		}
		c.mu.Lock()
		perProbe := c.perProbeFields(p.Service)
		r.hash = sharedHash(seed, p, perProbe)
		e := c.lookup(r.hash, p, perProbe)
		c.mu.Unlock()
		if e != nil {
			r.useEntry(e, &diffs)
		} else if first := sameMiss(misses[r.hash], p, perProbe); first != nil {
			r.content, r.shared = first.content, first.shared
		} else {
			r.makeContent(perProbe)
			misses[r.hash] = append(misses[r.hash], r)
		}
		_, own = splitFields(p.Fields, perProbe, nil, own[:0])
		if len(own) > 0 {
			start := len(buf)
			buf = own.AppendJSON(buf)
			r.fields = buf[start:len(buf):len(buf)]
		}
	}
	return rows
}

// sameMiss returns the row of rows whose content is p's, if any.
func sameMiss(rows []*probeRow, p *probe.Probe, perProbe []string) *probeRow {
	for _, r := range rows {
		if r.p.Service == p.Service && r.p.ParseError == p.ParseError && sameShared(r.shared, p.Fields, perProbe) {
			return r
		}
	}
	return nil
}

// makeContent sets the content and shared fields of r's probe.
func (r *probeRow) makeContent(perProbe []string) {
	p := r.p
	r.shared, _ = splitFields(p.Fields, perProbe, make(probe.Fields, 0, len(p.Fields)), nil)
	var content []byte
	content = binary.AppendUvarint(content, uint64(len(p.Service)))
	content = append(content, p.Service...)
	content = binary.AppendUvarint(content, uint64(len(p.ParseError)))
	content = append(content, p.ParseError...)
	r.content = r.shared.AppendJSON(content)
}

// useEntry sets r's payload id, and its own payload unless it is the
// payload row's: as a diff against the payload row's when that is less
// than half its size (a ClientHello differs from its tool's others in its
// random bytes, session ID and key share), else whole.
func (r *probeRow) useEntry(e *payloadEntry, arena *[]byte) {
	r.payloadID, r.entry = e.id, e
	r.payload, r.diff = nil, nil
	payload := cappedPayload(r.p.Payload)
	if r.length == e.length && bytes.Equal(payload, e.payload) {
		return
	}
	start := len(*arena)
	if diff, ok := payloadDiff(*arena, e.payload, payload); ok {
		*arena = diff
		r.diff = diff[start:len(diff):len(diff)]
		return
	}
	r.payload = payload
	if r.payload == nil {
		r.payload = []byte{}
	}
}

// payloadDiff appends to dst the diff of b against base, of the same
// length: each run of differing bytes as the uvarint count of equal bytes
// before it, the uvarint length of the run and its bytes (equal stretches
// shorter than diffGap stay inside a run). ok is false when the lengths
// differ or the diff is not under half of b.
func payloadDiff(dst, base, b []byte) (diff []byte, ok bool) {
	if len(base) != len(b) {
		return dst, false
	}
	diff, start := dst, len(dst)
	last := 0
	for i := 0; i < len(b); {
		if b[i] == base[i] {
			// Equal stretches are most of a diff's payload: 8 bytes a step.
			for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:]) == binary.LittleEndian.Uint64(base[i:]) {
				i += 8
			}
			if i < len(b) && b[i] == base[i] {
				i++
			}
			continue
		}
		runStart, end := i, i+1
		for j := end; j < len(b); {
			if b[j] != base[j] {
				j++
				end = j
				continue
			}
			k := j
			for k < len(b) && b[k] == base[k] && k-j < diffGap {
				k++
			}
			if k-j >= diffGap || k == len(b) {
				break
			}
			j = k
		}
		diff = binary.AppendUvarint(diff, uint64(runStart-last))
		diff = binary.AppendUvarint(diff, uint64(end-runStart))
		diff = append(diff, b[runStart:end]...)
		if len(diff)-start >= len(b)/2 {
			return dst, false
		}
		last, i = end, end
	}
	return diff, true
}

// diffGap is the shortest stretch of equal bytes that ends a run of a
// payload diff (a run's header costs two bytes or more).
const diffGap = 4

// applyDiff is the payload diff encodes against base.
func applyDiff(base, diff []byte) ([]byte, error) {
	out := bytes.Clone(base)
	pos := 0
	for len(diff) > 0 {
		gap, k := binary.Uvarint(diff)
		if k <= 0 {
			return nil, fmt.Errorf("bad payload diff")
		}
		diff = diff[k:]
		n, k := binary.Uvarint(diff)
		if k <= 0 || n > uint64(len(diff)-k) || gap > uint64(len(out)) || uint64(pos)+gap+n > uint64(len(out)) {
			return nil, fmt.Errorf("bad payload diff")
		}
		diff = diff[k:]
		pos += int(gap)
		pos += copy(out[pos:], diff[:n])
		diff = diff[n:]
	}
	return out, nil
}

func cappedPayload(b []byte) []byte {
	if len(b) > probe.StoredPayloadCap {
		return b[:probe.StoredPayloadCap]
	}
	return b
}

// splitFields appends the fields of fs to shared, a per-probe one (named
// in perProbe) as a hole, and the per-probe ones to own, named by their
// position; with a nil shared only own is made.
func splitFields(fs probe.Fields, perProbe []string, shared, own probe.Fields) (probe.Fields, probe.Fields) {
	if len(perProbe) == 0 {
		if shared != nil {
			shared = append(shared, fs...)
		}
		return shared, own
	}
	for i, f := range fs {
		if slices.Contains(perProbe, f.Name) {
			own = append(own, probe.Field{Name: strconv.Itoa(i), Value: f.Value, Items: f.Items})
			f.Value, f.Items = "", nil
		}
		if shared != nil {
			shared = append(shared, f)
		}
	}
	return shared, own
}

// joinFields is a probe's field list from its payload row's (shared, read
// only) and its own per-probe fields (JSON, nil: none): shared itself when
// the probe has none, else a copy with the holes filled.
func joinFields(shared probe.Fields, own []byte, dec *probe.FieldsDecoder) (probe.Fields, error) {
	if own == nil {
		return shared, nil
	}
	fill, err := dec.Decode(own)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(shared)
	for _, f := range fill {
		i, err := strconv.Atoi(f.Name)
		if err != nil || i < 0 || i >= len(out) {
			return nil, fmt.Errorf("per-probe field at %q of %d", f.Name, len(out))
		}
		out[i].Value, out[i].Items = f.Value, f.Items
	}
	return out, nil
}

// payloadTx is what resolving payloads needs of a transaction, on either
// backend's connection.
type payloadTx interface {
	exec(ctx context.Context, query string, args ...any) error
	query(ctx context.Context, query string, args []any, scan func(scan func(...any) error) error) error
	// text is what a text value is stored as (pgText for PostgreSQL).
	text(s string) string
}

// sqlTx is a payloadTx over database/sql.
type sqlTx struct {
	tx *sql.Tx
	d  dialect
}

func (t sqlTx) text(s string) string { return t.d.text(s) }

func (t sqlTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, t.d.bind(query), args...)
	return err
}

func (t sqlTx) query(ctx context.Context, query string, args []any, scan func(func(...any) error) error) error {
	rows, err := t.tx.QueryContext(ctx, t.d.bind(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, scan)
}

// eachRow calls scan with each row's Scan, database/sql's or pgx's.
func eachRow(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, scan func(func(...any) error) error) error {
	for rows.Next() {
		if err := scan(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// payloadChunk bounds the rows and ids of one statement.
const payloadChunk = 256

// resolvePayloads gives every row its payload id, inside the transaction
// that stores the rows: it checks that the cached ids it uses still name
// their content (another process may have pruned them), stores the contents new to the
// database (INSERT … ON CONFLICT DO NOTHING, so that writers storing the
// same content at once store it once) and reads their ids. It returns the
// entries to cache once the transaction commits.
func (c *payloadCache) resolvePayloads(ctx context.Context, tx payloadTx, rows []probeRow) ([]*payloadEntry, error) {
	used := map[int64][]byte{}
	for i := range rows {
		if rows[i].payloadID != 0 {
			used[rows[i].payloadID] = rows[i].entry.key
		}
	}
	if len(used) > 0 {
		ids := make([]int64, 0, len(used))
		for id := range used {
			ids = append(ids, id)
		}
		// Missing, or another content's: an id is never reused (AUTOINCREMENT,
		// PostgreSQL's identity), but the check costs nothing more.
		missing := map[int64]bool{}
		for chunk := range slices.Chunk(ids, payloadChunk) {
			found := map[int64][]byte{}
			err := tx.query(ctx, `SELECT id, hash FROM payloads WHERE id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, anys(chunk),
				func(scan func(...any) error) error {
					var id int64
					var key []byte
					err := scan(&id, &key)
					found[id] = key
					return err
				})
			if err != nil {
				return nil, fmt.Errorf("store: check payloads: %w", err)
			}
			for _, id := range chunk {
				if !bytes.Equal(found[id], used[id]) {
					missing[id] = true
				}
			}
		}
		if len(missing) > 0 {
			c.mu.Lock()
			c.forget(missing)
			for i := range rows {
				if r := &rows[i]; missing[r.payloadID] {
					r.payloadID, r.entry, r.payload, r.diff = 0, nil, nil, nil
					r.makeContent(c.perProbeFields(r.p.Service))
				}
			}
			c.mu.Unlock()
		}
	}
	// The contents to store, each once, in the order of their keys: two
	// writers storing the same new contents lock them in the same order.
	type fresh struct {
		key   []byte
		first *probeRow
		rows  []*probeRow
	}
	byContent := map[string]*fresh{}
	var news []*fresh
	for i := range rows {
		r := &rows[i]
		if r.payloadID != 0 {
			continue
		}
		f := byContent[string(r.content)]
		if f == nil {
			sum := sha256.Sum256(r.content)
			f = &fresh{key: sum[:payloadHashLen], first: r}
			byContent[string(r.content)] = f
			news = append(news, f)
		}
		f.rows = append(f.rows, r)
	}
	if len(news) == 0 {
		return nil, nil
	}
	slices.SortFunc(news, func(a, b *fresh) int { return bytes.Compare(a.key, b.key) })
	var added []*payloadEntry
	for chunk := range slices.Chunk(news, payloadChunk) {
		args := make([]any, 0, 7*len(chunk))
		keys := make([]any, len(chunk))
		for i, f := range chunk {
			svc, parseErr, fields := splitContent(f.first.content)
			args = append(args, f.key, tx.text(svc), fields, tx.text(parseErr), cappedPayload(f.first.p.Payload), f.first.length)
			keys[i] = f.key
		}
		err := tx.exec(ctx, `INSERT INTO payloads (hash, service, fields, parse_error, payload, payload_len) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(chunk)), ", ")+` ON CONFLICT (hash) DO NOTHING`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: insert payloads: %w", err)
		}
		stored := map[string]*payloadEntry{}
		err = tx.query(ctx, `SELECT hash, id, payload, payload_len FROM payloads WHERE hash IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, keys,
			func(scan func(...any) error) error {
				e := &payloadEntry{}
				if err := scan(&e.key, &e.id, &e.payload, &e.length); err != nil {
					return err
				}
				if e.payload == nil {
					e.payload = []byte{}
				}
				stored[string(e.key)] = e
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("store: read payload ids: %w", err)
		}
		for _, f := range chunk {
			e := stored[string(f.key)]
			if e == nil {
				return nil, fmt.Errorf("store: payload %x neither stored nor found", f.key)
			}
			e.service, e.parseError, _ = splitContent(f.first.content)
			e.shared, e.hash = f.first.shared, f.first.hash
			var diffs []byte
			for _, r := range f.rows {
				r.useEntry(e, &diffs)
			}
			added = append(added, e)
		}
	}
	return added, nil
}

// remember caches the entries of a committed transaction.
func (c *payloadCache) remember(added []*payloadEntry) {
	if len(added) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	for _, e := range added {
		if !slices.ContainsFunc(c.entries[e.hash], func(o *payloadEntry) bool {
			return o.service == e.service && o.parseError == e.parseError && slices.EqualFunc(o.shared, e.shared, sameField)
		}) {
			c.add(e)
		}
	}
}

func sameField(a, b probe.Field) bool {
	return a.Name == b.Name && a.Value == b.Value && slices.Equal(a.Items, b.Items)
}

// splitContent is the service, parse error and shared fields of a content
// (each text after its length, as a uvarint: any byte may be in them).
func splitContent(content []byte) (service, parseErr string, fields string) {
	text := func() string {
		n, k := binary.Uvarint(content)
		s := string(content[k : k+int(n)])
		content = content[k+int(n):]
		return s
	}
	service = text()
	parseErr = text()
	return service, parseErr, string(content)
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// moveChunk is how many old probe rows the migration moves at a time.
const moveChunk = 8192

// moveProbesToPayloads moves the probes of the version-1 table into the
// payloads and the version-2 probe table (core version 2), in the
// migration's transaction, moveChunk rows at a time: each distinct content
// becomes one payload row, each probe keeps its time, addresses, fields,
// payload (as stored: capped, with its full length), parse error, sensor
// and source.
func moveProbesToPayloads(ctx context.Context, s *SQL, tx *sql.Tx) error {
	var cache payloadCache
	var dec probe.FieldsDecoder
	after := int64(-1 << 63)
	for {
		rows, err := tx.QueryContext(ctx, s.d.bind(`SELECT id, ts_ns, src_ip, src_port, dst_ip, dst_port, transport, service, sensor,
			fields, payload, payload_len, parse_error, source_file, source_off FROM probes WHERE id > ? ORDER BY id LIMIT ?`), after, moveChunk)
		if err != nil {
			return fmt.Errorf("read old probes: %w", err)
		}
		var probes []probe.Probe
		var lengths []int64
		for rows.Next() {
			var (
				p            probe.Probe
				ts, plen     int64
				src, dst, tr string
				fjs          sql.RawBytes
			)
			if err := rows.Scan(&after, &ts, &src, &p.SrcPort, &dst, &p.DstPort, &tr, &p.Service, &p.Sensor,
				&fjs, &p.Payload, &plen, &p.ParseError, &p.SourceFile, &p.Offset); err != nil {
				rows.Close()
				return fmt.Errorf("read old probe: %w", err)
			}
			p.Time, p.Transport = time.Unix(0, ts).UTC(), probe.Transport(tr)
			if p.SrcIP, err = netip.ParseAddr(src); err == nil {
				p.DstIP, err = netip.ParseAddr(dst)
			}
			if err == nil {
				p.Fields, err = dec.Decode(fjs)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("old probe %d: %w", after, err)
			}
			probes = append(probes, p)
			lengths = append(lengths, plen)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read old probes: %w", err)
		}
		if len(probes) == 0 {
			return nil
		}
		moved := cache.splitProbes(probes, lengths)
		added, err := cache.resolvePayloads(ctx, sqlTx{tx, s.d}, moved)
		if err != nil {
			return err
		}
		cache.remember(added) // one transaction: it commits whole or not at all
		if _, err := insertRows(ctx, tx, s.d, "INSERT INTO probes_v2", moved); err != nil {
			return err
		}
	}
}
