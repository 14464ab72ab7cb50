package feature

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Files written by ExportNPY.
const (
	ExportImages  = "images.npy"       // uint8 N×Side×Side
	ExportMetaCSV = "meta.csv"         // row,ip,time,service,label
	ExportIP      = "meta_ip.npy"      // unicode strings
	ExportTime    = "meta_time.npy"    // unicode strings, RFC 3339 UTC
	ExportTimeNS  = "meta_time_ns.npy" // int64 Unix nanoseconds
	ExportService = "meta_service.npy" // unicode strings
	ExportLabel   = "meta_label.npy"   // unicode strings; "" = no label
	ExportLayout  = "layout.json"
)

// ExportNPY writes the images of probes under l and their row-aligned
// metadata into dir, for numpy and PyTorch users (np.load needs no pickle
// for any file) and side-by-side runs of the authors' Python code. labels
// is parallel to probes or nil.
func ExportNPY(dir string, l *Layout, probes []probe.Probe, labels []string) error {
	if labels != nil && len(labels) != len(probes) {
		return fmt.Errorf("feature: export: %d labels for %d probes", len(labels), len(probes))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("feature: export: %w", err)
	}
	if err := writeNPY(filepath.Join(dir, ExportImages), imageArray(l, probes)); err != nil {
		return err
	}
	n := len(probes)
	ips, times, services, labs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	timesNS := make([]int64, n)
	for i := range probes {
		p := &probes[i]
		ips[i] = p.SrcIP.String()
		times[i] = p.Time.UTC().Format(time.RFC3339Nano)
		timesNS[i] = p.Time.UnixNano()
		services[i] = p.Service
		if labels != nil {
			labs[i] = labels[i]
		}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{ExportIP, ips}, {ExportTime, times}, {ExportTimeNS, timesNS}, {ExportService, services}, {ExportLabel, labs}} {
		if err := writeNPY(filepath.Join(dir, f.name), f.v); err != nil {
			return err
		}
	}
	if err := writeMetaCSV(filepath.Join(dir, ExportMetaCSV), ips, times, services, labs); err != nil {
		return err
	}
	return l.SaveFile(filepath.Join(dir, ExportLayout))
}

// imageArray encodes probes into a Go value of type [][Side][Side]uint8,
// from which npy writes the N×Side×Side shape. The encoder writes straight
// into the slice's backing bytes: [N][S][S]uint8 is laid out exactly as N
// consecutive S·S-byte images.
func imageArray(l *Layout, probes []probe.Probe) any {
	side, px := l.Side, l.Pixels()
	row := reflect.ArrayOf(side, reflect.ArrayOf(side, reflect.TypeFor[uint8]()))
	images := reflect.MakeSlice(reflect.SliceOf(row), len(probes), len(probes))
	if len(probes) > 0 {
		flat := unsafe.Slice((*uint8)(images.UnsafePointer()), len(probes)*px)
		for i := range probes {
			l.Encode(probes[i], flat[i*px:(i+1)*px])
		}
	}
	return images.Interface()
}

func writeNPY(path string, v any) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("feature: export: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("feature: export %s: %w", path, cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := npy.Write(w, v); err != nil {
		return fmt.Errorf("feature: export %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("feature: export %s: %w", path, err)
	}
	return nil
}

func writeMetaCSV(path string, ips, times, services, labels []string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("feature: export: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("feature: export %s: %w", path, cerr)
		}
	}()
	w := csv.NewWriter(f) // buffered inside
	if err := w.Write([]string{"row", "ip", "time", "service", "label"}); err != nil {
		return err
	}
	for i := range ips {
		if err := w.Write([]string{strconv.Itoa(i), ips[i], times[i], services[i], labels[i]}); err != nil {
			return fmt.Errorf("feature: export %s: %w", path, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("feature: export %s: %w", path, err)
	}
	return nil
}
