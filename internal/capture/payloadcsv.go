package capture

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Payload CSV columns (header row required, names case-insensitive, any
// order, extra columns ignored):
//
//	time       RFC 3339, "YYYY-MM-DD HH:MM:SS[.frac]" (UTC) or Unix seconds[.frac]
//	src_ip     scanner address            (aliases: saddr, src)
//	src_port   scanner port               (aliases: sport)
//	dst_ip     honeypot address           (aliases: daddr, dst)
//	dst_port   honeypot port              (aliases: dport)
//	transport  tcp | udp                  (aliases: proto, protocol; 6/17 accepted)
//	payload    hex or base64 bytes        (payload_hex / payload_base64 force the encoding)
//
// Each row is one payload-carrying packet, in capture order. Rows of the same
// TCP session are joined until the service parser says the message is
// complete, as TCP segments are.
var csvColumns = map[string][]string{
	"time":      {"time", "timestamp", "ts"},
	"src_ip":    {"src_ip", "saddr", "src"},
	"src_port":  {"src_port", "sport"},
	"dst_ip":    {"dst_ip", "daddr", "dst"},
	"dst_port":  {"dst_port", "dport"},
	"transport": {"transport", "proto", "protocol"},
}

type payloadEncoding int

const (
	encAuto payloadEncoding = iota
	encHex
	encBase64
)

// maxCSVErrors bounds how many bad rows are reported individually.
const maxCSVErrors = 20

// ExtractPayloadCSV reads a payload CSV log and emits first probes like
// Extract. Bad rows are skipped and reported as file:line in the returned
// error; the good rows are still used.
func ExtractPayloadCSV(ctx context.Context, path string, opts Options, emit func(probe.Probe) error) (Stats, error) {
	opts = opts.withDefaults()
	var stats Stats
	f, err := os.Open(path)
	if err != nil {
		return stats, err
	}
	defer f.Close()
	// A 1 MiB buffer: csv's own 4 KiB one made reading a multi-gigabyte
	// export a read system call per few rows (4 % of an ingest's CPU).
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return stats, fmt.Errorf("%s:1: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for canon, aliases := range csvColumns {
			for _, a := range aliases {
				if h == a {
					col[canon] = i
				}
			}
		}
		switch h {
		case "payload":
			col["payload"], col["enc"] = i, int(encAuto)
		case "payload_hex":
			col["payload"], col["enc"] = i, int(encHex)
		case "payload_base64", "payload_b64":
			col["payload"], col["enc"] = i, int(encBase64)
		}
	}
	for _, need := range []string{"time", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "payload"} {
		if _, ok := col[need]; !ok {
			return stats, fmt.Errorf("%s:1: missing column %q (have %s)", path, need, strings.Join(header, ","))
		}
	}
	stats.Files = 1
	t := newTracker(opts, &stats, emit)
	t.file = path
	var rowErrs []error
	bad := 0
	var pkt packet
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line := 0
		if err == nil && len(rec) > 0 {
			line, _ = r.FieldPos(0)
			err = parseCSVRow(rec, col, payloadEncoding(col["enc"]), &pkt)
		}
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) && perr.Err != csv.ErrFieldCount {
				// The CSV structure itself is broken: later rows cannot be trusted.
				rowErrs = append(rowErrs, fmt.Errorf("%s:%d: %w", path, perr.Line, err))
				break
			}
			bad++
			if bad <= maxCSVErrors {
				rowErrs = append(rowErrs, fmt.Errorf("%s:%d: %w", path, line, err))
			}
			continue
		}
		if stats.Packets&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
		}
		pkt.Offset = int64(line)
		if err := t.handle(&pkt); err != nil {
			return stats, err
		}
	}
	if err := t.flush(); err != nil {
		return stats, err
	}
	if bad > maxCSVErrors {
		rowErrs = append(rowErrs, fmt.Errorf("%s: %d more bad rows not listed", path, bad-maxCSVErrors))
	}
	return stats, errors.Join(rowErrs...)
}

func field(rec []string, col map[string]int, name string) string {
	i := col[name]
	if i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func parseCSVRow(rec []string, col map[string]int, enc payloadEncoding, p *packet) error {
	var err error
	*p = packet{NoSeq: true}
	if p.Time, err = parseTime(field(rec, col, "time")); err != nil {
		return err
	}
	if p.Src, err = netip.ParseAddr(field(rec, col, "src_ip")); err != nil {
		return fmt.Errorf("src_ip: %w", err)
	}
	if p.Dst, err = netip.ParseAddr(field(rec, col, "dst_ip")); err != nil {
		return fmt.Errorf("dst_ip: %w", err)
	}
	if p.SrcPort, err = parsePort(field(rec, col, "src_port")); err != nil {
		return fmt.Errorf("src_port: %w", err)
	}
	if p.DstPort, err = parsePort(field(rec, col, "dst_port")); err != nil {
		return fmt.Errorf("dst_port: %w", err)
	}
	switch strings.ToLower(field(rec, col, "transport")) {
	case "tcp", "6":
	case "udp", "17":
		p.UDP = true
	default:
		return fmt.Errorf("transport %q is neither tcp nor udp", field(rec, col, "transport"))
	}
	if p.Payload, err = decodePayload(field(rec, col, "payload"), enc); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if len(p.Payload) == 0 {
		return errors.New("empty payload")
	}
	return nil
}

func parsePort(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	return uint16(v), err
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs > 0 && secs < 1e11 {
		whole := int64(secs)
		return time.Unix(whole, int64((secs-float64(whole))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339, 'YYYY-MM-DD HH:MM:SS' or Unix seconds", s)
}

func decodePayload(s string, enc payloadEncoding) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "\\x")
	if len(s) > 4*probe.MaxPayload {
		s = s[:4*probe.MaxPayload] // longer than any first probe we keep
	}
	switch enc {
	case encHex:
		return hex.DecodeString(s)
	case encBase64:
		return base64.StdEncoding.DecodeString(s)
	}
	// Auto: hex when it can be hex, since hex digits are also base64 symbols
	// but a base64 payload of real traffic almost never is valid hex.
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
