package feature

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/sharedtest"
)

// refPattern is one row of http_image_patterns_SelfDeploy24_test_first1415.csv:
// a distinct (org, image) of the artifact's SD24 HTTP test split.
type refPattern struct {
	id, org string
	probes  int
	pixels  []uint8 // the artifact's 324 pixels (18×18)
	fields  probe.Fields
}

// Artifact offsets (reference-impl §2.4): Accept 0–16, Accept-Encoding
// 17–25, Connection 26–35, Url 36–45, User-Agent 46–313, Version 314–323.
const (
	refAcceptNA   = 0
	refEncodingNA = 17
	refUANA       = 46
)

// refFields decodes the artifact's pixels back into field values. String
// fields are exact (their bytes are the pixels). Option pixels only say
// "value number k of the block", so each lit pixel becomes a value named by
// its pixel: the Accept/Accept-Encoding pixels 0 and 17 are the missing
// header (N/A, per §2.4); the UA's pixel 46 alone is the missing UA of the
// UA-less censys/binaryedge probes. Where pixel 46 shows up together with
// other UA pixels (internet_census) the artifact's UA rule is unknown, so
// it becomes one more product token: that keeps the groupings, which is
// what the data can decide.
func refFields(px []uint8) probe.Fields {
	fs := probe.Fields{f("Method", "GET")}
	str := func(name string, off int) {
		b := bytes.TrimRight(px[off:off+10], "\x00")
		if len(b) > 0 {
			fs = append(fs, f(name, string(b)))
		}
	}
	str("Url", 36)
	str("Version", 314)
	str("Connection", 26)
	block := func(lo, hi int) []int {
		var on []int
		for i := lo; i <= hi; i++ {
			if px[i] == 255 {
				on = append(on, i)
			}
		}
		return on
	}
	if on := block(0, 16); len(on) != 1 || on[0] != refAcceptNA {
		fs = append(fs, f("Accept", fmt.Sprintf("type/px%d", on[0])))
	}
	if on := block(17, 25); len(on) != 1 || on[0] != refEncodingNA {
		fs = append(fs, f("Accept-Encoding", fmt.Sprintf("coding-px%d", on[0])))
	}
	if on := block(46, 313); !(len(on) == 1 && on[0] == refUANA) {
		var toks []string
		for _, p := range on {
			toks = append(toks, fmt.Sprintf("Product%d/1.0 (px %d)", p, p))
		}
		fs = append(fs, f("User-Agent", strings.Join(toks, " ")))
	}
	fs = append(fs, f("Host", "203.0.113.9")) // present in every real probe; not a selected field
	return fs
}

func readRefPatterns(t *testing.T) []refPattern {
	t.Helper()
	file, err := os.Open(sharedtest.Path(t, "reference", "http_image_patterns_SelfDeploy24_test_first1415.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	recs, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var out []refPattern
	for _, r := range recs[1:] {
		n, err := strconv.Atoi(r[col["n_probes"]])
		if err != nil {
			t.Fatal(err)
		}
		var px []uint8
		for _, s := range strings.Fields(r[col["pixels_324_rowmajor"]]) {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			px = append(px, uint8(v))
		}
		if len(px) != 324 {
			t.Fatalf("pattern %s has %d pixels", r[0], len(px))
		}
		out = append(out, refPattern{id: r[col["pattern_id"]], org: r[col["label"]], probes: n, pixels: px, fields: refFields(px)})
	}
	return out
}

// TestReferenceHTTPImages rebuilds the 1,415 real SD24 HTTP test probes from
// their decoded field values, encodes them with a layout built from them,
// and checks the artifact's grouping: the same number of distinct images
// and the same probes sharing an image. The exact pixel positions of option
// values cannot be reproduced (the artifact's vocabulary came from the
// unpublished training split), but the bytes of the string fields can.
func TestReferenceHTTPImages(t *testing.T) {
	pats := readRefPatterns(t)
	if len(pats) != 13 {
		t.Fatalf("%d patterns, want 13", len(pats))
	}
	var ps []probe.Probe
	var patOf []int
	total := 0
	for pi, p := range pats {
		for k := range p.probes {
			ps = append(ps, mkProbe("http", k, p.fields...))
			patOf = append(patOf, pi)
		}
		total += p.probes
	}
	if total != 1415 {
		t.Fatalf("%d probes, want 1415", total)
	}
	for _, minCount := range []int{1, DefaultMinCount} {
		t.Run(fmt.Sprintf("min_count=%d", minCount), func(t *testing.T) {
			l, err := BuildLayout(ServiceHTTP, ps, LayoutConfig{Fields: httpFixtureFields, MinCount: minCount})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(l.FieldNames(), ","); got != "Accept,Accept-Encoding,Connection,Url,User-Agent,Version" {
				t.Errorf("field order %s differs from the artifact's", got)
			}
			images := l.EncodeAll(ps)
			unique, counts, index := Dedup(images)
			refUnique, _, refIndex := Dedup(func() [][]uint8 {
				rows := make([][]uint8, len(ps))
				for i := range ps {
					rows[i] = pats[patOf[i]].pixels
				}
				return rows
			}())
			if len(unique) != len(refUnique) || len(unique) != 11 {
				t.Errorf("%d distinct images, the artifact has %d (11)", len(unique), len(refUnique))
			}
			// Same partition: two probes share our image iff they share the artifact's.
			ourOf, refOf := map[int]int{}, map[int]int{}
			for i := range ps {
				if u, ok := ourOf[refIndex[i]]; ok && u != index[i] {
					t.Fatalf("probe %d (pattern %s) is split from its artifact group", i, pats[patOf[i]].id)
				}
				if r, ok := refOf[index[i]]; ok && r != refIndex[i] {
					t.Fatalf("probe %d (pattern %s) is merged with another artifact group", i, pats[patOf[i]].id)
				}
				ourOf[refIndex[i]], refOf[index[i]] = index[i], refIndex[i]
			}
			sum := 0
			for _, c := range counts {
				sum += c
			}
			if sum != 1415 {
				t.Errorf("dedup counts sum to %d", sum)
			}
			// String fields decode to the artifact's bytes.
			for i := range ps {
				ref := pats[patOf[i]].pixels
				for _, fl := range l.Fields {
					artOff := map[string]int{"Connection": 26, "Url": 36, "Version": 314}[fl.Name]
					if fl.Kind != probe.KindString {
						continue
					}
					if !bytes.Equal(images[i][fl.Offset:fl.Offset+10], ref[artOff:artOff+10]) {
						t.Fatalf("probe %d: %s pixels %v, artifact %v", i, fl.Name, images[i][fl.Offset:fl.Offset+10], ref[artOff:artOff+10])
					}
				}
				// Like the artifact, exactly one Accept and one Accept-Encoding pixel is lit.
				for _, name := range []string{"Accept", "Accept-Encoding"} {
					fl := l.Fields[l.fieldIndex[name]]
					lit := 0
					for _, o := range fl.Options {
						if images[i][o.Pixel] == On {
							lit++
						}
					}
					if lit != 1 {
						t.Fatalf("probe %d: %d %s pixels lit, the artifact lights exactly 1", i, lit, name)
					}
				}
			}
		})
	}
}
