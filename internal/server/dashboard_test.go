package server

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func TestDashboardAssetsEmbedded(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	for path, want := range map[string]string{"/": "<title>ScannerGrouper</title>", "/assets/app.js": "/v1/ip/", "/assets/style.css": "#verdict"} {
		rec := do(t, srv, "GET", path, nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s: %d, lacks %q", path, rec.Code, want)
		}
		if strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://") {
			t.Fatalf("%s refers to another site", path)
		}
	}
}

// chromium finds the Debian package's browser.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: the dashboard's browser test needs Debian's chromium package (.ci/run installs it)")
	return ""
}

// TestDashboardInChromium loads the dashboard in headless Chromium, checks
// the organisations, weekly volume, clusters and abuse figure it renders, searches an
// attributed IP and checks the verdict and its evidence, and saves a
// screenshot (SG_ARTIFACTS, default: the temp dir's
// scannergrouper-artifacts/dashboard.png).
func TestDashboardInChromium(t *testing.T) {
	exe := chromium(t)
	f := theFixture(t)
	analysisDir := filepath.Join(f.dir, "analysis")
	if _, err := os.Stat(analysisDir); err != nil {
		st, err := store.Open(context.Background(), f.db)
		if err != nil {
			t.Fatal(err)
		}
		// An AbuseIPDB check of the attributed IP makes the analysis draw
		// the abuse figure the dashboard shows.
		err = st.PutAbuseChecks(context.Background(), []store.AbuseCheck{{IP: f.attributed, Score: 80, Categories: []int{14},
			CheckedAt: f.origin.Add(app.Week), Source: "dashboard-test"}})
		if err == nil {
			_, err = app.Analyze(context.Background(), st, app.AnalyzeConfig{From: f.origin, To: f.origin.Add(2 * app.Week), Models: f.models, Out: analysisDir, Seed: 1})
		}
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	srv, _ := newTestServer(t, func(c *Config) { c.Analysis = analysisDir })
	ts := httptest.NewServer(srv)
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1200, 1600))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible("#orgs tbody tr[data-org]"),
		chromedp.WaitVisible("#volume tbody tr"), chromedp.WaitVisible("#clusters h3")); err != nil {
		t.Fatalf("dashboard did not render: %v", err)
	}
	orgs, err := chromedp.Run(ctx, chromedp.Text("#orgs tbody"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(orgs, f.org) {
		t.Fatalf("organisations table lacks %s:\n%s", f.org, orgs)
	}
	volume, err := chromedp.Run(ctx, chromedp.Text("#volume"))
	if err != nil || !strings.Contains(volume, "http") || !strings.Contains(volume, f.origin.Format("2006-01-02")) {
		t.Fatalf("weekly volume: %v\n%s", err, volume)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#clusters img`)); err != nil {
		t.Fatalf("no t-SNE picture: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#abuse-figure`)); err != nil {
		t.Fatalf("no abuse figure: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys("#ip", f.attributed), chromedp.Click(`#search button`), chromedp.WaitVisible("#verdict-org")); err != nil {
		t.Fatalf("search: %v", err)
	}
	org, err := chromedp.Run(ctx, chromedp.Text("#verdict-org"))
	if err != nil {
		t.Fatal(err)
	}
	class, _ := chromedp.Run(ctx, chromedp.Text("#verdict-class"))
	reasons, _ := chromedp.Run(ctx, chromedp.Text("#verdict-reasons"))
	payloads, _ := chromedp.Run(ctx, chromedp.Text("#verdict-payloads"))
	if org != f.org || (class != "attributed" && class != "listed") || reasons == "" || !strings.Contains(payloads, "training senders") {
		t.Fatalf("verdict shown: org %q class %q reasons %q payloads %q; want %s", org, class, reasons, payloads, f.org)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("SG_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "scannergrouper-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
	// A malformed IP shows the API's error.
	if err := chromedp.Do(ctx, chromedp.SetValue("#ip", "not-an-ip"), chromedp.Click(`#search button`), chromedp.WaitVisible("#verdict-error")); err != nil {
		t.Fatalf("malformed IP: %v", err)
	}
}
