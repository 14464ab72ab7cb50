package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestAbuseChecks: on both backends a check is stored with its date and
// categories, an older check never replaces a newer one, a newer one does,
// and today's API checks are counted.
func TestAbuseChecks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		t0 := time.Date(2026, 8, 10, 9, 30, 0, 0, time.UTC)
		first := AbuseCheck{IP: "198.51.100.1", Score: 80, CountryCode: "NL", UsageType: "Data Center/Web Hosting/Transit",
			ISP: "Example", Domain: "example.net", TotalReports: 12, DistinctUsers: 4, LastReportedAt: t0.Add(-time.Hour),
			Categories: []int{14, 18, 22}, Tor: true, CheckedAt: t0, Source: "api"}
		if err := s.PutAbuseChecks(ctx, []AbuseCheck{first, {IP: "2001:db8::1", Score: 0, CheckedAt: t0.Add(-48 * time.Hour), Source: "api"}}); err != nil {
			t.Fatal(err)
		}
		// An older import does not replace the API's check; a newer one does.
		if err := s.PutAbuseChecks(ctx, []AbuseCheck{{IP: "198.51.100.1", Score: 1, CheckedAt: t0.Add(-time.Minute), Source: "import"}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.AbuseChecks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].IP != "198.51.100.1" || got[0].Score != 80 || !slices.Equal(got[0].Categories, []int{14, 18, 22}) ||
			!got[0].CheckedAt.Equal(t0) || !got[0].LastReportedAt.Equal(t0.Add(-time.Hour)) || !got[0].Tor || got[0].ISP != "Example" {
			t.Fatalf("stored %+v", got)
		}
		if !got[1].LastReportedAt.IsZero() || got[1].Categories != nil {
			t.Errorf("empty fields read back as %+v", got[1])
		}
		if n, err := s.AbuseAPIChecksSince(ctx, t0.Truncate(24*time.Hour)); err != nil || n != 1 {
			t.Errorf("API checks today: %d, %v", n, err)
		}
		if err := s.PutAbuseChecks(ctx, []AbuseCheck{{IP: "198.51.100.1", Score: 3, CheckedAt: t0.Add(time.Hour), Source: "import"}}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.AbuseChecks(ctx)
		if got[0].Score != 3 || got[0].Source != "import" || got[0].Categories != nil {
			t.Errorf("newer check not kept: %+v", got[0])
		}
		if err := s.PutAbuseChecks(ctx, []AbuseCheck{{IP: "198.51.100.9"}}); err == nil {
			t.Error("a check without a date was stored")
		}
	})
}
