package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// clock steps by the given amount at every call.
func clock(step time.Duration) func() time.Time {
	t := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(step); return t }
}

func TestTerminalBarAndLines(t *testing.T) {
	var buf bytes.Buffer
	c := New(&buf, true, Logfmt)
	c.now = clock(time.Second)
	c.Progress("train http", 500, 2000, "loss 0.81")
	c.Logger().Info("iteration", "service", "http", "loss", 0.809, "note", "two words")
	c.Progress("train http", 2000, 2000, "loss 0.52")
	c.Logger().Info("trained")
	out := buf.String()
	bar := "train http [#######.......................] 500/2000  loss 0.81"
	for _, want := range []string{
		bar,
		// the record replaces the bar (erased with spaces), then the bar is redrawn
		"\r" + strings.Repeat(" ", len(bar)) + "\r",
		` iteration service=http loss=0.809 note="two words"` + "\n" + bar,
		// a finished task stays on screen as a plain line
		"train http [##############################] 2000/2000  loss 0.52\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	// After the finished bar, a record is not followed by a redrawn bar.
	if !strings.HasSuffix(out, " trained\n") {
		t.Errorf("output ends %q, want the last record alone", out[max(0, len(out)-40):])
	}
}

func TestTerminalRedrawIsThrottled(t *testing.T) {
	var buf bytes.Buffer
	c := New(&buf, true, Logfmt)
	c.now = clock(time.Millisecond)
	for i := int64(1); i < 1000; i++ {
		c.Progress("ingest", i, 0, "")
	}
	c.Done()
	// 999 updates 1 ms apart: one draw per 100 ms, plus the first.
	if n := strings.Count(buf.String(), "ingest "); n < 9 || n > 11 {
		t.Errorf("%d redraws for 999 updates over 1 s, want about 10", n)
	}
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Error("Done must end the bar's line")
	}
}

func TestStructuredRecordsOffTerminal(t *testing.T) {
	var text bytes.Buffer
	c := New(&text, false, Logfmt)
	c.Progress("train http", 10, 2000, "loss 1.2") // no bars in a log file
	c.Logger().Info("ensemble fitted", "rows", 1234, "theta", 0.25)
	line := text.String()
	if strings.Count(line, "\n") != 1 || !strings.Contains(line, `level=INFO msg="ensemble fitted" rows=1234 theta=0.25`) || !strings.HasPrefix(line, "time=") {
		t.Errorf("logfmt record = %q", line)
	}
	var js bytes.Buffer
	c = New(&js, false, JSON)
	c.Logger().Info("week trained", "week", "2024-02-08", "probes", 292)
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatalf("JSON record %q: %v", js.String(), err)
	}
	if rec["msg"] != "week trained" || rec["week"] != "2024-02-08" || rec["probes"] != 292.0 {
		t.Errorf("JSON record = %v", rec)
	}
}
