// Package simulate generates a synthetic but realistic honeypot world: weeks
// of first probes (HTTP, TLS, DNS, SSH, RDP) from scanning organisations and from
// unattributed scanners, written as one pcap per UTC day with ground truth.
//
// Sizes, per-scanner probe counts and the train/test timing come from the
// real SelfDeploy-24 data of the ScannerGrouper artifact; payloads come from
// per-org profiles (data/profiles.json, every entry with its source) and from
// the bytes of real scanning tools (data/corpus.json; SSH and RDP clients
// recorded on loopback, internal/service/{ssh,rdp}/clients). SelfDeploy-24's
// counts cover HTTP, TLS and DNS only: how much SSH and RDP scanners send is
// synthetic, drawn from a random stream of its own (extra.go). See
// docs/bench/simulate.md.
package simulate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
)

// The simulator sends the services of internal/service/all, in its order:
// service i of a session or a count is serviceNames[i]. Each must be a
// probe.Emitter, which says how its probes travel; its emit.go builds the
// bytes.
var (
	serviceNames = probe.ServiceNames()
	transports   = make([]probe.Transport, len(serviceNames))
	wires        = make([]probe.Wire, len(serviceNames))
)

func init() {
	if numServices > maxServices {
		panic(fmt.Sprintf("simulate: %d registered services, at most %d", numServices, maxServices))
	}
	for i, name := range serviceNames {
		e, ok := probe.EmitterOf(name)
		if !ok {
			panic("simulate: service " + name + " is no probe.Emitter")
		}
		transports[i], wires[i] = e.Transport(), e.Wire()
	}
}

// numServices is how many services the simulator sends; the fixed-size
// per-service arrays have room for maxServices.
var numServices = len(serviceNames)

const (
	maxServices = 8
	unknownOrg  = "unknown"
)

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

	// The structural knobs below build worlds unlike SelfDeploy-24, so that
	// defaults can be judged on worlds they were not tuned to (issue 12).
	// Their zero values leave the world exactly as the preset draws it.

	// HiddenPerOrg > 0 hides that share of each known org's scanners (not
	// of the fully disclosed ones; every org keeps at least one labelled
	// scanner): real org members that no list names. It replaces
	// HiddenShare, which turns unattributed scanners into members instead.
	HiddenPerOrg float64
	// UnattributedRatio > 0 sets the number of unattributed scanners to
	// this many per labelled scanner, instead of UnknownFraction: fewer
	// real rows are kept, or real rows are reused with fresh addresses
	// drawn in the /16s real unattributed scanners come from. HiddenShare
	// then turns its share of them into hidden members, as usual.
	UnattributedRatio float64
	// GenericMimics unattributed scanners per known org (fully disclosed
	// ones aside) replay that org's exact payload templates in every
	// service the org has: innocent users of the same tool and settings.
	// They stay unattributed in truth.csv; their profile column names the
	// org's template. Fewer are made when unattributed scanners run out.
	GenericMimics int
	// TemplatesPerOrg > 0 gives every org exactly that many payload
	// templates per service it has: extra ones are derived from its own
	// (another URL path, another cipher order, another question name),
	// surplus ones (the lightest) dropped; each scanner of the org then
	// uses only one to three of them.
	TemplatesPerOrg int
	// HoneypotsTest, when set, are the honeypots of every visit from
	// SplitTime on: a world whose test traffic hits other addresses than
	// its training traffic (HoneypotLayout builds such pairs).
	HoneypotsTest []netip.Addr
	// WriteTemplates also writes templates.csv: the payload template of
	// every truth.csv row, which tells apart what the profile names alone
	// do not (an org and a generic tool sending the same bytes).
	WriteTemplates bool
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

// HoneypotLayouts are the address layouts HoneypotLayout knows: slash24
// (DefaultHoneypots, the one /24 of SelfDeploy-24), slash16s (eight
// honeypots in four /16s) and split16s (the slash16s honeypots until the
// split, eight others in four other /16s after it).
var HoneypotLayouts = []string{"slash24", "slash16s", "split16s"}

// HoneypotLayout returns the training honeypots of a layout and, for
// split16s, the test ones (nil otherwise). The /16s lie in the shared
// address space 100.64.0.0/10 (RFC 6598), which no real scanner or
// honeypot owns; which /16s and hosts is drawn from seed with its own
// source, so a layout never changes the rest of the world's draws.
func HoneypotLayout(name string, seed uint64) (train, test []netip.Addr, err error) {
	switch name {
	case "slash24":
		return slices.Clone(DefaultHoneypots), nil, nil
	case "slash16s", "split16s":
	default:
		return nil, nil, fmt.Errorf("unknown honeypot layout %q (want one of %v)", name, HoneypotLayouts)
	}
	rng := rand.New(rand.NewPCG(seed, 0x40e7_a9d5_16a2_b0c3))
	second := rng.Perm(64)[:8] // 100.64..100.127: the /16s of 100.64.0.0/10
	draw := func(slash16s []int) []netip.Addr {
		var out []netip.Addr
		for _, b := range slash16s {
			for n := len(out) + 2; len(out) < n; {
				a := netip.AddrFrom4([4]byte{100, byte(64 + b), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
		return out
	}
	train = draw(second[:4])
	if name == "split16s" {
		test = draw(second[4:])
	}
	return train, test, nil
}

// Presets lists the preset names PresetConfig knows.
var Presets = []string{"tiny", "small", "sd24"}

// PresetConfig returns the configuration of a named preset:
// tiny (a few hundred probes, one week: unit tests), small (≈22k probes over
// three weeks: demo) and sd24 (SelfDeploy-24 scale: its ≈150k HTTP, TLS and
// DNS first probes, plus SSH and RDP, over 13 weeks from 2024-02-01:
// benchmarks).
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

// Validate reports the first setting Generate would refuse.
func (c Config) Validate() error {
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
	case c.HiddenPerOrg < 0 || c.HiddenPerOrg > maxHiddenPerOrg:
		return fmt.Errorf("hidden share per org must be in [0, %g]", maxHiddenPerOrg)
	case c.UnattributedRatio < 0 || c.UnattributedRatio > maxUnattributedRatio:
		return fmt.Errorf("unattributed ratio must be in [0, %g]", float64(maxUnattributedRatio))
	case c.GenericMimics < 0 || c.GenericMimics > maxGenericMimics:
		return fmt.Errorf("generic mimics per org must be 0..%d", maxGenericMimics)
	case c.TemplatesPerOrg < 0 || c.TemplatesPerOrg > maxTemplatesPerOrg:
		return fmt.Errorf("templates per org must be 0..%d", maxTemplatesPerOrg)
	}
	for _, h := range append(slices.Clone(c.Honeypots), c.HoneypotsTest...) {
		if !h.Is4() {
			return fmt.Errorf("honeypot %s: only IPv4 is simulated", h)
		}
	}
	return nil
}

// Bounds of the structural knobs: beyond them a world stops resembling
// honeypot traffic (an org with more hidden than listed members is mostly
// unknown to any list; hundreds of thousands of extra scanners only cost
// time).
const (
	maxHiddenPerOrg      = 0.9
	maxUnattributedRatio = 50
	maxGenericMimics     = 1000
	maxTemplatesPerOrg   = 16
)

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
