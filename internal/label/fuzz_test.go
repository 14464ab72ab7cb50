package label

import (
	"context"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ip,org\n1.2.3.4,censys\n",
		"IP,Label\n1.2.3.4,unknown\n",
		"network,org,source,source_label,extra\n1.2.3.0/24,censys,nict-2026Q1,Censys,\n",
		"period,ip,scanner,last_seen\n2024_1Q,1.2.3.4,\"Uni, X\",2024-01-01\n",
		"# c\n1.2.3.4 # a.shodan.io\n::1/128\n",
		"ip,ptr\n1.2.3.4,a.censys-scanner.com.\n",
		"list,value\nshodan-scanning,1.2.3.4\n",
		"\ufeffip,org\r\n\"1.2.3.4\",\"a\"\"b\"\r\n",
	} {
		f.Add(s, "")
		f.Add(s, "csv")
	}
	f.Fuzz(func(t *testing.T, in, format string) {
		p, err := Parse(strings.NewReader(in), "fuzz.csv", nil, ImportOptions{Format: Format(format)})
		if err != nil {
			return
		}
		for _, l := range p.Labels {
			if !l.Prefix.IsValid() || l.Org == "" || l.Source == "" {
				t.Fatalf("incomplete label %+v", l)
			}
			if l.Prefix != l.Prefix.Masked() {
				t.Fatalf("unmasked prefix %v", l.Prefix)
			}
		}
	})
}

func FuzzTagOpen(f *testing.F) {
	tg := NewTagger([]byte("fuzz key 0123456789abcdef"), "s").WithRand(newSeededRand(9))
	f.Add(tg.Tag(time.Unix(1700000000, 0)))
	f.Add(TagPrefix + "AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := tg.Open(s)
		if err == nil && len(info.Sensor) > MaxSensorBytes {
			t.Fatalf("sensor too long: %d", len(info.Sensor))
		}
	})
}

func FuzzImportTags(f *testing.F) {
	f.Add(`[{"data":"x"}]`)
	f.Add(`{"a":1}` + "\n" + `{"b":["sgt1_x"]}`)
	f.Add("ip,banner\n1.2.3.4,\"sgt1_abc\"\n")
	db, _ := openTestDB(f)
	tg := NewTagger([]byte("fuzz key 0123456789abcdef"), "s")
	f.Fuzz(func(t *testing.T, s string) {
		db.ImportTags(context.Background(), strings.NewReader(s), "fuzz", "censys", tg)
	})
}
