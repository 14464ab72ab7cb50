package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Worlds generated before SSH and RDP were simulated (main at bae6ac8):
// the SHA-256 of their truth.csv and templates.csv. The rows of the
// counted services in today's files must be exactly those files: the extra
// services draw from a stream of their own and only add rows.
var preExtraWorlds = []struct {
	name            string
	cfg             func(t *testing.T) Config
	truth, template string
}{
	{"tiny seed 1", func(t *testing.T) Config {
		cfg, err := PresetConfig("tiny", 1)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}, "74b0eb84f375451b356c80d2a23cca75a160e3d5e01a528290025f32f02f7c0a", ""},
	{"tiny seed 7, every structural knob", func(t *testing.T) Config {
		cfg, err := PresetConfig("tiny", 7)
		if err != nil {
			t.Fatal(err)
		}
		cfg.HiddenPerOrg, cfg.UnattributedRatio, cfg.GenericMimics, cfg.TemplatesPerOrg = 0.2, 3, 2, 4
		if cfg.Honeypots, cfg.HoneypotsTest, err = HoneypotLayout("split16s", 7); err != nil {
			t.Fatal(err)
		}
		cfg.WriteTemplates = true
		return cfg
	}, "4f34dbbbb4d6609dc8ddfe8813b18bfc9e5e6490e3108ec9d29debfab855cdda",
		"7033e26fd4d3f71504861581dcbaff1aba0a5097d61a5f63d0ae5b233620fbbd"},
}

func TestExtraServicesLeaveCountedTrafficAlone(t *testing.T) {
	for _, w := range preExtraWorlds {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			world, err := Generate(context.Background(), w.cfg(t), dir)
			if err != nil {
				t.Fatal(err)
			}
			if world.Counts.Probes.Of("ssh") == 0 || world.Counts.Probes.Of("rdp") == 0 {
				t.Fatalf("no SSH or RDP probes: %+v", world.Counts.Probes)
			}
			truth := readLines(t, filepath.Join(dir, "truth.csv"))
			var keep []int
			for i, row := range truth {
				if f := strings.Split(row, ","); i == 0 || len(f) > 6 && f[6] != "ssh" && f[6] != "rdp" {
					keep = append(keep, i)
				}
			}
			if got := hashRows(truth, keep); got != w.truth {
				t.Errorf("truth.csv rows of HTTP, TLS and DNS hash to %s, before SSH and RDP %s", got, w.truth)
			}
			if w.template != "" {
				if got := hashRows(readLines(t, filepath.Join(dir, "templates.csv")), keep); got != w.template {
					t.Errorf("templates.csv rows of HTTP, TLS and DNS hash to %s, before SSH and RDP %s", got, w.template)
				}
			}
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// hashRows hashes the kept rows as the file they would make (rows come
// from splitting the file on newlines; its empty last element is never
// kept).
func hashRows(rows []string, keep []int) string {
	h := sha256.New()
	for _, i := range keep {
		h.Write([]byte(rows[i] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
