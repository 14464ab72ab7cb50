// Package abuse enriches scanner IPs with their abuse reputation from
// AbuseIPDB: a client of the API v2 check endpoint (rate limited to the
// plan, retried with backoff, cancellable), the reader of offline results
// (the API's JSON, a CSV), the run that checks only what the store holds
// no fresh check of, and the per-organisation statistics and figure. The
// store keeps the checks (store.AbuseStore); docs/formats.md §6 describes
// the files.
package abuse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Check is one IP's reputation, as the store keeps it.
type Check = store.AbuseCheck

// DefaultBaseURL is the API v2 root.
const DefaultBaseURL = "https://api.abuseipdb.com/api/v2"

// DefaultDailyLimit is the check quota of the free plan.
const DefaultDailyLimit = 1000

// MaxResponseBytes bounds one response body; a verbose check of a heavily
// reported IP is well below it.
const MaxResponseBytes = 4 << 20

// Errors a check can end with; errors.Is tells them apart.
var (
	// ErrUnauthorized: the key is wrong, revoked or missing (401, 403).
	// Nothing later can succeed.
	ErrUnauthorized = errors.New("the key was refused")
	// ErrQuota: the plan's quota is spent (429 with a long Retry-After, no
	// remaining checks, or the local daily limit). A later run continues.
	ErrQuota = errors.New("quota exhausted")
	// ErrRejected: the API refuses this IP (422: private, reserved or
	// malformed). Other IPs can go on.
	ErrRejected = errors.New("address rejected")
)

// APIError is an error answer of the API.
type APIError struct {
	IP         string
	Status     int
	Detail     string
	RetryAfter time.Duration // from Retry-After, 0 when absent
	kind       error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("AbuseIPDB check of %s: HTTP %d", e.IP, e.Status)
	if e.kind != nil {
		msg += " (" + e.kind.Error() + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.kind }

// Clock is the time a client sees: the real one, or a fake in tests.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, whichever is first.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Options configure a Client; zero values take the defaults.
type Options struct {
	BaseURL string       // DefaultBaseURL
	HTTP    *http.Client // a client with a 30 s timeout
	Clock   Clock        // the real clock
	// DailyLimit is the plan's checks per day (DefaultDailyLimit);
	// UsedToday how many of them are already spent. The limiter lets the
	// rest go at once and refills at DailyLimit a day.
	DailyLimit, UsedToday int
	// MaxWait is the longest the client waits for the limiter or a
	// Retry-After before it reports ErrQuota (default 1 minute).
	MaxWait time.Duration
	// Retries is how often a 429 or 5xx answer, or a failed connection, is
	// tried again (default 4), with exponential backoff from Backoff
	// (default 1 s) unless the answer says Retry-After.
	Retries int
	Backoff time.Duration
	// MaxAgeDays is the API's maxAgeInDays: reports older than this do not
	// count (default 90, the API's own default; 1..365).
	MaxAgeDays int
}

// Client checks IPs against the API. Safe for one goroutine at a time.
type Client struct {
	key     string
	opts    Options
	limiter *rate.Limiter
}

// NewClient returns a client that authenticates with key.
func NewClient(key string, opts Options) (*Client, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, fmt.Errorf("abuse: no API key")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = DefaultDailyLimit
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = time.Minute
	}
	if opts.Retries == 0 {
		opts.Retries = 4
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxAgeDays == 0 {
		opts.MaxAgeDays = 90
	}
	if opts.MaxAgeDays < 1 || opts.MaxAgeDays > 365 {
		return nil, fmt.Errorf("abuse: report age %d days: the API takes 1 to 365", opts.MaxAgeDays)
	}
	lim := rate.NewLimiter(rate.Every(24*time.Hour/time.Duration(opts.DailyLimit)), opts.DailyLimit)
	// What is already spent today is gone from the bucket.
	if used := min(opts.UsedToday, opts.DailyLimit); used > 0 {
		lim.ReserveN(opts.Clock.Now(), used)
	}
	return &Client{key: key, opts: opts, limiter: lim}, nil
}

// wait takes one check from the limiter, waiting at most MaxWait.
func (c *Client) wait(ctx context.Context, ip string) error {
	now := c.opts.Clock.Now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("abuse: %s: %w", ip, ErrQuota)
	}
	d := r.DelayFrom(now)
	if d > c.opts.MaxWait {
		r.CancelAt(now)
		return fmt.Errorf("abuse: %s: daily limit of %d checks reached, the next is free in %s: %w",
			ip, c.opts.DailyLimit, d.Round(time.Second), ErrQuota)
	}
	if err := c.opts.Clock.Sleep(ctx, d); err != nil {
		r.CancelAt(now)
		return err
	}
	return nil
}

