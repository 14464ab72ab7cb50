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

// TestProfilesRefuseUnknownMembers: a profile member that is neither the
// profile's own nor a registered service's is an error, as it was when the
// services were fields of a struct decoded with unknown fields disallowed.
func TestProfilesRefuseUnknownMembers(t *testing.T) {
	var op orgProfile
	if err := json.Unmarshal([]byte(`{"visit_mean": 2, "source": "s", "http": [], "smtp": []}`), &op); err == nil {
		t.Error("an org profile with an smtp member was accepted")
	}
	var tool toolProfile
	if err := json.Unmarshal([]byte(`{"name": "x", "weight": 1, "dns": [], "wieght": 2}`), &tool); err == nil {
		t.Error("a tool profile with a misspelt member was accepted")
	}
	if err := json.Unmarshal([]byte(`{"name": "x", "weight": 1, "dns": [{"name": "q"}]}`), &tool); err != nil {
		t.Fatal(err)
	}
	if tool.Name != "x" || tool.Weight != 1 || len(tool.raw["dns"]) == 0 {
		t.Errorf("tool decoded as %+v", tool)
	}
}
