package dns

import (
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FuzzParse checks, on arbitrary bytes over both transports: no panic, a
// claimed payload always parses, and parsed fields have the documented
// names, integer ranges and plain-ASCII qname.
func FuzzParse(f *testing.F) {
	for _, e := range loadCorpus(f) {
		f.Add(mustHex(f, e.PayloadHex))
	}
	f.Add(mustHex(f, nmapVersionBindTCP))
	f.Add(msg(1, 0, 1, 0, 0, 1, question([]byte{0xc0, 12}, 1, 1), opt))
	f.Add(msg(1, 0, 2, 0, 0, 0, question(name("a", "b"), 1, 1), question([]byte{1, 'c', 0xc0, 12}, 1, 1)))
	svc := New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, tr := range []probe.Transport{probe.UDP, probe.TCP} {
			claimed := svc.Detect(payload, tr, 53) != probe.NotMine
			svc.Complete(payload, tr)
			fields, err := svc.Parse(payload, tr)
			if err != nil {
				if claimed {
					t.Fatalf("%s: Detect claimed a payload Parse rejects: %v", tr, err)
				}
				if fields != nil || !strings.HasPrefix(err.Error(), "dns: ") {
					t.Fatalf("%s: error %q with fields %v", tr, err, fields)
				}
				continue
			}
			if len(fields) != 19 {
				t.Fatalf("%s: %d fields", tr, len(fields))
			}
			for _, fl := range fields {
				if fl.Name == FieldQName {
					for i := 0; i < len(fl.Value); i++ {
						if c := fl.Value[i]; c < '!' || c > '~' {
							t.Fatalf("qname %q has byte 0x%02x", fl.Value, c)
						}
					}
					// A name is at most 255 bytes; \DDD escapes quadruple it.
					if len(fl.Value) > 4*255 {
						t.Fatalf("qname of %d bytes", len(fl.Value))
					}
					continue
				}
				width, ok := IntFieldWidths[fl.Name]
				if !ok {
					t.Fatalf("unknown field %q", fl.Name)
				}
				v, err := strconv.ParseUint(fl.Value, 10, 64)
				if err != nil || v >= 1<<width {
					t.Fatalf("field %s = %q does not fit %d bits", fl.Name, fl.Value, width)
				}
			}
		}
	})
}