// Check asks the API for ip's reputation. Answers 429 and 5xx and failed
// connections are tried again; a wrong key, a rejected IP or a spent quota
// end with an error that errors.Is tells (ErrUnauthorized, ErrRejected,
// ErrQuota) and that names the IP.
func (c *Client) Check(ctx context.Context, ip netip.Addr) (Check, error) {
	addr := ip.Unmap().String()
	if err := c.wait(ctx, addr); err != nil {
		return Check{}, err
	}
	q := url.Values{"ipAddress": {addr}, "maxAgeInDays": {strconv.Itoa(c.opts.MaxAgeDays)}, "verbose": {""}}
	u := c.opts.BaseURL + "/check?" + q.Encode()
	backoff := c.opts.Backoff
	for attempt := 0; ; attempt++ {
		chk, retryAfter, transient, err := c.once(ctx, u, addr)
		if err == nil {
			return chk, nil
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		retryable := ctx.Err() == nil && transient
		if !retryable || attempt >= c.opts.Retries {
			if isAPI && apiErr.Status == http.StatusTooManyRequests {
				apiErr.kind = ErrQuota
			}
			return Check{}, err
		}
		d := backoff
		if retryAfter > 0 {
			d = retryAfter
		}
		if d > c.opts.MaxWait {
			if isAPI && apiErr.Status == http.StatusTooManyRequests {
				apiErr.kind = ErrQuota
			}
			return Check{}, err
		}
		if err := c.opts.Clock.Sleep(ctx, d); err != nil {
			return Check{}, err
		}
		backoff *= 2
	}
}

// checkData is the data object of a check answer (what is kept of it).
type checkData struct {
	IPAddress            string  `json:"ipAddress"`
	IsWhitelisted        *bool   `json:"isWhitelisted"`
	AbuseConfidenceScore *int    `json:"abuseConfidenceScore"`
	CountryCode          *string `json:"countryCode"`
	UsageType            *string `json:"usageType"`
	ISP                  *string `json:"isp"`
	Domain               *string `json:"domain"`
	IsTor                bool    `json:"isTor"`
	TotalReports         int     `json:"totalReports"`
	NumDistinctUsers     int     `json:"numDistinctUsers"`
	LastReportedAt       *string `json:"lastReportedAt"`
	Reports              []struct {
		Categories []int `json:"categories"`
	} `json:"reports"`
}

// checkResponse is the check endpoint's answer: data, or errors.
type checkResponse struct {
	Data   *checkData `json:"data"`
	Errors []struct {
		Detail string `json:"detail"`
		Status int    `json:"status"`
	} `json:"errors"`
}

// once makes one request; it returns the answer's Retry-After too, and
// whether trying again may help (a failed connection, 429, 5xx).
func (c *Client) once(ctx context.Context, u, ip string) (Check, time.Duration, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Check{}, 0, false, err
	}
	req.Header.Set("Key", c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTP.Do(req)
	if err != nil {
		// The URL holds no key (it travels in a header), so the error may
		// name it.
		return Check{}, 0, true, fmt.Errorf("abuse: check of %s: %w", ip, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return Check{}, 0, true, fmt.Errorf("abuse: check of %s: reading the answer: %w", ip, err)
	}
	if len(body) > MaxResponseBytes {
		return Check{}, 0, false, fmt.Errorf("abuse: check of %s: answer larger than %d MiB", ip, MaxResponseBytes>>20)
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Clock.Now())
	if resp.StatusCode != http.StatusOK {
		e := &APIError{IP: ip, Status: resp.StatusCode, RetryAfter: retryAfter}
		var r checkResponse
		if json.Unmarshal(body, &r) == nil && len(r.Errors) > 0 {
			e.Detail = r.Errors[0].Detail
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			e.kind = ErrUnauthorized
		case resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusBadRequest:
			e.kind = ErrRejected
		}
		transient := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return Check{}, retryAfter, transient, e
	}
	chk, err := DecodeCheck(body, c.opts.Clock.Now())
	if err != nil {
		return Check{}, 0, false, fmt.Errorf("abuse: check of %s: %w", ip, err)
	}
	if chk.IP != ip {
		return Check{}, 0, false, fmt.Errorf("abuse: check of %s: the answer is about %s", ip, chk.IP)
	}
	chk.Source = "api"
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		// This answer counts; the next one would be refused.
		c.limiter.SetBurstAt(c.opts.Clock.Now(), 0)
	}
	return chk, 0, false, nil
}

// parseRetryAfter reads Retry-After: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// DecodeCheck reads one check answer ({"data": {...}}, as the API returns
// it, or the bare data object) checked at checkedAt.
func DecodeCheck(b []byte, checkedAt time.Time) (Check, error) {
	var r checkResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return Check{}, fmt.Errorf("malformed JSON: %v", err)
	}
	if len(r.Errors) > 0 {
		return Check{}, fmt.Errorf("an error answer: %s (HTTP %d)", r.Errors[0].Detail, r.Errors[0].Status)
	}
	d := r.Data
	if d == nil {
		// The bare data object of a check.
		d = new(checkData)
		if err := json.Unmarshal(b, d); err != nil {
			return Check{}, fmt.Errorf("malformed JSON: %v", err)
		}
	}
	if d.IPAddress == "" {
		return Check{}, errors.New("no ipAddress: not an AbuseIPDB check answer")
	}
	addr, err := netip.ParseAddr(d.IPAddress)
	if err != nil {
		return Check{}, fmt.Errorf("ipAddress %q is not an address", d.IPAddress)
	}
	if d.AbuseConfidenceScore == nil {
		return Check{}, fmt.Errorf("%s: no abuseConfidenceScore", d.IPAddress)
	}
	if s := *d.AbuseConfidenceScore; s < 0 || s > 100 {
		return Check{}, fmt.Errorf("%s: abuseConfidenceScore %d is not in 0..100", d.IPAddress, s)
	}
	c := Check{IP: addr.Unmap().String(), Score: *d.AbuseConfidenceScore, TotalReports: d.TotalReports,
		DistinctUsers: d.NumDistinctUsers, Tor: d.IsTor, CheckedAt: checkedAt.UTC()}
	c.CountryCode, c.UsageType, c.ISP, c.Domain = deref(d.CountryCode), deref(d.UsageType), deref(d.ISP), deref(d.Domain)
	c.Whitelisted = d.IsWhitelisted != nil && *d.IsWhitelisted
	if d.LastReportedAt != nil && *d.LastReportedAt != "" {
		t, err := time.Parse(time.RFC3339, *d.LastReportedAt)
		if err != nil {
			return Check{}, fmt.Errorf("%s: lastReportedAt %q: %v", d.IPAddress, *d.LastReportedAt, err)
		}
		c.LastReportedAt = t.UTC()
	}
	var cats [][]int
	for _, rep := range d.Reports {
		cats = append(cats, rep.Categories)
	}
	c.Categories = rankCategories(cats)
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rankCategories lists the categories of reports, most frequent first (ties
// by number).
func rankCategories(reports [][]int) []int {
	count := map[int]int{}
	for _, cs := range reports {
		for _, c := range cs {
			count[c]++
		}
	}
	out := make([]int, 0, len(count))
	for c := range count {
		out = append(out, c)
	}
	sortByCount(out, count)
	return out
}

// sortByCount orders cs by count, highest first, then by number.
func sortByCount(cs []int, count map[int]int) {
	slices.SortFunc(cs, func(a, b int) int {
		if d := count[b] - count[a]; d != 0 {
			return d
		}
		return a - b
	})
}

// categoryNames are the report categories of AbuseIPDB by number.
var categoryNames = map[int]string{
	1: "DNS Compromise", 2: "DNS Poisoning", 3: "Fraud Orders", 4: "DDoS Attack", 5: "FTP Brute-Force",
	6: "Ping of Death", 7: "Phishing", 8: "Fraud VoIP", 9: "Open Proxy", 10: "Web Spam", 11: "Email Spam",
	12: "Blog Spam", 13: "VPN IP", 14: "Port Scan", 15: "Hacking", 16: "SQL Injection", 17: "Spoofing",
	18: "Brute-Force", 19: "Bad Web Bot", 20: "Exploited Host", 21: "Web App Attack", 22: "SSH", 23: "IoT Targeted",
}

// CategoryName names a report category ("Port Scan"), or its number.
func CategoryName(c int) string {
	if n, ok := categoryNames[c]; ok {
		return n
	}
	return "category " + strconv.Itoa(c)
}
