// Package console is what a command shows while it works. On a terminal an
// analyst reads short timestamped lines and a progress bar redrawn in place;
// anywhere else (a pipe, a file, a service manager) the same events are
// structured log records, logfmt or JSON, that a log collector can parse.
package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Console writes a command's log records and progress to one writer
// (stderr); it is safe for concurrent use.
type Console struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
	// bar is the progress line currently drawn on the terminal ("" none).
	bar      string
	barTask  string
	lastDraw time.Time
	logger   *slog.Logger
	now      func() time.Time
}

// Format selects the record format off a terminal.
type Format int

const (
	// Logfmt records: time=… level=INFO msg=… key=value.
	Logfmt Format = iota
	// JSON records, one object per line.
	JSON
)

// New returns a console writing to w: human lines and progress bars when tty
// is true, structured records in format otherwise.
func New(w io.Writer, tty bool, format Format) *Console {
	c := &Console{w: w, tty: tty, now: time.Now}
	switch {
	case tty:
		c.logger = slog.New(&ttyHandler{c: c})
	case format == JSON:
		c.logger = slog.New(slog.NewJSONHandler(w, nil))
	default:
		c.logger = slog.New(slog.NewTextHandler(w, nil))
	}
	return c
}

// Terminal reports whether the console draws for a person.
func (c *Console) Terminal() bool { return c.tty }

// Logger is where the command's components log.
func (c *Console) Logger() *slog.Logger { return c.logger }

// redrawEvery bounds how often a bar is redrawn: often enough to look
// alive, rarely enough to cost nothing next to the work it reports.
const redrawEvery = 100 * time.Millisecond

// barWidth is the number of cells of a bar.
const barWidth = 30

// Progress reports that done of total units of task are complete (total ≤ 0:
// unknown, a counter is shown). On a terminal it redraws the task's bar; off
// a terminal it does nothing, since components log their milestones as
// records of their own. detail is shown after the bar.
func (c *Console) Progress(task string, done, total int64, detail string) {
	if !c.tty {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	finished := total > 0 && done >= total
	now := c.now()
	if task == c.barTask && !finished && now.Sub(c.lastDraw) < redrawEvery {
		return
	}
	c.lastDraw, c.barTask = now, task
	line := task + " "
	if total > 0 {
		filled := int(min(done, total) * barWidth / total)
		line += fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total)
	} else {
		line += fmt.Sprintf("%d", done)
	}
	if detail != "" {
		line += "  " + detail
	}
	c.clearLocked()
	if finished {
		// A finished task leaves its last state on screen as a plain line.
		fmt.Fprintln(c.w, line)
		c.barTask = ""
		return
	}
	fmt.Fprint(c.w, line)
	c.bar = line
}

// Done ends a task's bar, leaving the line on screen.
func (c *Console) Done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		fmt.Fprintln(c.w)
		c.bar, c.barTask = "", ""
	}
}

// clearLocked erases the bar line so that a record can take its place.
func (c *Console) clearLocked() {
	if c.bar != "" {
		fmt.Fprintf(c.w, "\r%s\r", strings.Repeat(" ", len(c.bar)))
		c.bar = ""
	}
}

// ttyHandler prints "15:04:05 message key=value …" above the bar and then
// redraws the bar.
type ttyHandler struct {
	c     *Console
	attrs []slog.Attr
}

func (h *ttyHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *ttyHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.Format("15:04:05"))
	if r.Level > slog.LevelInfo {
		b.WriteString(" " + r.Level.String())
	}
	b.WriteString(" " + r.Message)
	add := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	bar := c.bar
	c.clearLocked()
	_, err := fmt.Fprintln(c.w, b.String())
	if bar != "" {
		fmt.Fprint(c.w, bar)
		c.bar = bar
	}
	return err
}

func (h *ttyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ttyHandler{c: h.c, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup is not used by the project's components; groups flatten.
func (h *ttyHandler) WithGroup(string) slog.Handler { return h }
