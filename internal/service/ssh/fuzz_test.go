package ssh

import (
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/servicetest"
)

// FuzzParse checks, on arbitrary bytes: no panic; Parse fails exactly on
// payloads Detect does not claim; a claimed payload gives at least the
// identification fields, with documented names, plain printable values,
// a HASSH that is the MD5 of the lists it reports; and output bounded by
// the input.
func FuzzParse(f *testing.F) {
	servicetest.AddClients(f)
	f.Add([]byte("SSH-2.0-x\r\n"))
	f.Add(append([]byte("SSH-2.0-x\r\n"), kexinit(3, testLists, 0)...))
	f.Add([]byte("SSH-1.99-y\n\x00\x00\x00\x10\x04\x14"))
	known := map[string]bool{FieldProtoVersion: true, FieldSoftwareVersion: true, FieldComments: true, FieldCookie: true,
		FieldFirstKexFollows: true, FieldReserved: true, FieldHASSHAlgorithms: true, FieldHASSH: true}
	for _, n := range NameListFields {
		known[n] = true
	}
	svc := New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		claimed := svc.Detect(payload, probe.TCP, 22) != probe.NotMine
		svc.Detect(payload, probe.UDP, 22)
		svc.Complete(payload, probe.TCP)
		fields, err := svc.Parse(payload, probe.TCP)
		if !claimed {
			if err == nil {
				t.Fatalf("unclaimed payload parsed: %q", payload[:min(len(payload), 8)])
			}
			return
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ssh: ") {
			t.Fatalf("error %q", err)
		}
		if len(fields) < 3 || len(fields) > 18 {
			t.Fatalf("%d fields", len(fields))
		}
		size := 0
		for _, fl := range fields {
			if !known[fl.Name] {
				t.Fatalf("unknown field %q", fl.Name)
			}
			for i := 0; i < len(fl.Value); i++ {
				if c := fl.Value[i]; c < ' ' || c > '~' {
					t.Fatalf("%s has byte 0x%02x", fl.Name, c)
				}
			}
			size += len(fl.Value)
		}
		if size > 8*len(payload)+64 {
			t.Fatalf("%d bytes of values from %d of payload", size, len(payload))
		}
		if algs := fields.Value(FieldHASSHAlgorithms); algs != probe.NotAvailable && !strings.Contains(algs, `\`) {
			if HASSH(algs) != fields.Value(FieldHASSH) {
				t.Fatalf("hassh of %q is not %s", algs, fields.Value(FieldHASSH))
			}
		}
	})
}
