package tls

import (
	"reflect"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// TestMemoisedFieldsEqualFreshOnes parses every real corpus hello twice
// through the service (the second time served by the memo) and with a
// different random and session id, and compares with a fresh computation.
func TestMemoisedFieldsEqualFreshOnes(t *testing.T) {
	svc := New()
	n := 0
	for _, c := range loadCorpus(t) {
		payload := append([]byte(nil), c.Payload...)
		for round := 0; round < 2; round++ {
			ch, err := ParseClientHello(payload)
			if err != nil {
				t.Fatal(err)
			}
			want := ch.Fields()
			got, err := svc.Parse(payload, probe.TCP)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s round %d: memoised fields differ:\n got %v\nwant %v", c.Tool, round, got, want)
			}
			if ch.SSLv2 || len(ch.SessionID) == 0 {
				break
			}
			// Same structure, new random and session id.
			for i := range ch.Random {
				ch.Random[i] ^= 0x5a
			}
			ch.SessionID[0] ^= 0xff
			n++
		}
	}
	if n < 200 {
		t.Fatalf("only %d hellos exercised the memo", n)
	}
}
