package eval

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteTable writes the report as a text table in the layout of sklearn's
// classification_report (two decimals), orgs with fewer than
// SmallOrgThreshold test scanners marked with '*', followed by the optional
// sections the report carries.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	width := len("weighted avg")
	for _, c := range r.Classes {
		width = max(width, len(c.Org)+2)
	}
	row := func(name string, p, rc, f float64, support int) {
		fmt.Fprintf(&b, "%*s %9.2f %9.2f %9.2f %9d\n", width, name, p, rc, f, support)
	}
	fmt.Fprintf(&b, "%*s %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support")
	small := 0
	for _, c := range r.Classes {
		name := c.Org
		if c.Small {
			name += " *"
			small++
		}
		row(name, c.Precision, c.Recall, c.F1, c.Support)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "%*s %9s %9s %9.2f %9d\n", width, "accuracy", "", "", r.Accuracy, r.WeightedAvg.Support)
	row("macro avg", r.MacroAvg.Precision, r.MacroAvg.Recall, r.MacroAvg.F1, r.MacroAvg.Support)
	row("weighted avg", r.WeightedAvg.Precision, r.WeightedAvg.Recall, r.WeightedAvg.F1, r.WeightedAvg.Support)
	b.WriteByte('\n')
	fmt.Fprintf(&b, "mode %s, theta %.2f\n", r.Mode, r.Theta)
	if small > 0 {
		fmt.Fprintf(&b, "* fewer than %d test scanners (%d orgs): reported and included in every average, but too few to judge.\n",
			SmallOrgThreshold, small)
	}
	if len(r.ProbeLevel) > 0 {
		b.WriteString("\nprobe level (weighted F1, unattributed probes excluded):\n")
		for _, svc := range sortedKeys(r.ProbeLevel) {
			pl := r.ProbeLevel[svc]
			fmt.Fprintf(&b, "  %-6s %6.3f  (%d probes)\n", svc, pl.WeightedF1, pl.Support)
		}
	}
	if len(r.Weekly) > 0 {
		b.WriteString("\nweekly weighted F1:\n")
		for _, wk := range r.Weekly {
			fmt.Fprintf(&b, "  %-10s %6.3f  theta %.2f  (%d scanners)\n", wk.WeekStart, wk.WeightedF1, wk.Theta, wk.Support)
		}
	}
	if u := r.Unattributed; u != nil {
		fmt.Fprintf(&b, "\nunattributed test IPs attributed to a known org: %d of %d (%.1f%%)\n",
			u.Attributed, u.TestIPs, 100*u.Share)
		for _, org := range sortedKeys(u.ByOrg) {
			fmt.Fprintf(&b, "  %-20s %d\n", org, u.ByOrg[org])
		}
	}
	if t := r.Truth; t != nil {
		fmt.Fprintf(&b, "\nhidden members of known orgs found: %d of %d (recall %.3f; %d given another org)\n",
			t.HiddenCorrect, t.HiddenMembers, t.HiddenRecall, t.HiddenWrongOrg)
		fmt.Fprintf(&b, "generic-tool IPs attributed to an org: %d of %d (over-attribution %.1f%%)\n",
			t.GenericAttributed, t.GenericIPs, 100*t.OverAttribution)
	}
	if r.NewIPs != nil {
		fmt.Fprintf(&b, "\nscanners never seen in training: weighted F1 %.3f, accuracy %.3f (%d scanners)\n",
			r.NewIPs.WeightedAvg.F1, r.NewIPs.Accuracy, r.NewIPs.WeightedAvg.Support)
	}
	if r.WithoutSmall != nil {
		fmt.Fprintf(&b, "without the orgs marked *: weighted F1 %.3f, accuracy %.3f (%d scanners)\n",
			r.WithoutSmall.WeightedAvg.F1, r.WithoutSmall.Accuracy, r.WithoutSmall.WeightedAvg.Support)
	}
	if len(r.Evidence) > 0 {
		b.WriteString("attributions by evidence:")
		for _, k := range sortedKeys(r.Evidence) {
			fmt.Fprintf(&b, " %s %d", k, r.Evidence[k])
		}
		b.WriteByte('\n')
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if len(r.TimingSeconds) > 0 {
		b.WriteString("\ntiming (s):")
		for _, k := range sortedKeys(r.TimingSeconds) {
			fmt.Fprintf(&b, " %s %.1f", k, r.TimingSeconds[k])
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
