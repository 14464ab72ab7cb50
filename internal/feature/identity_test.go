package feature

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"slices"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func TestIdentityView(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8::7")
	cases := []struct {
		id     probe.Identity
		value  string
		sensor netip.Addr
		want   string
	}{
		// Host header, TLS SNI: the class only.
		{probe.IdentityHost, "198.51.100.7", v4, TokenSensorIP},
		{probe.IdentityHost, "198.51.100.7:8080", v4, TokenSensorIP},
		{probe.IdentityHost, "198.51.100.7:", v4, TokenSensorIP},
		{probe.IdentityHost, "[2001:db8::7]:443", v6, TokenSensorIP},
		{probe.IdentityHost, "[2001:db8::7]", v6, TokenSensorIP},
		{probe.IdentityHost, "2001:db8::7", v6, TokenSensorIP},
		{probe.IdentityHost, "::ffff:198.51.100.7", v4, TokenSensorIP},
		{probe.IdentityHost, "198.51.100.8", v4, TokenIP},
		{probe.IdentityHost, "127.0.0.1:80", v4, TokenIP},
		{probe.IdentityHost, "[2001:db8::8]:443", v6, TokenIP},
		{probe.IdentityHost, "198.51.100.7", netip.Addr{}, TokenIP},
		{probe.IdentityHost, "example.com", v4, TokenName},
		{probe.IdentityHost, "localhost:8080", v4, TokenName},
		{probe.IdentityHost, "198.51.100.7:http", v4, TokenName},
		{probe.IdentityHost, "[2001:db8::7", v6, TokenName},
		{probe.IdentityHost, "%s", v4, TokenName},
		{probe.IdentityHost, probe.NotAvailable, v4, probe.NotAvailable},
		{probe.IdentityHost, "", v4, ""},
		// Url: the host of an absolute URL is classed, the path kept; a
		// CONNECT target is a host.
		{probe.IdentityURL, "/", v4, "/"},
		{probe.IdentityURL, "/cgi-bin/x?ip=198.51.100.7", v4, "/cgi-bin/x?ip=198.51.100.7"},
		{probe.IdentityURL, "http://198.51.100.7/", v4, "http://" + TokenSensorIP + "/"},
		{probe.IdentityURL, "http://198.51.100.7:8080/a?b#c", v4, "http://" + TokenSensorIP + "/a?b#c"},
		{probe.IdentityURL, "HTTPS://user:pw@[2001:db8::7]:8443", v6, "HTTPS://user:pw@" + TokenSensorIP},
		{probe.IdentityURL, "http://203.0.113.5/proxy-check", v4, "http://" + TokenIP + "/proxy-check"},
		{probe.IdentityURL, "http://example.com/x", v4, "http://example.com/x"},
		{probe.IdentityURL, "198.51.100.7:443", v4, TokenSensorIP},
		{probe.IdentityURL, "www.example.com:443", v4, "www.example.com:443"},
		{probe.IdentityURL, "sip:nm", v4, "sip:nm"},
		{probe.IdentityURL, "*", v4, "*"},
		// qname: the sensor's address in any spelling, the rest kept.
		{probe.IdentityQName, "7.100.51.198.in-addr.arpa", v4, TokenSensorIPReversed + ".in-addr.arpa"},
		{probe.IdentityQName, "7.100.51.198.IN-ADDR.ARPA", v4, TokenSensorIPReversed + ".IN-ADDR.ARPA"},
		{probe.IdentityQName, "198.51.100.7", v4, TokenSensorIP},
		{probe.IdentityQName, "198.51.100.7.scan.example.net", v4, TokenSensorIP + ".scan.example.net"},
		{probe.IdentityQName, "ip-198-51-100-7.ec2.internal", v4, "ip-" + TokenSensorIPDashed + ".ec2.internal"},
		{probe.IdentityQName, "C6336407.probe.example", v4, TokenSensorIPHex + ".probe.example"},
		{probe.IdentityQName, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", v6, TokenSensorIPReversed + ".ip6.arpa"},
		{probe.IdentityQName, "20010db8000000000000000000000007.x", v6, TokenSensorIPHex + ".x"},
		// Not the sensor, or not at a label boundary: kept as sent.
		{probe.IdentityQName, "version.bind", v4, "version.bind"},
		{probe.IdentityQName, "VERSION.BIND", v4, "VERSION.BIND"},
		{probe.IdentityQName, "8.100.51.198.in-addr.arpa", v4, "8.100.51.198.in-addr.arpa"},
		{probe.IdentityQName, "17.100.51.198.in-addr.arpa", v4, "17.100.51.198.in-addr.arpa"},
		{probe.IdentityQName, "198.51.100.70", v4, "198.51.100.70"},
		{probe.IdentityQName, "ac6336407.example", v4, "ac6336407.example"},
		{probe.IdentityQName, "7.100.51.198.in-addr.arpa", netip.Addr{}, "7.100.51.198.in-addr.arpa"},
		{probe.IdentityQName, probe.NotAvailable, v4, probe.NotAvailable},
		// No identity: bytes as sent.
		{probe.IdentityNone, "198.51.100.7", v4, "198.51.100.7"},
	}
	for _, c := range cases {
		if got := identityString(c.id, c.value, c.sensor); got != c.want {
			t.Errorf("%v %q (sensor %v) = %q, want %q", c.id, c.value, c.sensor, got, c.want)
		}
	}
}

// TestSensorAddressDoesNotChangeTheImage: the real tools of the probe corpus
// were captured against a sensor at 127.0.0.1 and name it in their Host
// header and TLS SNI. The same bytes aimed at a sensor at 127.0.0.9 (the
// address rewritten in the payload, lengths unchanged) are the same scanner
// behaviour and must give the same image; encoded as bytes they would not.
func TestSensorAddressDoesNotChangeTheImage(t *testing.T) {
	type rec struct {
		sharedtest.CorpusProbe
		TLSHex string `json:"tls_clienthello_hex"`
	}
	here, there := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.9")
	byService := map[string][2][]probe.Probe{}
	for _, r := range sharedtest.ProbeCorpus[rec](t) {
		h := r.PayloadHex
		if h == "" {
			h = r.TLSHex
		}
		payload, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(payload, []byte(here.String())) {
			continue
		}
		svc := probe.Classify(payload, probe.TCP, r.DstPort)
		if svc == nil || svc.Name() == ServiceDNS {
			continue
		}
		moved := bytes.ReplaceAll(payload, []byte(here.String()), []byte(there.String()))
		pair := byService[svc.Name()]
		for i, side := range []struct {
			dst     netip.Addr
			payload []byte
		}{{here, payload}, {there, moved}} {
			fs, err := svc.Parse(side.payload, probe.TCP)
			if err != nil {
				t.Fatalf("%s: %v", r.Tool, err)
			}
			pair[i] = append(pair[i], probe.Probe{Service: svc.Name(), DstIP: side.dst, DstPort: r.DstPort, Fields: fs})
		}
		byService[svc.Name()] = pair
	}
	for _, svc := range []string{ServiceHTTP, ServiceTLS} {
		pair := byService[svc]
		if len(pair[0]) < 5 {
			t.Fatalf("%s: only %d corpus probes name the sensor", svc, len(pair[0]))
		}
		l, err := BuildLayout(svc, slices.Concat(pair[0], pair[1]), LayoutConfig{MinCount: 1})
		if err != nil {
			t.Fatal(err)
		}
		identical := func(l *Layout) bool {
			a, b := l.EncodeAll(pair[0]), l.EncodeAll(pair[1])
			for i := range a {
				if !bytes.Equal(a[i], b[i]) {
					return false
				}
			}
			return true
		}
		if !identical(l) {
			t.Errorf("%s: the sensor's address changes the image", svc)
		}
		for i := range l.Fields {
			l.Fields[i].Identity = probe.IdentityNone
		}
		if identical(l) {
			t.Errorf("%s: even encoded as bytes, the address makes no difference; the test shows nothing", svc)
		}
		// The statistics count one value for both sensors.
		table, err := FieldStatistics(svc, slices.Concat(pair[0], pair[1]), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range table.Fields {
			if (s.Field == "Host" || s.Field == "extensions_sni") && s.Distinct > 2 {
				t.Errorf("%s: %d distinct values, want the sensor class (and N/A)", s.Field, s.Distinct)
			}
		}
	}
}

// TestQNameOfTheSensorEncodesAlike: two reverse lookups of the sensor that
// received them are the same probe, a lookup of another address is not.
func TestQNameOfTheSensorEncodesAlike(t *testing.T) {
	q := func(dst, qname string) probe.Probe {
		p := mkProbe(ServiceDNS, 0, f("id", "4660"), f("rd", "1"), f("qname", qname), f("qtype", "12"), f("qclass", "1"))
		p.DstIP = netip.MustParseAddr(dst)
		return p
	}
	a := q("198.51.100.7", "7.100.51.198.in-addr.arpa")
	b := q("203.0.113.20", "20.113.0.203.in-addr.arpa")
	other := q("203.0.113.20", "7.100.51.198.in-addr.arpa")
	l, err := BuildLayout(ServiceDNS, []probe.Probe{a, b, other}, LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	img := l.EncodeAll([]probe.Probe{a, b, other})
	if !bytes.Equal(img[0], img[1]) || bytes.Equal(img[0], img[2]) {
		t.Error("reverse lookups of the receiving sensor must encode alike, and differ from a lookup of another address")
	}
}

func TestIdentityEncodeDoesNotAllocate(t *testing.T) {
	ps := []probe.Probe{
		mkProbe(ServiceHTTP, 1, f("Host", "198.51.100.7:80"), f("Url", "http://198.51.100.7:80/x")),
		mkProbe(ServiceDNS, 2, f("qname", "7.100.51.198.in-addr.arpa")),
		mkProbe(ServiceDNS, 3, f("qname", "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")),
	}
	ps[0].DstIP = netip.MustParseAddr("198.51.100.7")
	ps[1].DstIP = ps[0].DstIP
	ps[2].DstIP = netip.MustParseAddr("2001:db8::7")
	lh, err := BuildLayout(ServiceHTTP, ps[:1], LayoutConfig{Fields: []string{"Host", "Url"}})
	if err != nil {
		t.Fatal(err)
	}
	ld, err := BuildLayout(ServiceDNS, ps[1:], LayoutConfig{})
	if err != nil {
		t.Fatal(err)
	}
	bh, bd := make([]uint8, lh.Pixels()), make([]uint8, ld.Pixels())
	allocs := testing.AllocsPerRun(100, func() {
		lh.Encode(ps[0], bh)
		ld.Encode(ps[1], bd)
		ld.Encode(ps[2], bd)
	})
	if allocs != 0 {
		t.Errorf("identity encoding allocates %.1f times per run", allocs)
	}
	if !bytes.HasPrefix(bh, []byte(TokenSensorIP[:10])) {
		t.Errorf("Host pixels %q, want the sensor token", bh[:10])
	}
}

// TestLayoutWithoutIdentityKeepsBytes: a layout saved before Host was
// identity-bearing (no "identity" in its JSON) keeps encoding the bytes its
// model learnt, and a saved layout keeps the class encoding.
func TestLayoutWithoutIdentityKeepsBytes(t *testing.T) {
	p := mkProbe(ServiceHTTP, 1, f("Host", "198.51.100.7:80"))
	p.DstIP = netip.MustParseAddr("198.51.100.7")
	l, err := BuildLayout(ServiceHTTP, []probe.Probe{p}, LayoutConfig{Fields: []string{"Host"}})
	if err != nil {
		t.Fatal(err)
	}
	saved := layoutJSON(t, l)
	if !bytes.Contains(saved, []byte(`"identity": "host",`)) {
		t.Fatalf("saved layout does not say Host is identity-bearing:\n%s", saved)
	}
	img := make([]uint8, l.Pixels())
	for _, c := range []struct {
		json []byte
		want string
	}{
		{saved, TokenSensorIP[:10]},
		{bytes.Replace(saved, []byte(`"identity": "host",`), nil, 1), "198.51.100"},
	} {
		back, err := Load(bytes.NewReader(c.json))
		if err != nil {
			t.Fatal(err)
		}
		back.Encode(p, img)
		if string(img[:10]) != c.want {
			t.Errorf("Host pixels %q, want %q", img[:10], c.want)
		}
	}
	// Identity on a field that is not a string is refused.
	bad := bytes.Replace(bytes.Replace(saved, []byte(`"kind": "string"`), []byte(`"kind": "int"`), 1), []byte(`"width": 10`), []byte(`"width": 8`), 1)
	if _, err := Load(bytes.NewReader(bad)); err == nil {
		t.Error("Load accepted identity on an int field")
	}
}
