package label

import (
	"context"
	"net/netip"
	"testing"
)

func TestAddLabelsAndCovering(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestDB(t)
	labels := []Label{
		{Prefix: mustPrefix("::ffff:192.0.2.0/120"), Org: "censys", Source: "api"},
		{Prefix: mustPrefix("192.0.2.7/32"), Org: "censys", Source: "other", ValidFrom: day("2024-01-01"), ValidUntil: day("2024-02-01")},
		{Prefix: mustPrefix("192.0.0.0/16"), Org: "shodan", Source: "api"},
	}
	res, err := db.AddLabels(ctx, labels, nil, "test")
	if err != nil || res.Added != 3 {
		t.Fatalf("AddLabels: %+v %v", res, err)
	}
	cov, err := db.Covering(ctx, netip.MustParseAddr("::ffff:192.0.2.7"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range cov {
		got = append(got, l.Prefix.String()+" "+l.Source)
	}
	if len(got) != 3 || got[0] != "192.0.2.7/32 other" || got[1] != "192.0.2.0/24 api" || got[2] != "192.0.0.0/16 api" {
		t.Errorf("covering %v", got)
	}
	at, err := db.Labels(ctx, Query{At: day("2024-03-01"), Org: "Censys"})
	if err != nil || len(at) != 1 || at[0].Source != "api" {
		t.Errorf("labels valid in March: %+v %v", at, err)
	}
	bad := []Label{{Prefix: mustPrefix("192.0.2.9/32"), Org: "censys", Source: "x", ValidFrom: day("2024-02-01"), ValidUntil: day("2024-01-01")}}
	if _, err := db.AddLabels(ctx, bad, nil, "test"); err == nil {
		t.Error("empty validity accepted")
	}
	if _, err := db.AddLabels(ctx, []Label{{Prefix: mustPrefix("192.0.2.9/32"), Source: "x"}}, nil, "test"); err == nil {
		t.Error("label without org accepted")
	}
	srcs, _ := db.Sources(ctx)
	if srcs["api"] != 2 || srcs["other"] != 1 {
		t.Errorf("sources %v", srcs)
	}
}
