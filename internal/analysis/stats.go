package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// ProbeRecord is what the cluster report needs to know about one probe.
type ProbeRecord struct {
	IP     string
	Fields map[string]string // key field → value; a missing or empty value counts as "N/A"
}

// MissingValue stands for an absent field, as the artifact prints pandas' NaN.
const MissingValue = "N/A"

// ValueShare is one value of a field and how many of the cluster's probes carry it.
type ValueShare struct {
	Value string  `json:"value"`
	Count int     `json:"count"`
	Share float64 `json:"share_pct"` // percent of the cluster's probes
}

// String renders the share the way the artifact's statistics do: "value: 37.6%".
func (v ValueShare) String() string { return fmt.Sprintf("%s: %.1f%%", v.Value, v.Share) }

// FieldSummary lists a field's most frequent values in one cluster.
type FieldSummary struct {
	Field    string       `json:"field"`
	Distinct int          `json:"distinct"`
	Top      []ValueShare `json:"top"`
}

// ClusterSummary describes one cluster of probes.
type ClusterSummary struct {
	Cluster    int            `json:"cluster"`
	IPs        int            `json:"ips"`
	Probes     int            `json:"probes"`
	Fields     []FieldSummary `json:"fields"`
	ExampleIPs []ValueShare   `json:"example_ips"` // the cluster's busiest source IPs
}

// KeyFieldsOf returns the sorted union of field names over the probes, for callers without a
// fixed key-field list.
func KeyFieldsOf(probes []ProbeRecord) []string {
	seen := map[string]bool{}
	for _, p := range probes {
		for f := range p.Fields {
			seen[f] = true
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// SummariseClusters counts, per cluster, distinct IPs and probes and the top `top` values of each
// key field (ties: the lexically smaller value first), plus the `examples` busiest IPs.
// labels[i] is the cluster of probes[i], in 0..k-1.
func SummariseClusters(probes []ProbeRecord, labels []int, k int, keyFields []string, top, examples int) ([]ClusterSummary, error) {
	if len(probes) != len(labels) {
		return nil, fmt.Errorf("analysis: %d probes but %d cluster labels", len(probes), len(labels))
	}
	members := make([][]int, k)
	for i, c := range labels {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("analysis: probe %d has cluster %d outside 0..%d", i, c, k-1)
		}
		members[c] = append(members[c], i)
	}
	out := make([]ClusterSummary, k)
	for c, idx := range members {
		s := ClusterSummary{Cluster: c, Probes: len(idx)}
		ips := map[string]int{}
		for _, i := range idx {
			ips[probes[i].IP]++
		}
		s.IPs = len(ips)
		s.ExampleIPs = topShares(ips, len(idx), examples)
		for _, f := range keyFields {
			counts := map[string]int{}
			for _, i := range idx {
				v := probes[i].Fields[f]
				if v == "" {
					v = MissingValue
				}
				counts[v]++
			}
			s.Fields = append(s.Fields, FieldSummary{Field: f, Distinct: len(counts), Top: topShares(counts, len(idx), top)})
		}
		out[c] = s
	}
	return out, nil
}

func topShares(counts map[string]int, total, n int) []ValueShare {
	all := make([]ValueShare, 0, len(counts))
	for v, c := range counts {
		all = append(all, ValueShare{Value: v, Count: c, Share: 100 * float64(c) / float64(total)})
	}
	slices.SortFunc(all, func(a, b ValueShare) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all
}
