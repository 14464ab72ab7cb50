// Package atomicfile is the one way the system writes output files (models,
// checkpoints, layouts, manifests, lists, exports, reports, figures): a
// reader or a crash sees either the old content or the whole new content,
// never a partial file, because long-running jobs rewrite these in place.
// Files are readable by everyone (0644) like any other output, folders it
// creates are 0755, and content and rename are fsynced before Write returns.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of what Write creates. Output is shared with other users and tools
// (a web server publishing lists, a colleague loading a model), and the
// temporary file it starts from is private, so the mode is set explicitly.
const (
	FileMode fs.FileMode = 0o644
	DirMode  fs.FileMode = 0o755
)

// Write creates or replaces path with the bytes fill writes: into a
// temporary file in the same folder, flushed and fsynced, then renamed over
// path, and the folder fsynced. Missing parent folders are created. When
// fill or any step fails, path keeps its old content (or stays absent) and
// no temporary file is left behind.
func Write(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	created, err := MkdirAll(dir)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err = fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(FileMode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Persist the rename, and the entries of folders created above, from
	// the file's folder up to the first one that existed before.
	syncDir(dir)
	if created != "" {
		for d := dir; d != filepath.Dir(created); {
			d = filepath.Dir(d)
			syncDir(d)
		}
	}
	return nil
}

// WriteBytes writes b to path as Write does.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// MkdirAll creates dir and any missing parents with DirMode, whatever the
// umask (as Write sets FileMode), and returns the topmost folder it
// created ("" when dir existed).
func MkdirAll(dir string) (created string, err error) {
	for d := dir; ; {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		created = d
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if created == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if err := os.Chmod(d, DirMode); err != nil {
			return "", err
		}
		if d == created {
			return created, nil
		}
	}
}

// syncDir makes a folder's entries durable. Not every filesystem supports
// syncing a folder, and the file is complete either way, so failures are
// ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
