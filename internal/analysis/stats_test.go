package analysis

import (
	"reflect"
	"strings"
	"testing"
)

func TestSummariseClusters(t *testing.T) {
	ua := func(ip, agent, url string) ProbeRecord {
		f := map[string]string{"User-Agent": agent}
		if url != "" {
			f["Url"] = url
		}
		return ProbeRecord{IP: ip, Fields: f}
	}
	probes := []ProbeRecord{
		ua("10.0.0.1", "zgrab/0.x", "/"),
		ua("10.0.0.1", "zgrab/0.x", "/"),
		ua("10.0.0.2", "zgrab/0.x", ""),
		ua("10.0.0.3", "curl/8.0", "/robots.txt"),
		ua("10.0.0.9", "Go-http-client/1.1", "/"),
	}
	labels := []int{0, 0, 0, 0, 1}
	got, err := SummariseClusters(probes, labels, 2, []string{"User-Agent", "Url"}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	c0 := got[0]
	if c0.IPs != 3 || c0.Probes != 4 {
		t.Fatalf("cluster 0: %d IPs %d probes, want 3 and 4", c0.IPs, c0.Probes)
	}
	var shares []string
	for _, f := range c0.Fields {
		for _, v := range f.Top {
			shares = append(shares, f.Field+"="+v.String())
		}
	}
	want := []string{"User-Agent=zgrab/0.x: 75.0%", "User-Agent=curl/8.0: 25.0%", "Url=/: 50.0%", "Url=/robots.txt: 25.0%"}
	if !reflect.DeepEqual(shares, want) {
		t.Fatalf("top values\n got %q\nwant %q", shares, want)
	}
	if c0.Fields[1].Distinct != 3 { // "/", "/robots.txt" and the missing value
		t.Errorf("distinct Url values %d, want 3", c0.Fields[1].Distinct)
	}
	if ex := c0.ExampleIPs; len(ex) != 2 || ex[0].Value != "10.0.0.1" || ex[0].Count != 2 || ex[1].Value != "10.0.0.2" {
		t.Errorf("example IPs %+v", ex)
	}
	if got[1].IPs != 1 || got[1].Fields[0].Top[0].String() != "Go-http-client/1.1: 100.0%" {
		t.Errorf("cluster 1: %+v", got[1])
	}

	// The missing value is reported, not dropped.
	got, _ = SummariseClusters(probes[2:3], []int{0}, 1, []string{"Url"}, 3, 1)
	if v := got[0].Fields[0].Top[0].String(); v != "N/A: 100.0%" {
		t.Errorf("missing value rendered %q", v)
	}
	// A share of 1/3 rounds to one decimal.
	got, _ = SummariseClusters(probes[:3], []int{0, 0, 0}, 1, []string{"Url"}, 3, 1)
	if v := got[0].Fields[0].Top[1].String(); v != "N/A: 33.3%" {
		t.Errorf("one third rendered %q", v)
	}
}

func TestSummariseClustersErrors(t *testing.T) {
	p := []ProbeRecord{{IP: "1.2.3.4"}}
	for _, tc := range []struct {
		labels []int
		want   string
	}{
		{nil, "1 probes but 0 cluster labels"},
		{[]int{2}, "cluster 2 outside 0..1"},
		{[]int{-1}, "cluster -1 outside"},
	} {
		_, err := SummariseClusters(p, tc.labels, 2, nil, 3, 3)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("labels %v: err %v, want %q", tc.labels, err, tc.want)
		}
	}
	if got := KeyFieldsOf([]ProbeRecord{{Fields: map[string]string{"b": "", "a": ""}}, {Fields: map[string]string{"c": ""}}}); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("KeyFieldsOf = %v", got)
	}
}
