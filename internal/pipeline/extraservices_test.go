package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/simulate"
)

// TestScannersSeenOnlyOnSSHOrRDP: the pipeline trains a classifier for
// the new services, and a scanner that sent nothing but SSH (or RDP)
// probes and is on no list is judged by what it sent: its own org is the
// most probable one. In this tiny world (one week, one to three probes
// each) the evidence of a single service stays below the threshold, so
// the verdict itself is unknown; the test logs it.
func TestScannersSeenOnlyOnSSHOrRDP(t *testing.T) {
	dir := t.TempDir()
	// Seed 12 of the tiny world with half of every org unlisted has three
	// unlisted org members that send only SSH or RDP, of orgs with listed
	// SSH senders in training.
	cfg, err := simulate.PresetConfig("tiny", 12)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HiddenPerOrg = 0.5
	if _, err := simulate.Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	res := trainWorld(t, dir, Default(1))
	for _, svc := range []string{"http", "tls", "dns", "ssh"} {
		if res.Models[svc] == nil {
			t.Errorf("no %s model", svc)
		}
	}
	// truth.csv knows the org of unlisted members; the labels do not.
	truth := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range strings.Split(string(b), "\n") {
		if f := strings.Split(row, ","); len(f) > 9 && f[9] == "true" {
			truth[f[1]] = f[7]
		}
	}
	found, ranked := 0, 0
	for _, a := range res.Test {
		org, hidden := truth[a.IP]
		if !hidden || len(a.Services) != 1 || a.Services[0] != "ssh" && a.Services[0] != "rdp" {
			continue
		}
		found++
		best := "none"
		if a.Best >= 0 {
			best = res.Classes.Names[a.Best]
		}
		if best == org {
			ranked++
		}
		if a.Org != "unknown" && a.Org != org {
			t.Errorf("%s attributed to %s, a member of %s", a.IP, a.Org, org)
		}
		t.Logf("%s (%s only, unlisted member of %s): %s by %q, p %.2f; best %s p %.2f", a.IP, a.Services[0], org, a.Org, a.Evidence, a.Prob, best, a.BestProb)
	}
	// Two of them carry SSH evidence of their own organisation; the other
	// three had their organisation ranked first by its labelled IPs
	// elsewhere in their /16 only, which names nobody since the combiner
	// requires evidence of the IP's own (evidence.Combiner.OwnEvidence).
	if found < 3 || ranked < 2 {
		t.Fatalf("%d unlisted org scanners seen only on SSH or RDP, %d with their own org ranked first", found, ranked)
	}
}
