// Package buildinfo says which build of scannergrouper is running: the module
// version and the VCS revision the Go toolchain stamps into the binary. The
// version command prints it and every saved model manifest records it, so a
// model folder can be traced back to the code that trained it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// ModulePath is the module path, used when the binary carries no build
// information (go run of a single file, some test binaries).
const ModulePath = "github.com/scannergrouper/scannergrouper"

// Info is the build of the running binary. Fields the toolchain did not
// stamp are empty: test binaries and `go run` carry no VCS revision, and
// a build from a checkout reports the version "(devel)".
type Info struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"revision_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // the work tree had uncommitted changes
	GoVersion string `json:"go_version"`
}

// version and revision can be set at link time, for builds where the
// toolchain cannot stamp VCS information (a git worktree, -buildvcs=false, a
// source tarball):
//
//	go build -ldflags "-X github.com/scannergrouper/scannergrouper/internal/buildinfo.revision=$(git rev-parse HEAD)" ./cmd/scannergrouper
//
// What the toolchain stamped wins over them.
var version, revision string

var (
	once   sync.Once
	cached Info
)

// Read returns the build information of the running binary. It never
// fails: missing information leaves fields empty (Version "unknown").
func Read() Info {
	once.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			bi = &debug.BuildInfo{}
		}
		cached = withLinkerValues(FromBuildInfo(bi), version, revision)
	})
	return cached
}

// FromBuildInfo extracts Info from a runtime/debug.BuildInfo; apart from
// Read for tests.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Module == "" {
		info.Module = ModulePath
	}
	if info.Version == "" {
		info.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// withLinkerValues fills what the toolchain left empty or "(devel)" from the
// -X values.
func withLinkerValues(i Info, version, revision string) Info {
	if version != "" && (i.Version == "unknown" || i.Version == "(devel)") {
		i.Version = version
	}
	if revision != "" && i.Revision == "" {
		i.Revision = revision
	}
	return i
}

// String is the one-line form: "github.com/... (devel) rev 1a2b3c4d5e6f+dirty go1.26".
func (i Info) String() string {
	s := fmt.Sprintf("%s %s", i.Module, i.Version)
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " rev " + rev
		if i.Modified {
			s += "+dirty"
		}
		if i.Time != "" {
			s += " (" + i.Time + ")"
		}
	}
	if i.GoVersion != "" {
		s += " " + i.GoVersion
	}
	return s
}
