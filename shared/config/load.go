package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Bounds on config sources (Fluxheim's).
const (
	// MaxFileBytes is the largest config file read.
	MaxFileBytes = 1 << 20
	// MaxFiles is the most TOML files a config (directory plus conf.d) holds.
	MaxFiles = 256
)

// source is one config file read into memory.
type source struct {
	path string // absolute
	data []byte
}

// readSources returns the files of the config at path, in load order:
// a single file (plus its sibling conf.d/ when it sets include_conf_d), or
// every visible *.toml of a directory and then of its conf.d/.
func readSources(path string) ([]source, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := checkNoSymlinkAncestors(abs); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPathErr(err))
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("config %s: is a symlink; point -c at the real file", path)
	}
	if fi.IsDir() {
		if err := checkSafeDir(abs); err != nil {
			return nil, err
		}
		srcs, err := readDir(abs)
		if err != nil {
			return nil, err
		}
		more, err := readConfD(filepath.Join(abs, "conf.d"), len(srcs))
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
		if len(srcs) == 0 {
			return nil, fmt.Errorf("config directory %s: holds no visible *.toml file", path)
		}
		return srcs, nil
	}
	if err := checkSafeDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	data, err := readBounded(abs)
	if err != nil {
		return nil, err
	}
	srcs := []source{{path: abs, data: data}}
	if wantsConfD(data) {
		more, err := readConfD(filepath.Join(filepath.Dir(abs), "conf.d"), 1)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
	}
	return srcs, nil
}

// wantsConfD reports whether a main file sets include_conf_d = true. A
// syntax error is reported later by the decoder.
func wantsConfD(data []byte) bool {
	var top struct {
		IncludeConfD bool `toml:"include_conf_d"`
	}
	return decodeLoose(data, &top) == nil && top.IncludeConfD
}

// readConfD reads a conf.d directory; a missing one is fine, a symlinked
// or non-directory one is an error.
func readConfD(dir string, have int) ([]source, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", dir, unwrapPathErr(err))
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return nil, fmt.Errorf("config %s: conf.d must be a real directory (not a symlink or file)", dir)
	}
	if err := checkSafeDir(dir); err != nil {
		return nil, err
	}
	srcs, err := readDirLimit(dir, MaxFiles-have)
	return srcs, err
}

func readDir(dir string) ([]source, error) { return readDirLimit(dir, MaxFiles) }

// readDirLimit reads the visible *.toml regular files of dir in lexical
// order. Symlinked entries are ignored (Fluxheim's rule).
func readDirLimit(dir string, limit int) ([]source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", dir, unwrapPathErr(err))
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".toml") || !e.Type().IsRegular() {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > limit {
		return nil, fmt.Errorf("config %s: %d TOML files exceed the limit of %d per config", dir, len(names), MaxFiles)
	}
	srcs := make([]source, 0, len(names))
	for _, n := range names {
		p := filepath.Join(dir, n)
		data, err := readBounded(p)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{path: p, data: data})
	}
	return srcs, nil
}

// readBounded reads a config file without following a symlink, refusing
// files over MaxFileBytes, unsafe permissions and files that change while
// being read.
func readBounded(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("config %s: is a symlink", path)
		}
		return nil, fmt.Errorf("config %s: %w", path, unwrapPathErr(err))
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("config %s: not a regular file", path)
	}
	if err := checkOwnerMode(path, before); err != nil {
		return nil, err
	}
	if before.Size() > MaxFileBytes {
		return nil, fmt.Errorf("config %s: %d bytes exceed the %d-byte limit per file", path, before.Size(), MaxFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config %s: exceeds the %d-byte limit per file", path, MaxFileBytes)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || int64(len(data)) != after.Size() {
		return nil, fmt.Errorf("config %s: changed while being read; try again", path)
	}
	return bytes.Clone(data), nil
}

// checkOwnerMode refuses config files and directories that others could
// write: owner must be root or the current user, and no group/world write
// bit.
func checkOwnerMode(path string, fi os.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("config %s: is group- or world-writable (mode %04o); chmod go-w it", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("config %s: owned by uid %d, want root or uid %d", path, st.Uid, os.Geteuid())
		}
	}
	return nil
}

// checkSafeDir applies checkOwnerMode to a config directory, and refuses
// group/world-writable ancestors unless they have the sticky bit (as /tmp
// does: others cannot replace entries they do not own there).
func checkSafeDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("config %s: %w", dir, unwrapPathErr(err))
	}
	if err := checkOwnerMode(dir, fi); err != nil {
		return err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
			return fmt.Errorf("config %s: ancestor %s is group- or world-writable without the sticky bit", dir, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// checkNoSymlinkAncestors refuses a config below a symlinked directory.
func checkNoSymlinkAncestors(abs string) error {
	dir := filepath.Dir(abs)
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("config %s: %w", abs, unwrapPathErr(err))
	}
	if real != dir {
		return fmt.Errorf("config %s: lies below a symlinked directory (%s resolves to %s)", abs, dir, real)
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
