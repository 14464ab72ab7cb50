package analysis

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMarkdownCell: whatever a scanner puts in a header, the table cell stays one cell on one line.
func FuzzMarkdownCell(f *testing.F) {
	for _, s := range []string{"curl/7.88.1", "a|b", "x\r\ny", "<img src=x>", "\xff\xfe", "\\|", "`|`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := mdText(s, 60)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if strings.ContainsAny(got, "\n\r<>") {
			t.Fatalf("line break or tag bracket survives in %q", got)
		}
		// Every pipe must be escaped by an odd run of backslashes.
		for i := 0; i < len(got); i++ {
			if got[i] != '|' {
				continue
			}
			n := 0
			for j := i - 1; j >= 0 && got[j] == '\\'; j-- {
				n++
			}
			if n%2 == 0 {
				t.Fatalf("unescaped pipe in %q (from %q)", got, s)
			}
		}
		if utf8.RuneCountInString(got) > 60*12+1 {
			t.Fatalf("cell of %d runes", utf8.RuneCountInString(got))
		}
	})
}
