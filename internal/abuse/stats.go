package abuse

import (
	"cmp"
	"maps"
	"slices"
)

// DefaultAbusive is the score from which an IP counts as abusive (the
// project page's threshold).
const DefaultAbusive = 25

// Kinds of IPs the statistics separate.
const (
	// Listed: the period's scanner IPs that a stored list (label) gives
	// to the organisation.
	Listed = "listed"
	// Attributed: the IPs that identify attributed to the organisation
	// and that no list gives to it (found by ScannerGrouper).
	Attributed = "attributed"
)

// Group is the abuse statistics of one kind of IPs of one organisation.
type Group struct {
	IPs       int     `json:"ips"`
	Checked   int     `json:"checked"` // IPs with a stored check
	Abusive   int     `json:"abusive"` // score ≥ the threshold
	Share     float64 `json:"share"`   // Abusive / Checked (0 when none is checked)
	MeanScore float64 `json:"mean_score"`
	// TopCategories are the report categories most of the group's checked
	// IPs carry, at most five.
	TopCategories []CategoryCount `json:"top_categories"`
}

// CategoryCount is how many IPs of a group carry a report category.
type CategoryCount struct {
	Category int    `json:"category"`
	Name     string `json:"name"`
	IPs      int    `json:"ips"`
}

// OrgStats is one organisation's row.
type OrgStats struct {
	Org        string `json:"org"`
	Listed     Group  `json:"listed"`
	Attributed Group  `json:"attributed"`
}

// Membership gives each organisation its IPs of each kind (Listed,
// Attributed).
type Membership map[string]map[string][]string

// Add puts ip in org's kind, once.
func (m Membership) Add(org, kind, ip string) {
	if m[org] == nil {
		m[org] = map[string][]string{}
	}
	if !slices.Contains(m[org][kind], ip) {
		m[org][kind] = append(m[org][kind], ip)
	}
}

// Stats computes each organisation's statistics from the stored checks,
// ordered by the number of IPs (most first), ties by name. An organisation
// without any IP is left out.
func Stats(members Membership, checks []Check, abusive int) []OrgStats {
	byIP := make(map[string]Check, len(checks))
	for _, c := range checks {
		byIP[c.IP] = c
	}
	var out []OrgStats
	for _, org := range slices.Sorted(maps.Keys(members)) {
		s := OrgStats{Org: org, Listed: group(members[org][Listed], byIP, abusive), Attributed: group(members[org][Attributed], byIP, abusive)}
		if s.Listed.IPs+s.Attributed.IPs > 0 {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b OrgStats) int {
		return cmp.Compare(b.Listed.IPs+b.Attributed.IPs, a.Listed.IPs+a.Attributed.IPs)
	})
	return out
}

const topCategories = 5

func group(ips []string, byIP map[string]Check, abusive int) Group {
	g := Group{IPs: len(ips), TopCategories: []CategoryCount{}}
	cats := map[int]int{}
	sum := 0
	for _, ip := range ips {
		c, ok := byIP[ip]
		if !ok {
			continue
		}
		g.Checked++
		sum += c.Score
		if c.Score >= abusive {
			g.Abusive++
		}
		for _, cat := range c.Categories {
			cats[cat]++
		}
	}
	if g.Checked > 0 {
		g.Share = float64(g.Abusive) / float64(g.Checked)
		g.MeanScore = float64(sum) / float64(g.Checked)
	}
	order := slices.Collect(maps.Keys(cats))
	sortByCount(order, cats)
	for _, cat := range order[:min(len(order), topCategories)] {
		g.TopCategories = append(g.TopCategories, CategoryCount{Category: cat, Name: CategoryName(cat), IPs: cats[cat]})
	}
	return g
}
