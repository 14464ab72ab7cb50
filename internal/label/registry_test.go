package label

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func TestCanonical(t *testing.T) {
	r := DefaultRegistry()
	cases := map[string]string{
		"censys":                              "censys",
		"Censys":                              "censys",
		"internet-measurement":                "driftnet",
		"driftnet (internet-measurement.com)": "driftnet",
		"driftnet_v6":                         "driftnet",
		"expanse":                             "paloalto_expanse",
		"xpanse":                              "paloalto_expanse",
		"Palo Alto Networks (Cortex-Xpanse)":  "paloalto_expanse",
		"Palo Alto Networks(Cortex-Xpanse)":   "paloalto_expanse",
		"internet-census":                     "internet_census",
		"internetcensus":                      "internet_census",
		"webRay":                              "webray",
		"webray":                              "webray",
		"quake360":                            "quake",
		"strechoid_v4":                        "stretchoid",
		"inactive_scanopticon_v4":             "scanopticon",
		"censys.io-ipv6":                      "censys",
		"shodan-nt-scanning":                  "shodan",
		"onyphe.io":                           "onyphe",
		"Rapid7 (Project Sonar)":              "rapid7",
		"Limes Security (Alpha Strike Labs)":  "alphastrike",
		"The Technical University of Munich (TUM)": "tum",
		"unknown":              "",
		"":                     "",
		"Some New Scanner Co.": "some_new_scanner_co",
	}
	for in, want := range cases {
		if got := r.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFullyDisclosed(t *testing.T) {
	r := DefaultRegistry()
	for _, org := range []string{"censys", "driftnet", "internet-measurement"} {
		if !r.FullyDisclosed(org) {
			t.Errorf("%s should be fully disclosed", org)
		}
	}
	for _, org := range []string{"shodan", "stretchoid", "nobody"} {
		if r.FullyDisclosed(org) {
			t.Errorf("%s should not be fully disclosed", org)
		}
	}
}

func TestRegistryCoversArtifactClasses(t *testing.T) {
	r := DefaultRegistry()
	// The artifact's class index (reference/label_class_index.csv).
	for _, org := range []string{"adscore", "ahrefs", "archive", "binaryedge", "censys", "criminalip",
		"cybergreen", "driftnet", "fofa", "internet_census", "internettl", "intrinsec", "ipip", "leakix", "onyphe",
		"quadmetrics", "quake", "rapid7", "rau", "shadowserver", "shodan", "stretchoid", "tum", "webray",
		"x_threatbook", "zoomeye"} {
		if !r.Known(org) || r.Canonical(org) != org {
			t.Errorf("artifact class %s missing from the registry or renamed to %q", org, r.Canonical(org))
		}
	}
	// Arbor is NETSCOUT's scanning arm (arbor-observatory.com); the lists
	// name it netscout, so the artifact's "arbor" is an alias.
	if r.Canonical("arbor") != "netscout" {
		t.Errorf("arbor → %q, want netscout", r.Canonical("arbor"))
	}
}

func TestOrgForPTR(t *testing.T) {
	r := DefaultRegistry()
	cases := []struct{ ptr, org string }{
		{"scanner-20.ch1.censys-scanner.com", "censys"},
		{"scanner-20.ch1.censys-scanner.com.", "censys"},
		{"SCAN-47D.shadowserver.org", "shadowserver"},
		{"shadowserver.org", "shadowserver"},
		{"stretchoid.com", "stretchoid"},
		{"ip-1-2.binaryedge.ninja", "binaryedge"},
		{"census12.shodan.io", "shodan"},
		{"worker.internet-measurement.com", "driftnet"},
		{"b1.onyphe.net", "onyphe"},
		{"researchscanner101.eecs.berkeley.edu", "berkeley"},
		{"notshadowserver.org", ""},
		{"example.com", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, ok := r.OrgForPTR(c.ptr)
		if got != c.org || ok != (c.org != "") {
			t.Errorf("OrgForPTR(%q) = %q, %v; want %q", c.ptr, got, ok, c.org)
		}
	}
}

func TestLoadRegistryOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orgs.json")
	doc := `{"orgs":[{"org":"shodan","role":"fully_disclosed","aliases":["shodan.io","sho-dan"],"rdns":["*.shodan.io"]},
	{"org":"acme_scan","aliases":["ACME Scanning"],"rdns":["probe*.acme.example"]}]}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	if !r.FullyDisclosed("shodan") || r.Canonical("sho-dan") != "shodan" {
		t.Error("user entry for shodan did not replace the default")
	}
	if r.Canonical("ACME scanning") != "acme_scan" {
		t.Error("user org alias not applied")
	}
	if org, _ := r.OrgForPTR("probe7.acme.example"); org != "acme_scan" {
		t.Errorf("glob pattern: got %q", org)
	}
	if org, ok := r.OrgForPTR("mail.acme.example"); ok {
		t.Errorf("glob pattern matched a non-probe name: %q", org)
	}
	if !r.FullyDisclosed("censys") {
		t.Error("default orgs lost after override")
	}
	if DefaultRegistry().FullyDisclosed("shodan") {
		t.Error("override leaked into the default registry")
	}
	if _, err := ParseRegistry([]byte(`{"orgs":[{"org":"a","aliases":["x"]},{"org":"b","aliases":["x"]}]}`)); err == nil {
		t.Error("an alias claimed by two orgs must be rejected")
	}
}

// Every organisation named by the scanner lists and the artifact is in the
// registry under some spelling.
func TestRegistryCoversListOrgs(t *testing.T) {
	r := DefaultRegistry()
	check := func(file string, cols ...string) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rd := csv.NewReader(f)
		rd.FieldsPerRecord = -1
		rows, err := rd.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		idx := map[string]int{}
		for i, h := range rows[0] {
			idx[strings.TrimPrefix(h, "\ufeff")] = i
		}
		missing := map[string]bool{}
		for _, row := range rows[1:] {
			for _, c := range cols {
				name := row[idx[c]]
				if name == "" || name == "unknown" {
					continue
				}
				if !r.Known(name) {
					missing[name] = true
				}
			}
		}
		for name := range missing {
			t.Errorf("%s: %q (→ %q) is not in the registry", filepath.Base(file), name, r.Canonical(name))
		}
	}
	lists := sharedtest.Path(t, "realdata", "scanner_ip_lists")
	check(filepath.Join(lists, "unified_scanner_ips.csv"), "org", "source_label")
	check(filepath.Join(lists, "nict", "surveyscanner_all_periods.csv"), "scanner")
	scanorgs, _ := filepath.Glob(filepath.Join(lists, "nict", "scanorg_*.csv"))
	for _, f := range scanorgs {
		check(f, "scanner name")
	}
	check(filepath.Join(lists, "acknowledged_scanners", "acknowledged_scanners.csv"), "org_domain")
	check(filepath.Join(lists, "misp", "misp_scanning_lists.csv"), "list")
	check(filepath.Join(lists, "maltrail", "mass_scanner_labeled.csv"), "org_derived")
	check(sharedtest.Path(t, "reference", "label_class_index.csv"), "org_name")
	for _, dir := range []string{"openfilters", "xorlent", "connie-wild"} {
		entries, err := os.ReadDir(filepath.Join(lists, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			stem := strings.TrimSuffix(e.Name(), ".txt")
			if !r.Known(stem) {
				t.Errorf("%s/%s: %q is not in the registry", dir, e.Name(), r.Canonical(stem))
			}
		}
	}
}
