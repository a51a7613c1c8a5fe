package php

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// kind is what a path below the script root is.
type kind uint8

const (
	kindMissing kind = iota // does not exist (or a parent is not a directory)
	kindFile                // a regular file
	kindDir                 // a directory
	kindRefused             // a symlink on the way, an escape, a device, or no permission
)

// scriptRoot looks paths up below the PHP root without following any
// symlink (Fluxheim's rule, as worker/static): openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS on Linux 5.6+, else an Lstat walk
// through an os.Root.
type scriptRoot struct {
	root    *os.Root
	dir     *os.File
	rc      syscall.RawConn
	openat2 bool
}

func openScriptRoot(path string) (*scriptRoot, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	dir, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, err
	}
	rc, err := dir.SyscallConn()
	if err != nil {
		dir.Close()
		root.Close()
		return nil, err
	}
	s := &scriptRoot{root: root, dir: dir, rc: rc}
	s.openat2 = openat2Works(rc)
	return s, nil
}

func (s *scriptRoot) close() {
	s.dir.Close()
	s.root.Close()
}

// stat classifies urlPath (a cleaned, decoded path starting with "/").
func (s *scriptRoot) stat(urlPath string) kind {
	rel := relOf(urlPath)
	if s.openat2 {
		return s.statNoSymlinks(rel)
	}
	return s.statWalk(rel)
}

// statWalk is the portable lookup: Lstat every component through the
// os.Root (which never leaves the root) and refuse symlinks.
func (s *scriptRoot) statWalk(rel string) kind {
	for i := 0; i <= len(rel); i++ {
		if i < len(rel) && rel[i] != '/' {
			continue
		}
		fi, err := s.root.Lstat(rel[:i])
		if err != nil {
			return kindOfErr(err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return kindRefused
		case i == len(rel):
			return kindOfMode(fi.Mode())
		case !fi.IsDir():
			return kindMissing
		}
	}
	return kindMissing
}

func kindOfMode(m fs.FileMode) kind {
	switch {
	case m.IsRegular():
		return kindFile
	case m.IsDir():
		return kindDir
	}
	return kindRefused
}

func kindOfErr(err error) kind {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG) {
		return kindMissing
	}
	return kindRefused
}

// relOf turns "/a/b/" into "a/b" and "/" into ".".
func relOf(urlPath string) string {
	rel := urlPath[1:]
	for len(rel) > 0 && rel[len(rel)-1] == '/' {
		rel = rel[:len(rel)-1]
	}
	if rel == "" {
		return "."
	}
	return rel
}
