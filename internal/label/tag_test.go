package label

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seededRand is a deterministic nonce source for tests.
type seededRand struct{ r *rand.ChaCha8 }

func newSeededRand(seed uint64) *seededRand {
	var s [32]byte
	s[0] = byte(seed)
	return &seededRand{rand.NewChaCha8(s)}
}

func (s *seededRand) Read(p []byte) (int, error) { return s.r.Read(p) }

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestTagRoundTrip(t *testing.T) {
	tg := NewTagger(testKey, "hp-eu-01").WithRand(newSeededRand(1))
	now := time.Date(2024, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
	tag := tg.Tag(now)
	if !strings.HasPrefix(tag, TagPrefix) {
		t.Fatalf("tag %q lacks prefix", tag)
	}
	for _, c := range tag[len(TagPrefix):] {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c) {
			t.Fatalf("tag %q is not URL-safe", tag)
		}
	}
	info, err := tg.Open(tag)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Time.Equal(now) || info.Sensor != "hp-eu-01" {
		t.Errorf("opened %+v", info)
	}
	// Another tagger with the same key (another sensor) opens it too.
	if _, err := NewTagger(testKey, "other").Open(tag); err != nil {
		t.Errorf("same key, other sensor: %v", err)
	}
	// Two tags at the same instant differ (random nonce) ...
	if tg.Tag(now) == tag {
		t.Error("two tags are equal")
	}
	// ... and the same seed reproduces them.
	if again := NewTagger(testKey, "hp-eu-01").WithRand(newSeededRand(1)).Tag(now); again != tag {
		t.Error("seeded tagger is not reproducible")
	}
	if got := FindTags("Set-Cookie: sid=" + tag + "; Path=/\r\nX: " + tag); len(got) != 1 || got[0] != tag {
		t.Errorf("FindTags: %v", got)
	}
}

func TestTagRejectsTamperedAndForeign(t *testing.T) {
	tg := NewTagger(testKey, "hp").WithRand(newSeededRand(2))
	tag := tg.Tag(time.Unix(1700000000, 0))
	raw, _ := base64.RawURLEncoding.DecodeString(tag[len(TagPrefix):])
	for i := range raw {
		flipped := append([]byte(nil), raw...)
		flipped[i] ^= 0x01
		bad := TagPrefix + base64.RawURLEncoding.EncodeToString(flipped)
		if _, err := tg.Open(bad); err == nil {
			t.Fatalf("tag with byte %d flipped was accepted", i)
		}
	}
	cases := map[string]string{
		"foreign key":  NewTagger([]byte("another key of 32 bytes........."), "hp").Tag(time.Now()),
		"truncated":    tag[:len(tag)-4],
		"extended":     tag + "AAAA",
		"no prefix":    tag[len(TagPrefix):],
		"other prefix": "sgt2_" + tag[len(TagPrefix):],
		"not base64":   TagPrefix + strings.Repeat("*", 60),
		"short":        TagPrefix + "AAAA",
		"huge":         TagPrefix + strings.Repeat("A", 10000),
	}
	for name, bad := range cases {
		if info, err := tg.Open(bad); err == nil {
			t.Errorf("%s: accepted as %+v", name, info)
		}
	}
}

func TestLoadTagKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hexKey := strings.Repeat("ab", 32)
	k, err := LoadTagKey(write("hex", hexKey+"\n"), nil)
	if err != nil || len(k) != 32 || k[0] != 0xab {
		t.Errorf("hex key: %x %v", k, err)
	}
	k, err = LoadTagKey("", func(string) string { return base64.StdEncoding.EncodeToString(testKey) })
	if err != nil || string(k) != string(testKey) {
		t.Errorf("env base64 key: %q %v", k, err)
	}
	if _, err := LoadTagKey(write("short", "abcd"), nil); err == nil {
		t.Error("2-byte key accepted")
	}
	if _, err := LoadTagKey("", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), TagKeyEnv) {
		t.Errorf("missing key: %v", err)
	}
}

func TestImportTags(t *testing.T) {
	ctx := context.Background()
	db, _ := openTestDB(t)
	tg := NewTagger(testKey, "hp-1").WithRand(newSeededRand(3))
	issued := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	scannerA := netip.MustParseAddr("162.142.125.10")
	scannerB := netip.MustParseAddr("2602:80d:1000::7")
	tagA, tagB := tg.Tag(issued), tg.Tag(issued.Add(time.Hour))
	unrecorded := tg.Tag(issued)
	if err := db.RecordTag(ctx, tagA, scannerA, "hp-1", issued); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordTag(ctx, tagB, scannerB, "hp-1", issued.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	foreign := NewTagger([]byte("someone else's key.............."), "x").Tag(issued)
	raw, _ := base64.RawURLEncoding.DecodeString(tagA[len(TagPrefix):])
	raw[20] ^= 0x80
	tampered := TagPrefix + base64.RawURLEncoding.EncodeToString(raw)

	banner := func(tag string) string {
		return "HTTP/1.1 200 OK\\r\\nSet-Cookie: session=" + tag + "; Path=/\\r\\nServer: nginx\\r\\n"
	}
	exports := map[string]string{
		"export.jsonl": fmt.Sprintf(`{"ip":"203.0.113.9","port":80,"data":"%s"}
{"ip":"203.0.113.9","port":8080,"http":{"headers":{"set_cookie":["session=%s"]}}}
{"ip":"203.0.113.9","data":"%s"}
{"ip":"203.0.113.9","data":"%s %s"}
`, banner(tagA), tagB, foreign, tampered, unrecorded),
		"export.json": fmt.Sprintf(`[{"ip_str":"203.0.113.9","data":"%s"},{"ip_str":"203.0.113.9","data":"%s"},
{"data":"%s"},{"data":"%s"},{"data":"%s"}]`, banner(tagA), banner(tagB), foreign, tampered, unrecorded),
		"export.csv": fmt.Sprintf("ip,port,banner\n203.0.113.9,80,\"%s\"\n203.0.113.9,81,%s\n203.0.113.9,82,%s\n203.0.113.9,83,%s\n203.0.113.9,84,\"a,b %s\"\n",
			strings.ReplaceAll(banner(tagA), `"`, `""`), tagB, foreign, tampered, unrecorded),
	}
	for name, content := range exports {
		t.Run(name, func(t *testing.T) {
			rep, err := db.ImportTags(ctx, strings.NewReader(content), name, "Censys", tg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != 5 && !(name == "export.jsonl" && rep.Records == 4) {
				t.Errorf("records %d", rep.Records)
			}
			if rep.Tags != 5 || rep.Valid != 3 || rep.Rejected != 2 || rep.Unrecorded != 1 || rep.Labels != 2 {
				t.Errorf("report %+v", rep)
			}
			if strings.Join(rep.Scanners, ",") != "162.142.125.10,2602:80d:1000::7" {
				t.Errorf("scanners %v", rep.Scanners)
			}
		})
	}
	ls, err := db.Labels(ctx, Query{Source: TagSource})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Org != "censys" || ls[0].ValidFrom != time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("tag labels %+v", ls)
	}
	if _, err := db.ImportTags(ctx, strings.NewReader("[{\"data\": 1}, {"), "broken.json", "censys", tg); err == nil {
		t.Error("truncated JSON accepted")
	}
	if _, err := db.ImportTags(ctx, strings.NewReader(""), "empty.json", "censys", tg); err == nil {
		t.Error("empty export accepted")
	}
}
