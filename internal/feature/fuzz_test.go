package feature

import (
	"bytes"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// FuzzEncode feeds arbitrary header and DNS values: tokenising and encoding
// must never panic, never write outside the canvas, and every lit option
// pixel must belong to a token of the value.
func FuzzEncode(fz *testing.F) {
	fz.Add("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101", "gzip, deflate", "12345")
	fz.Add("((((", ",,,", "99999999999999999999999")
	fz.Add(`a\`, "", "-1")
	httpL, err := BuildLayout(ServiceHTTP, httpFixture(), LayoutConfig{Fields: httpFixtureFields, MinCount: 1})
	if err != nil {
		fz.Fatal(err)
	}
	dnsL, err := BuildLayout(ServiceDNS, dnsFixture(), LayoutConfig{})
	if err != nil {
		fz.Fatal(err)
	}
	fz.Fuzz(func(t *testing.T, ua, accept, num string) {
		img := make([]uint8, httpL.Pixels()+7)
		for i := range img {
			img[i] = 7 // Encode must clear the canvas, and only the canvas
		}
		p := mkProbe("http", 0, f("User-Agent", ua), f("Accept", accept), f("Url", ua), f("Accept", num))
		httpL.Encode(p, img)
		if !bytes.Equal(img[httpL.Pixels():], bytes.Repeat([]byte{7}, 7)) {
			t.Fatal("Encode wrote past the canvas")
		}
		for _, tok := range Tokens(TokProduct, p.Fields[0]) {
			if !strings.Contains(ua, tok) && tok != probe.NotAvailable {
				t.Fatalf("token %q not in %q", tok, ua)
			}
		}
		dnsImg := make([]uint8, dnsL.Pixels())
		dnsL.Encode(mkProbe("dns", 0, f("id", num), f("qname", ua), f("qtype", accept)), dnsImg)
	})
}

// FuzzLoad: a corrupt or hostile layout file is refused or, if accepted,
// encodes without panicking.
func FuzzLoad(fz *testing.F) {
	for _, ps := range [][]probe.Probe{httpFixture(), tlsFixture(), dnsFixture()} {
		l, err := BuildLayout(ps[0].Service, ps, LayoutConfig{MinCount: 1})
		if err != nil {
			fz.Fatal(err)
		}
		var buf bytes.Buffer
		if err := l.Save(&buf); err != nil {
			fz.Fatal(err)
		}
		fz.Add(buf.Bytes())
	}
	fz.Fuzz(func(t *testing.T, data []byte) {
		l, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		img := make([]uint8, l.Pixels())
		for _, p := range append(httpFixture(), dnsFixture()...) {
			l.Encode(p, img)
		}
		l.Extend(httpFixture())
	})
}
