package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/buildinfo"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// runCLIAll runs the CLI in-process and returns its exit code, stdout and
// stderr.
func runCLIAll(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errOut)
	resetFlags(rootCmd)
	code = run(args)
	rootCmd.SetOut(nil)
	rootCmd.SetErr(nil)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLIAll(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "scannergrouper ") || !strings.Contains(out, "module    "+buildinfo.ModulePath) {
		t.Fatalf("version: exit %d:\n%s", code, out)
	}
	code, out, _ = runCLIAll(t, "version", "--json")
	var info buildinfo.Info
	if err := json.Unmarshal([]byte(out), &info); code != exitOK || err != nil {
		t.Fatalf("version --json: exit %d, %v: %s", code, err, out)
	}
	if info.Module != buildinfo.ModulePath || info.Version == "" || !strings.HasPrefix(info.GoVersion, "go") {
		t.Errorf("version --json = %+v", info)
	}
}

// TestVersionOfBuiltBinary builds the real binary and checks that it reports
// the revision it was built from. The toolchain cannot stamp VCS data in a
// git worktree or under GOFLAGS=-buildvcs=false, so the revision is given
// the way such builds give it, with -X.
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "scannergrouper")
	const rev = "0123456789abcdef0123456789abcdef01234567"
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X "+buildinfo.ModulePath+"/internal/buildinfo.revision="+rev, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--json", "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal(out, &info); err != nil || info.Revision != rev || info.Module != buildinfo.ModulePath {
		t.Fatalf("built binary reports %s (%v), want revision %s", out, err, rev)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.Contains(string(out), "rev 0123456789ab") {
		t.Errorf("--version: %s %v", out, err)
	}
}

