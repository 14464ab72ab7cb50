package main

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var (
		service, from, to, src, format, sensor string
		limit                                  int
	)
	cmd := &cobra.Command{
		Use:   "probes",
		Short: "List stored first probes (table, JSON lines or CSV), with JA3/JA4 for TLS",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if service != "" {
				if err := checkName("service", service, append(serviceNames(), probe.Other)); err != nil {
					return err
				}
			}
			q := store.ProbeQuery{Service: service, Limit: limit, Sensor: sensor}
			var err error
			if q.From, err = parseTimeFlag("from", from); err != nil {
				return err
			}
			if q.To, err = parseTimeFlag("to", to); err != nil {
				return err
			}
			if src != "" {
				if q.SrcIP, err = netip.ParseAddr(src); err != nil {
					return usagef("--src %q: %v", src, err)
				}
			}
			if global.JSON {
				format = "jsonl"
			}
			if format != "table" && format != "jsonl" && format != "csv" {
				return usagef("--format %q: want table, jsonl or csv", format)
			}
			st, err := store.Open(cmd.Context(), global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			return writeProbes(cmd, st, q, format)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&service, "service", "", "only this service ("+strings.Join(append(probe.ServiceNames(), probe.Other), ", ")+")")
	fl.StringVar(&from, "from", "", "first time (RFC 3339 or YYYY-MM-DD, inclusive)")
	fl.StringVar(&to, "to", "", "end time (exclusive)")
	fl.StringVar(&src, "src", "", "only probes from this scanner IP")
	fl.StringVar(&sensor, "sensor", "", "only probes of this sensor (as given to ingest --sensor)")
	fl.IntVar(&limit, "limit", 50, "at most this many probes (0 = all)")
	fl.StringVar(&format, "format", "table", "table, jsonl or csv")
	rootCmd.AddCommand(cmd)
}

// probeRecord is the JSON-lines shape: the probe plus its payload in hex.
type probeRecord struct {
	probe.Probe
	PayloadHex string `json:"payload_hex"`
}

func writeProbes(cmd *cobra.Command, st store.Store, q store.ProbeQuery, format string) error {
	out := cmd.OutOrStdout()
	var (
		tw  *tabwriter.Writer
		cw  *csv.Writer
		enc *json.Encoder
	)
	switch format {
	case "table":
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		defer tw.Flush()
		fmt.Fprintln(tw, "TIME\tSRC\tDST\tSERVICE\tSUMMARY")
	case "csv":
		cw = csv.NewWriter(out)
		defer cw.Flush()
		cw.Write([]string{"time", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "service", "summary", "ja3", "ja4", "fields"})
	case "jsonl":
		enc = json.NewEncoder(out)
	}
	for p, err := range st.Probes(cmd.Context(), q) {
		if err != nil {
			return err
		}
		switch format {
		case "table":
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Time.Format(time.DateTime),
				netip.AddrPortFrom(p.SrcIP, p.SrcPort), netip.AddrPortFrom(p.DstIP, p.DstPort), p.Service, probe.Summary(p))
		case "csv":
			fields, _ := json.Marshal(p.Fields)
			// The fingerprint columns are filled for whichever probes carry
			// those fields (TLS ClientHellos), empty otherwise.
			ja3, ja4 := fieldOrEmpty(p.Fields, "ja3"), fieldOrEmpty(p.Fields, "ja4")
			cw.Write([]string{p.Time.Format(time.RFC3339Nano), p.SrcIP.String(), strconv.Itoa(int(p.SrcPort)), p.DstIP.String(),
				strconv.Itoa(int(p.DstPort)), string(p.Transport), p.Service, probe.Summary(p), ja3, ja4, string(fields)})
		case "jsonl":
			if err := enc.Encode(probeRecord{p, hex.EncodeToString(p.Payload)}); err != nil {
				return err
			}
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}

// fieldOrEmpty is the value of a field, or "" when the probe has none.
func fieldOrEmpty(fs probe.Fields, name string) string {
	if f, ok := fs.Get(name); ok {
		return f.Value
	}
	return ""
}
