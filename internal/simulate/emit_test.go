package simulate

import (
	"encoding/json"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	stls "github.com/scannergrouper/scannergrouper/internal/service/tls"
)

// testStacks resolves the TLS stacks of the embedded data.
func testStacks(t testing.TB) map[string]*stls.Stack {
	t.Helper()
	_, data, err := loadData()
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := stls.LoadStacks(data)
	if err != nil {
		t.Fatal(err)
	}
	return stacks
}

// testTemplates decodes templates of a service as a profile would list
// them.
func testTemplates(t testing.TB, service string, list any) []probe.Template {
	t.Helper()
	_, data, err := loadData()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := probe.EmitterOf(service)
	if !ok {
		t.Fatalf("%s: no emitter", service)
	}
	dec, err := e.Templates(data)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := dec(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// svcIndex is the index of a service in serviceNames.
func svcIndex(t testing.TB, service string) int {
	t.Helper()
	for i, n := range serviceNames {
		if n == service {
			return i
		}
	}
	t.Fatalf("no service %s", service)
	return -1
}