// readManifestBuild returns the build recorded in a models folder.
func readManifestBuild(t *testing.T, dir string) buildinfo.Info {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Build buildinfo.Info `json:"build"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Build
}

// jsonValues decodes out as a stream of JSON values (one object, or JSON
// lines) and fails unless it is JSON and nothing else.
func jsonValues(t *testing.T, what, out string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var vals []map[string]any
	for dec.More() {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s --json: not JSON (%v):\n%s", what, err, out)
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		t.Fatalf("%s --json printed nothing", what)
	}
	return vals
}

// TestGlobalJSON: every command that prints a result prints JSON under the
// global --json, wherever the flag stands on the command line.
func TestGlobalJSON(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	w := filepath.Join(dir, "w")
	labels := filepath.Join(w, "labels.csv")
	steps := []struct {
		name string
		args []string
		keys []string // keys the first value must have
	}{
		{"simulate", []string{"--json", "simulate", "--out", w, "--preset", "tiny", "--weeks", "2"}, nil},
		{"ingest", []string{"ingest", "--json", "--db", db, filepath.Join(w, "pcap")}, []string{"stored"}},
		{"probes", []string{"probes", "--db", db, "--limit", "3", "--json"}, []string{"service", "payload_hex"}},
		{"train", []string{"train", "--json", "--mode", "incremental", "--db", db, "--labels", labels, "--to", "2024-02-08"}, []string{"model_version", "classes", "models"}},
		{"update", []string{"update", "--json", "--db", db, "--from", "2024-02-08"}, []string{"model_version", "weeks"}},
		{"identify", []string{"identify", "--json", "--db", db, "--from", "2024-02-08"}, []string{"ip", "org", "window_start"}},
		{"lists", []string{"lists", "--json", "--db", db, "--all", "--out", filepath.Join(dir, "lists")}, []string{"out", "orgs"}},
		{"abuse import", []string{"abuse", "import", "--json", "--db", db, filepath.Join(dir, "abuse.jsonl")}, []string{"checks", "skipped"}},
		{"abuse stats", []string{"abuse", "stats", "--json", "--db", db, "--from", "2024-02-08"}, []string{"orgs", "abusive_threshold"}},
		{"analyze", []string{"analyze", "--json", "--db", db, "--from", "2024-02-08", "--out", filepath.Join(dir, "analysis")}, []string{"report", "services", "abuse"}},
		{"labels export", []string{"labels", "export", "--json", "--db", db}, []string{"ip", "org"}},
		{"labels orgs", []string{"labels", "orgs", "--json"}, nil},
		{"labels tag", []string{"labels", "tag", "--json", "--key-file", writeKey(t, dir)}, []string{"tag", "at"}},
		{"evaluate", []string{"--json", "evaluate", "--db", db, "--labels", labels, "--iterations", "100"}, []string{"classes", "weighted_avg"}},
		{"evaluate (--json last)", []string{"evaluate", "--db", db, "--labels", labels, "--iterations", "100", "--json"}, []string{"classes"}},
		{"version", []string{"version", "--json"}, []string{"module", "version"}},
	}
	for _, s := range steps {
		if s.name == "abuse import" {
			writeAbuseChecks(t, labels, filepath.Join(dir, "abuse.jsonl"))
		}
		code, out, stderr := runCLIAll(t, s.args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", s.name, code, out, stderr)
		}
		first := jsonValues(t, s.name, out)[0]
		for _, k := range s.keys {
			if _, ok := first[k]; !ok {
				t.Errorf("%s --json: no %q in %s", s.name, k, out)
			}
		}
	}
	checkIPLookup(t, db, labels)
}

// checkIPLookup asks `ip` about a listed IP that probed, an IP that never
// did and a malformed one, on the store and models TestGlobalJSON built.
func checkIPLookup(t *testing.T, db, labelsFile string) {
	t.Helper()
	raw, err := os.ReadFile(labelsFile)
	if err != nil {
		t.Fatal(err)
	}
	labelOf := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		if ip, org, ok := strings.Cut(strings.TrimSpace(line), ","); ok {
			labelOf[ip] = org
		}
	}
	code, out, stderr := runCLIAll(t, "identify", "--json", "--db", db)
	if code != exitOK {
		t.Fatalf("identify: exit %d\n%s", code, stderr)
	}
	var listed, org string
	for _, v := range jsonValues(t, "identify", out) {
		ip, _ := v["ip"].(string)
		ev, _ := v["evidence"].(string)
		if o := labelOf[ip]; o != "" && strings.HasPrefix(ev, "listed") {
			listed, org = ip, o
			break
		}
	}
	if listed == "" {
		t.Fatal("identify named no listed IP to look up")
	}
	code, out, stderr = runCLIAll(t, "ip", "--json", "--db", db, listed, "192.0.2.77")
	if code != exitOK {
		t.Fatalf("ip: exit %d\n%s", code, stderr)
	}
	vals := jsonValues(t, "ip", out)
	if len(vals) != 2 {
		t.Fatalf("ip printed %d objects for 2 IPs:\n%s", len(vals), out)
	}
	got := vals[0]
	if got["ip"] != listed || got["org"] != org || got["classification"] != "listed" {
		t.Errorf("ip %s: got org %v classification %v, want %s listed", listed, got["org"], got["classification"], org)
	}
	payloads, _ := got["payloads"].([]any)
	if len(payloads) == 0 {
		t.Fatalf("ip %s: no payload evidence: %s", listed, out)
	}
	sentByOrg := false
	for _, p := range payloads {
		senders, _ := p.(map[string]any)["training_senders"].(map[string]any)
		if n, _ := senders[org].(float64); n >= 1 {
			sentByOrg = true
		}
	}
	if !sentByOrg {
		t.Errorf("ip %s: no payload was sent in training by %s scanners: %v", listed, org, payloads)
	}
	if reasons, _ := got["reasons"].([]any); len(reasons) < 2 {
		t.Errorf("ip %s: reasons %v: want the verdict and at least one payload", listed, reasons)
	}
	if vals[1]["classification"] != "not-seen" {
		t.Errorf("ip 192.0.2.77: classification %v, want not-seen", vals[1]["classification"])
	}
	if code, _, stderr := runCLIAll(t, "ip", "--db", db, "10.0.0.300"); code != exitUsage || !strings.Contains(stderr, `"10.0.0.300" is not an IP address`) {
		t.Errorf("ip 10.0.0.300: exit %d, stderr %q; want a usage error naming the bad IP", code, stderr)
	}
}

// TestEvaluateReportFlag: --report FILE writes the report; the old --json
// FILE spelling still does, while a bare --json switches stdout to JSON.
func TestEvaluateReportFlag(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	w := filepath.Join(dir, "w")
	if code, out := runCLI(t, "simulate", "--out", w, "--preset", "tiny"); code != exitOK {
		t.Fatalf("simulate: %s", out)
	}
	if code, out := runCLI(t, "ingest", "--db", db, filepath.Join(w, "pcap")); code != exitOK {
		t.Fatalf("ingest: %s", out)
	}
	base := []string{"evaluate", "--db", db, "--labels", filepath.Join(w, "labels.csv"), "--iterations", "100"}
	for i, form := range []func(file string) []string{
		func(f string) []string { return []string{"--report", f} },
		func(f string) []string { return []string{"--json", f} },
		func(f string) []string { return []string{"--json=" + f} },
	} {
		file := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		args := append(slices.Clone(base), form(file)...)
		code, out, stderr := runCLIAll(t, args...)
		if code != exitOK || !strings.Contains(out, "weighted avg") {
			t.Fatalf("%v: exit %d, want the table on stdout:\n%s\n%s", args, code, out, stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v wrote no report: %v", args, err)
		}
		var rep struct {
			Classes []map[string]any `json:"classes"`
		}
		if err := json.Unmarshal(b, &rep); err != nil || len(rep.Classes) == 0 {
			t.Errorf("%v: report %s is not the JSON report: %v", args, file, err)
		}
	}
}

func writeKey(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "tag.key")
	if err := os.WriteFile(p, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPeriodFlags: every command that takes a period calls it --from and
// --to; the old names still work, hidden from help, with a note on stderr.
func TestPeriodFlags(t *testing.T) {
	for _, path := range [][]string{{"train"}, {"identify"}, {"analyze"}, {"probes"}, {"fields"}, {"export"}, {"labels", "import"}, {"update"}} {
		cmd, _, err := rootCmd.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Flags().Lookup("from") == nil {
			t.Errorf("%v has no --from", path)
		}
		if path[0] != "update" && cmd.Flags().Lookup("to") == nil {
			t.Errorf("%v has no --to", path)
		}
		for _, old := range []string{"until", "before", "week-start", "since"} {
			if f := cmd.Flags().Lookup(old); f != nil && (!f.Hidden || f.Deprecated == "") {
				t.Errorf("%v --%s must be a hidden deprecated alias", path, old)
			}
		}
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	list := filepath.Join(dir, "shodan.txt")
	if err := os.WriteFile(list, []byte("198.20.69.74\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// labels import --to is exclusive; the old --until included its day.
	if code, _, stderr := runCLIAll(t, "labels", "--db", db, "import", "--source", "a", "--to", "2024-12-31", list); code != exitOK || stderr != "" {
		t.Fatalf("import --to: exit %d %s", code, stderr)
	}
	code, out, _ := runCLIAll(t, "labels", "--db", db, "lookup", "--at", "2024-12-31T12:00:00Z", "198.20.69.74")
	if code != exitOK || !strings.Contains(out, "198.20.69.74\tunknown") {
		t.Errorf("--to 2024-12-31 still covers that day:\n%s", out)
	}
	// cobra prints the note with Command.Print: on stderr in the binary,
	// but on the writer SetOut gave when one was given, as here.
	code, out, _ = runCLIAll(t, "labels", "--db", db, "import", "--source", "b", "--until", "2024-12-31", list)
	if code != exitOK || !strings.Contains(out, "--until has been deprecated, use --to") {
		t.Errorf("import --until: exit %d, want a deprecation note:\n%s", code, out)
	}
	code, out, _ = runCLIAll(t, "labels", "--db", db, "lookup", "--at", "2024-12-31T12:00:00Z", "198.20.69.74")
	if code != exitOK || !strings.Contains(out, "198.20.69.74\tshodan") {
		t.Errorf("--until 2024-12-31 must still cover that day:\n%s", out)
	}
	if code, _, _ := runCLIAll(t, "labels", "--db", db, "import", "--to", "2025-01-01", "--until", "2024-12-31", list); code != exitUsage {
		t.Errorf("--to with --until: exit %d, want usage", code)
	}
}

// TestUnknownNamesAreUsageErrors: a misspelt service or org is exit 2 with
// the valid names, not a run that finds nothing and succeeds.
func TestUnknownNamesAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	var services []string
	for _, s := range probe.Services() {
		services = append(services, s.Name())
	}
	if len(services) == 0 {
		t.Fatal("no registered services")
	}
	for _, args := range [][]string{
		{"probes", "--db", db, "--service", "foo"},
		{"fields", "--db", db, "--service", "foo"},
		{"export", "--db", db, "--service", "foo", "--out", dir},
	} {
		code, _, stderr := runCLIAll(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		for _, s := range services {
			if !strings.Contains(stderr, s) {
				t.Errorf("%v: the error does not list %q:\n%s", args, s, stderr)
			}
		}
	}
	if code, _, stderr := runCLIAll(t, "probes", "--db", db, "--service", "foo"); !strings.Contains(stderr, probe.Other) {
		t.Errorf("probes --service: %d, other not listed:\n%s", code, stderr)
	}
	for _, s := range append(services, probe.Other) {
		if code, _, stderr := runCLIAll(t, "probes", "--db", db, "--service", s); code != exitOK {
			t.Errorf("probes --service %s: exit %d %s", s, code, stderr)
		}
	}

	for _, args := range [][]string{
		{"lists", "--db", db, "--org", "nosuch", "--out", filepath.Join(dir, "l")},
		{"labels", "--db", db, "list", "--org", "nosuch"},
		{"labels", "--db", db, "export", "--org", "nosuch"},
		{"labels", "--db", db, "stats", "--org", "nosuch"},
	} {
		code, out, stderr := runCLIAll(t, args...)
		if code != exitUsage || !strings.Contains(stderr, `"nosuch"`) || !strings.Contains(stderr, "labels orgs") {
			t.Errorf("%v: exit %d, want %d naming the org and where the names are:\n%s%s", args, code, exitUsage, out, stderr)
		}
	}
	// A registered org without verdicts is not a mistake: exit 0, said so.
	code, out, stderr := runCLIAll(t, "lists", "--db", db, "--org", "Shodan", "--out", filepath.Join(dir, "l"))
	if code != exitOK || !strings.Contains(out, "no attributions of shodan") {
		t.Errorf("lists --org Shodan: exit %d:\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runCLIAll(t, "labels", "--db", db, "list", "--org", "shadow"); code != exitUsage || !strings.Contains(stderr, "shadowserver") {
		t.Errorf("labels list --org shadow: exit %d, want a suggestion:\n%s", code, stderr)
	}
}

// internalPackageNames are the names of the packages under internal/ (from
// go list), without the service folders, whose names are protocols.
func internalPackageNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}}", buildinfo.ModulePath+"/internal/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, _ := strings.Cut(line, " ")
		if strings.Contains(path, "/internal/service/") && name != "all" && name != "servicetest" {
			continue
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func TestPackagePrefixesCoverInternal(t *testing.T) {
	for _, name := range internalPackageNames(t) {
		if !slices.Contains(packagePrefixes, name) {
			t.Errorf("package %s is missing from packagePrefixes: its error prefixes would reach users", name)
		}
	}
	for in, want := range map[string]string{
		"pipeline: no probes to train on":             "no probes to train on",
		"w/labels.csv: labels: line 3: bad":           "w/labels.csv: line 3: bad",
		"store: open x.db: store: migrate: locked":    "open x.db: migrate: locked",
		"http: header line too long at offset 3":      "http: header line too long at offset 3",
		"registry: org shodan listed twice":           "registry: org shodan listed twice",
		"read pipeline.json: unexpected end of input": "read pipeline.json: unexpected end of input",
	} {
		if got := userMessage(errors.New(in)); got != want {
			t.Errorf("userMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestErrorsNameNoPackage runs commands with bad input and checks that no
// message on stderr starts a clause with one of our package names.
func TestErrorsNameNoPackage(t *testing.T) {
	names := internalPackageNames(t)
	leak := regexp.MustCompile(`(^|: |\n)(` + strings.Join(append(names, "labels"), "|") + `): `)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	notCapture := filepath.Join(dir, "notes.pcap")
	badJSON := filepath.Join(dir, "bad.json")
	badLabels := filepath.Join(dir, "labels.csv")
	for p, content := range map[string]string{notCapture: "hello, not a capture\n", badJSON: "{", badLabels: "ip,org\nnot-an-ip,shodan\n"} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := [][]string{
		{"train", "--db", empty},
		{"train", "--db", empty, "--mode", "incremental"},
		{"identify", "--db", empty},
		{"update", "--db", empty, "--from", "2024-02-01"},
		{"analyze", "--db", empty, "--out", filepath.Join(dir, "a")},
		{"ingest", "--db", empty, notCapture},
		{"ingest", "--db", empty, "--format", "payload-csv", badLabels},
		{"export", "--db", empty, "--service", "http", "--out", dir, "--layout", badJSON},
		{"labels", "--db", empty, "--registry", badJSON, "orgs"},
		{"labels", "--db", empty, "import", "--strict", badLabels},
		{"labels", "--db", empty, "import-tags", "--org", "censys", "--key-file", writeKey(t, dir), badJSON},
		{"evaluate", "--db", empty, "--labels", badLabels},
		{"evaluate", "--pcap", notCapture, "--labels", badLabels},
		{"--db", filepath.Join(dir, "no-such-dir", "x.db"), "probes"},
	}
	for _, args := range cases {
		code, _, stderr := runCLIAll(t, args...)
		if code == exitOK {
			t.Errorf("%v: exit 0 on bad input", args)
		}
		if m := leak.FindString(stderr); m != "" {
			t.Errorf("%v: stderr names a Go package (%q):\n%s", args, strings.TrimSpace(m), stderr)
		}
	}
}

// TestUpdateLearnsNewOrgsAndRefusesOverlap: an organisation whose labels
// arrive after the first training becomes a class at the next update; a
// period that overlaps a trained one is refused; --update-every is kept
// by the models.
func TestUpdateLearnsNewOrgsAndRefusesOverlap(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sg.db")
	w := filepath.Join(dir, "w")
	if code, _, stderr := runCLIAll(t, "simulate", "--out", w, "--preset", "tiny", "--weeks", "2"); code != exitOK {
		t.Fatalf("simulate: %s", stderr)
	}
	if code, _, stderr := runCLIAll(t, "ingest", "--db", db, filepath.Join(w, "pcap")); code != exitOK {
		t.Fatalf("ingest: %s", stderr)
	}
	raw, err := os.ReadFile(filepath.Join(w, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	count := map[string]int{}
	for _, l := range lines[1:] {
		_, org, _ := strings.Cut(l, ",")
		count[org]++
	}
	late := ""
	for _, org := range []string{"shadowserver", "stretchoid", "binaryedge", "shodan", "internet_census"} {
		if count[org] > 0 {
			late = org
			break
		}
	}
	if late == "" {
		t.Fatalf("no known organisation among the tiny world's labels: %v", count)
	}
	var early []string
	for _, l := range lines {
		if !strings.HasSuffix(l, ","+late) {
			early = append(early, l)
		}
	}
	earlyFile := filepath.Join(dir, "early.csv")
	if err := os.WriteFile(earlyFile, []byte(strings.Join(early, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLIAll(t, "train", "--json", "--mode", "incremental", "--update-every", "4d", "--iterations", "100",
		"--db", db, "--labels", earlyFile, "--to", "2024-02-09")
	if code != exitOK {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	if classes := fmt.Sprint(jsonValues(t, "train", out)[0]["classes"]); strings.Contains(classes, late) {
		t.Fatalf("train without %s's labels has it as a class: %s", late, classes)
	}
	code, out, stderr = runCLIAll(t, "update", "--json", "--db", db, "--from", "2024-02-09", "--labels", filepath.Join(w, "labels.csv"))
	if code != exitOK {
		t.Fatalf("update: exit %d\n%s", code, stderr)
	}
	if classes := fmt.Sprint(jsonValues(t, "update", out)[0]["classes"]); !strings.Contains(classes, late) {
		t.Errorf("update with %s's labels: classes %s, want it among them", late, classes)
	}
	if !strings.Contains(stderr, "retraining every period") {
		t.Errorf("update learnt a new class without saying it retrained:\n%s", stderr)
	}
	code, _, stderr = runCLIAll(t, "update", "--db", db, "--from", "2024-02-11")
	if code == exitOK || !strings.Contains(stderr, "overlaps the one from 2024-02-09") || !strings.Contains(stderr, "4d long") {
		t.Errorf("update over a trained period: exit %d, stderr %q; want the overlap refused with the 4d period", code, stderr)
	}
}

// writeAbuseChecks writes an offline check (the API's answer, one a line)
// for every address of a simulated world's labels, its score from the
// address so that some are abusive.
func writeAbuseChecks(t *testing.T, labels, path string) {
	t.Helper()
	b, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for i, line := range strings.Split(string(b), "\n")[1:] {
		ip, _, _ := strings.Cut(line, ",")
		if ip == "" {
			continue
		}
		fmt.Fprintf(&out, `{"data":{"ipAddress":%q,"abuseConfidenceScore":%d,"reports":[{"categories":[14]}]},"checkedAt":"2024-03-01T00:00:00Z"}`+"\n", ip, i*7%101)
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
