package ensemble

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

func readCSV(t *testing.T, elem ...string) []map[string]string {
	t.Helper()
	f, err := os.Open(sharedtest.Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// The artifact's SelfDeploy-24 test split: every first probe with its
// source IP, time and label, and, separately, the per-(ip, label) probe
// counts that form exactly the LR ensemble's test rows. Voting the probes
// (each predicted as its true model index) over the whole test period must
// give one row per IP with exactly the services the counts say, and the
// mode those counts imply. Driftnet's probes appear twice in this data,
// once as driftnet (25) and once as unattributed (26): equal counts, so the
// tie goes to 25, as pandas' mode()[0] does in the artifact.
func TestVoteRealSelfDeploy24TestSplit(t *testing.T) {
	index := map[string]int{}
	for _, r := range readCSV(t, "reference", "label_class_index.csv") {
		i, err := strconv.Atoi(r["model_index"])
		if err != nil {
			t.Fatal(err)
		}
		index[r["org_name"]] = i
	}
	var preds []ProbePred
	for _, r := range readCSV(t, "reference", "probes_meta_SelfDeploy24_test.csv") {
		ts, err := time.Parse(time.DateTime, r["timestamp_utc"])
		if err != nil {
			t.Fatal(err)
		}
		class, ok := index[r["label"]]
		if !ok {
			t.Fatalf("label %q not in the class index", r["label"])
		}
		preds = append(preds, ProbePred{IP: r["ip"], Service: r["service"], Time: ts, Class: class})
	}
	rows, err := VoteProbes(preds, WindowConfig{})
	if err != nil {
		t.Fatal(err)
	}

	// Expected votes from the count file: per (ip, service), the label with
	// the most probes, ties to the smaller model index.
	type best struct{ class, count int }
	want := map[string]map[string]best{}
	for _, r := range readCSV(t, "reference", "scanner_truth_SelfDeploy24_test.csv") {
		class := index[r["label"]]
		if want[r["ip"]] == nil {
			want[r["ip"]] = map[string]best{}
		}
		for _, svc := range []string{"http", "tls", "dns"} {
			n, err := strconv.Atoi(r["n_"+svc+"_probes"])
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				continue
			}
			cur, seen := want[r["ip"]][svc]
			if !seen || n > cur.count || (n == cur.count && class < cur.class) {
				want[r["ip"]][svc] = best{class, n}
			}
		}
	}
	if len(rows) != len(want) || len(rows) != 3491 {
		t.Fatalf("%d voted rows, count file has %d IPs (3491 expected)", len(rows), len(want))
	}
	ties := 0
	for _, r := range rows {
		w := want[r.IP]
		if len(r.Votes) != len(w) {
			t.Errorf("%s: services %v, want %v", r.IP, r.Votes, w)
			continue
		}
		for svc, b := range w {
			if r.Votes[svc] != b.class {
				t.Errorf("%s %s: vote %d, want %d", r.IP, svc, r.Votes[svc], b.class)
			}
			if b.class == index["driftnet"] {
				ties++
			}
		}
	}
	if ties == 0 {
		t.Error("no driftnet/unattributed ties exercised")
	}
}
