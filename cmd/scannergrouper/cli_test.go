package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/buildinfo"
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
