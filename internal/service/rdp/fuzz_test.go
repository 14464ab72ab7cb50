package rdp

import (
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// FuzzParse checks, on arbitrary bytes: no panic; a claimed, complete
// payload parses without error; fields have the documented names, integer
// ranges and plain printable values; output is bounded by the input.
func FuzzParse(f *testing.F) {
	servicetest.AddClients(f)
	f.Add(cr(nil))
	f.Add(cr(cat(negReq(0x08, 1), []byte{6, 0, 36, 0}, make([]byte, 32))))
	f.Add(cr([]byte("Cookie: msts=1\r\n\x02\x00\x08\x00")))
	svc := New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		claimed := svc.Detect(payload, probe.TCP, Port) != probe.NotMine
		svc.Detect(payload, probe.UDP, Port)
		complete := svc.Complete(payload, probe.TCP)
		fields, err := svc.Parse(payload, probe.TCP)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rdp: ") {
				t.Fatalf("error %q", err)
			}
		}
		if claimed && complete && err != nil && !strings.Contains(err.Error(), "CORRELATION") && !strings.Contains(err.Error(), "RDP_NEG_REQ truncated") {
			t.Fatalf("claimed complete request fails: %v", err)
		}
		if claimed && complete && len(fields) < 6 {
			t.Fatalf("claimed request gave %d fields", len(fields))
		}
		size := 0
		for _, fl := range fields {
			if w, ok := IntFieldWidths[fl.Name]; ok {
				if fl.Value == "" || len(fl.Value) > 10 || w < 32 && len(fl.Value) > 5 {
					t.Fatalf("%s = %q", fl.Name, fl.Value)
				}
			} else if _, ok := rule(fl.Name); !ok {
				t.Fatalf("unknown field %q", fl.Name)
			}
			for i := 0; i < len(fl.Value); i++ {
				if c := fl.Value[i]; c < ' ' || c > '~' {
					t.Fatalf("%s has byte 0x%02x", fl.Name, c)
				}
			}
			size += len(fl.Value)
		}
		if size > 4*len(payload)+512 { // 32 named protocol bits at most
			t.Fatalf("%d bytes of values from %d of payload", size, len(payload))
		}
	})
}
