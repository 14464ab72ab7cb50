package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/capture"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
)

// DoneSuffix marks a capture as complete: a writer that creates NAME.done
// beside NAME says NAME will not change, and NAME is ingested at once.
const DoneSuffix = ".done"

// Watching capture files that appear in a folder. A file is complete, and
// ingested, when NAME.done exists beside it, or when its size and
// modification time did not change between two polls. Names starting with
// "." or ending in .part, .tmp or .done are never ingested, so a writer
// can also write under such a name and rename the file when done. A file
// already ingested is ingested again only if it changed (the store skips
// probes it holds). A file that is not a capture is recorded with its
// error and skipped until it changes.
type Watcher struct {
	dir  string
	seen map[string]FileMark // size and mtime at the previous poll
}

func ignoredName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp") ||
		strings.HasSuffix(name, DoneSuffix)
}

// complete lists the files of the folder that are complete and not yet
// ingested as they are now, in name order.
func (w *Watcher) complete(done map[string]FileMark) ([]string, map[string]FileMark, error) {
	var names []string
	now := map[string]FileMark{}
	err := filepath.WalkDir(w.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if d.IsDir() {
			if path != w.dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || ignoredName(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.dir, path)
		mark := FileMark{Size: info.Size(), ModTime: info.ModTime().UTC()}
		now[rel] = mark
		if prev, ok := done[rel]; ok && prev.Size == mark.Size && prev.ModTime.Equal(mark.ModTime) {
			return nil
		}
		_, doneErr := os.Stat(path + DoneSuffix)
		if prev, ok := w.seen[rel]; doneErr == nil || (ok && prev.Size == mark.Size && prev.ModTime.Equal(mark.ModTime) && mark.Size > 0) {
			names = append(names, rel)
		}
		return nil
	})
	w.seen = now
	slices.Sort(names)
	return names, now, err
}

// Poll ingests every complete capture file of dir not ingested yet and
// records each in the state once stored. It returns the probes newly
// stored.
func (c *Cycle) Poll(ctx context.Context, w *Watcher) (int64, error) {
	names, marks, err := w.complete(c.state.Files)
	if err != nil {
		return 0, err
	}
	var stored int64
	for _, name := range names {
		n, err := c.ingestFile(ctx, filepath.Join(w.dir, name), name, marks[name])
		stored += n
		if err != nil {
			return stored, err
		}
	}
	return stored, nil
}

// ingestFile ingests one capture file and records it under key. A file
// that is not a capture, or is damaged, is recorded with its error (what
// came before the damage is stored); a store failure is returned without
// a record, so the file is ingested again next time.
func (c *Cycle) ingestFile(ctx context.Context, path, key string, mark FileMark) (int64, error) {
	res, err := ingest.Run(ctx, c.cfg.Store, ingest.Capture, []string{path}, capture.Options{}, nil)
	mark.Stored = res.Stored
	if err != nil {
		var fe *capture.FileError
		if ctx.Err() != nil || !errors.As(err, &fe) {
			return res.Stored, err
		}
		mark.Error = err.Error()
		c.cfg.Log.Warn("capture file rejected", "file", key, "error", err.Error())
	} else {
		c.cfg.Log.Info("capture ingested", "file", key, "probes", res.Probes, "stored", res.Stored)
	}
	if c.cfg.OnIngest != nil {
		c.cfg.OnIngest(res)
	}
	c.state.Files[key] = mark
	return res.Stored, c.save()
}

// NewWatcher watches dir for capture files.
func NewWatcher(dir string) *Watcher { return &Watcher{dir: dir} }

// Clock is the time the cycle runs on: the wall clock, or a replay's
// accelerated or test clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real time.
type WallClock struct{}

func (WallClock) Now() time.Time { return time.Now() }

func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
