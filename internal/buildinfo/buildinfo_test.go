package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2024-02-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := FromBuildInfo(bi)
	want := Info{Module: ModulePath, Version: "v1.2.3", Revision: "0123456789abcdef0123", Time: "2024-02-01T00:00:00Z", Modified: true, GoVersion: "go1.26.8"}
	if got != want {
		t.Fatalf("FromBuildInfo = %+v, want %+v", got, want)
	}
	if s := got.String(); s != ModulePath+" v1.2.3 rev 0123456789ab+dirty (2024-02-01T00:00:00Z) go1.26.8" {
		t.Errorf("String() = %q", s)
	}
	// A binary without module information still names the module.
	if got := FromBuildInfo(&debug.BuildInfo{}); got.Module != ModulePath || got.Version != "unknown" {
		t.Errorf("empty build info gives %+v", got)
	}
}

func TestLinkerValuesFillOnlyGaps(t *testing.T) {
	devel := Info{Module: ModulePath, Version: "(devel)"}
	if got := withLinkerValues(devel, "v0.9.0", "abc"); got.Version != "v0.9.0" || got.Revision != "abc" {
		t.Errorf("linker values not used: %+v", got)
	}
	stamped := Info{Module: ModulePath, Version: "v1.0.0", Revision: "def"}
	if got := withLinkerValues(stamped, "v0.9.0", "abc"); got != stamped {
		t.Errorf("linker values override the toolchain's: %+v", got)
	}
}

func TestReadRunningBinary(t *testing.T) {
	i := Read()
	if i.Module == "" || i.Version == "" || !strings.HasPrefix(i.GoVersion, "go") {
		t.Errorf("Read() = %+v: module, version and Go version must be set", i)
	}
}
