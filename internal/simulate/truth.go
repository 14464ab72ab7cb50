package simulate

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"
)

// TruthRow is one row of truth.csv: a generated first probe and who sent it.
type TruthRow struct {
	Time      time.Time
	SrcIP     netip.Addr
	SrcPort   uint16
	DstIP     netip.Addr
	DstPort   uint16
	Transport string // "tcp" or "udp"
	Service   string // "http", "tls" or "dns"
	// Org is the true organisation ("unknown" for unattributed scanners).
	Org string
	// Profile names the org's or tool's payload variant ("censys/censys-bare",
	// "unknown/zgrab2/zgrab2-root"). A generic mimic (Config.GenericMimics)
	// has Org "unknown" and the profile of the org template it replays.
	Profile string
	// Hidden marks members of Org whose IP is not in labels.csv.
	Hidden bool
	// JA3 is the MD5 JA3 of a TLS probe, empty otherwise.
	JA3 string
}

// TruthHeader is the header row of truth.csv.
func TruthHeader() []string { return slices.Clone(truthHeader) }

// ReadTruth reads a truth.csv written by Generate.
func ReadTruth(path string) ([]TruthRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(truthHeader)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !slices.Equal(head, truthHeader) {
		return nil, fmt.Errorf("%s: header %v, want %v", path, head, truthHeader)
	}
	var rows []TruthRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row, err := parseTruthRow(rec)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rows = append(rows, row)
	}
}

func parseTruthRow(rec []string) (TruthRow, error) {
	var row TruthRow
	var err error
	if row.Time, err = time.Parse(TimeFormat, rec[0]); err != nil {
		return row, err
	}
	if row.SrcIP, err = netip.ParseAddr(rec[1]); err != nil {
		return row, err
	}
	if row.DstIP, err = netip.ParseAddr(rec[3]); err != nil {
		return row, err
	}
	sport, err := strconv.ParseUint(rec[2], 10, 16)
	if err != nil {
		return row, fmt.Errorf("src_port: %w", err)
	}
	dport, err := strconv.ParseUint(rec[4], 10, 16)
	if err != nil {
		return row, fmt.Errorf("dst_port: %w", err)
	}
	row.SrcPort, row.DstPort = uint16(sport), uint16(dport)
	row.Transport, row.Service, row.Org, row.Profile, row.JA3 = rec[5], rec[6], rec[7], rec[8], rec[10]
	if row.Hidden, err = strconv.ParseBool(rec[9]); err != nil {
		return row, fmt.Errorf("hidden: %w", err)
	}
	return row, nil
}
