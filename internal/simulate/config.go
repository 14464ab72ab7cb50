// Package simulate generates a synthetic but realistic honeypot world: weeks
// of first probes (HTTP, TLS, DNS) from scanning organisations and from
// unattributed scanners, written as one pcap per UTC day with ground truth.
//
// Sizes, per-scanner probe counts and the train/test timing come from the
// real SelfDeploy-24 data of the ScannerGrouper artifact; payloads come from
// per-org profiles (data/profiles.json, every entry with its source) and from
// the bytes of real scanning tools (data/corpus.json). See docs/bench/simulate.md.
package simulate

import (
	"fmt"
	"net/netip"
	"time"
)

// Service names as stored with each probe.
const (
	ServiceHTTP = "http"
	ServiceTLS  = "tls"
	ServiceDNS  = "dns"

	numServices = 3
	unknownOrg  = "unknown"
)

var serviceNames = [numServices]string{ServiceHTTP, ServiceTLS, ServiceDNS}

// realWeeks is the length of the SelfDeploy-24 period the counts come from
// (2024-02-01 .. 2024-04-30).
const realWeeks = 13

// FullyDisclosed are the orgs that publish every scanner IP: they appear in
// labels.csv and never have hidden members (docs/formats.md §3).
var FullyDisclosed = []string{"censys", "driftnet"}

// Config says what world to generate. PresetConfig gives the usual ones.
type Config struct {
	Preset string
	Seed   uint64
	// Start is the first instant of the world (UTC); the span is Weeks*7 days.
	Start time.Time
	Weeks int
	// KnownFraction and UnknownFraction are the shares of the real
	// SelfDeploy-24 scanners kept (labelled orgs at least one scanner each).
	KnownFraction   float64
	UnknownFraction float64
	// MaxProbesPerScanner caps one scanner's probes per service (0 = none),
	// so that the tiny world stays tiny despite heavy-tailed scanners.
	MaxProbesPerScanner int
	// HiddenShare is the share of unattributed scanners that are in truth
	// members of a known org (truth.csv says so; labels.csv does not).
	HiddenShare float64
	// TrainShare places each real scanner's train probes in this first part
	// of the span and its test probes in the rest, as in the artifact's split.
	TrainShare float64
	// Honeypots are the sensor addresses probed.
	Honeypots []netip.Addr
}

// DefaultHoneypots are five documentation addresses (RFC 5737), standing in
// for the five anonymised honeypots of SelfDeploy-24.
var DefaultHoneypots = []netip.Addr{
	netip.MustParseAddr("198.51.100.11"),
	netip.MustParseAddr("198.51.100.12"),
	netip.MustParseAddr("198.51.100.13"),
	netip.MustParseAddr("198.51.100.14"),
	netip.MustParseAddr("198.51.100.15"),
}

// Presets lists the preset names PresetConfig knows.
var Presets = []string{"tiny", "small", "sd24"}

// PresetConfig returns the configuration of a named preset:
// tiny (a few hundred probes, one week: unit tests), small (≈15k probes over
// three weeks: demo) and sd24 (SelfDeploy-24 scale: ≈150k first probes over
// 13 weeks from 2024-02-01: benchmarks).
func PresetConfig(name string, seed uint64) (Config, error) {
	cfg := Config{
		Preset: name, Seed: seed,
		Start:       time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
		HiddenShare: 0.05, TrainShare: 0.8,
		Honeypots: DefaultHoneypots,
	}
	switch name {
	case "tiny":
		cfg.Weeks, cfg.KnownFraction, cfg.UnknownFraction, cfg.MaxProbesPerScanner = 1, 0.02, 0.03, 6
	case "small":
		cfg.Weeks, cfg.KnownFraction, cfg.UnknownFraction = 3, 0.5, 0.35
	case "sd24":
		cfg.Weeks, cfg.KnownFraction, cfg.UnknownFraction = realWeeks, 1, 1
	default:
		return Config{}, fmt.Errorf("unknown preset %q (want one of %v)", name, Presets)
	}
	return cfg, nil
}

func (c Config) validate() error {
	switch {
	case c.Weeks < 1 || c.Weeks > 104:
		return fmt.Errorf("weeks must be 1..104, got %d", c.Weeks)
	case c.KnownFraction <= 0 || c.KnownFraction > 1, c.UnknownFraction <= 0 || c.UnknownFraction > 1:
		return fmt.Errorf("scanner fractions must be in (0, 1]")
	case c.HiddenShare < 0 || c.HiddenShare >= 1:
		return fmt.Errorf("hidden share must be in [0, 1)")
	case c.TrainShare <= 0 || c.TrainShare >= 1:
		return fmt.Errorf("train share must be in (0, 1)")
	case len(c.Honeypots) == 0:
		return fmt.Errorf("no honeypot addresses")
	case c.MaxProbesPerScanner < 0:
		return fmt.Errorf("max probes per scanner must be >= 0")
	}
	for _, h := range c.Honeypots {
		if !h.Is4() {
			return fmt.Errorf("honeypot %s: only IPv4 is simulated", h)
		}
	}
	return nil
}

// Span returns the first and the last-plus-one instant of the world.
func (c Config) Span() (time.Time, time.Time) {
	start := c.Start.UTC().Truncate(24 * time.Hour)
	return start, start.AddDate(0, 0, 7*c.Weeks)
}

// SplitTime is where the train part ends: a UTC day boundary near
// TrainShare of the span.
func (c Config) SplitTime() time.Time {
	start, end := c.Span()
	days := int(float64(end.Sub(start)/(24*time.Hour))*c.TrainShare + 0.5)
	return start.AddDate(0, 0, days)
}
