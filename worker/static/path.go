package static

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

// Path safety (reliability.md §5).
//
// The URL path handed to Serve is already percent-decoded. checkPath turns it
// into the cache key or refuses it:
//
//   - not starting with "/", containing NUL or a backslash → 400;
//   - a ".." segment anywhere → 404 (no lexical resolution: a path that needs
//     ".." is refused even when it would stay inside the root);
//   - with DenyDotfiles, any segment starting with "." → 404;
//   - empty ("//") and "." segments are removed (path.Clean); a trailing "/"
//     is kept because it selects index files.
//
// Every file system lookup is then relative to the root directory and
// refuses symlinks in every component (Fluxheim's rule): on Linux with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) on a descriptor of the
// os.Root, elsewhere (or when openat2 is unavailable) by Lstat-ing each
// component through the os.Root and checking that the opened handle is the
// file that was Lstat-ed. A refused symlink answers 404, like a missing file.

var (
	errBadPath   = errors.New("static: NUL, backslash or relative request path")
	errTraversal = errors.New("static: dot-dot segment in path")
	errDotfile   = errors.New("static: dotfile denied")
	errSymlink   = errors.New("static: symlink in path refused")
	errNotServed = errors.New("static: not a regular file or directory")
	errChanged   = errors.New("static: file changed while being read")
)

// checkPath validates a decoded URL path and returns its cache key.
func (h *Handler) checkPath(p string) (string, *httperr.Error) {
	if len(p) == 0 || p[0] != '/' {
		return "", httperr.Client(http.StatusBadRequest, errBadPath)
	}
	if len(p) > maxURLPathLen {
		return "", httperr.Client(http.StatusNotFound, syscall.ENAMETOOLONG)
	}
	if strings.IndexByte(p, 0) >= 0 || strings.IndexByte(p, '\\') >= 0 {
		return "", httperr.Client(http.StatusBadRequest, errBadPath)
	}
	if !strings.Contains(p, "/.") && !strings.Contains(p, "//") {
		return p, nil // fast path: no dot segment, no dotfile, nothing to clean
	}
	dirty := false
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[segStart:i]
		switch {
		case seg == "":
			if i < len(p) { // "//"; a trailing empty segment is the final "/"
				dirty = true
			}
		case seg == ".":
			dirty = true
		case seg == "..":
			return "", httperr.Client(http.StatusNotFound, errTraversal)
		case seg[0] == '.' && h.opts.DenyDotfiles:
			return "", httperr.Client(http.StatusNotFound, errDotfile)
		}
		segStart = i + 1
	}
	if !dirty {
		return p, nil
	}
	c := path.Clean(p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")) {
		c += "/"
	}
	return c, nil
}

// hasDotSegment reports whether a relative path has a segment starting with
// "." (used on derived paths: index files, sidecars).
func hasDotSegment(rel string) bool {
	if rel == "." {
		return false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '.' && (i == 0 || rel[i-1] == '/') {
			return true
		}
	}
	return false
}

// relOf returns the root-relative name for a cache key: no leading or
// trailing slash, "." for the root itself.
func relOf(key string) string {
	rel := strings.TrimSuffix(key[1:], "/")
	if rel == "" {
		return "."
	}
	return rel
}

// fileID is what the cache compares to decide whether a file changed.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64 // Unix nanoseconds
	ctime    int64 // Unix nanoseconds (0 where unavailable)
	typ      fileType
}

type fileType uint8

const (
	typeOther fileType = iota
	typeReg
	typeDir
)

// resolver opens paths below the root without following symlinks.
type resolver struct {
	root *os.Root
	// dir is root.Open("."): its descriptor anchors openat2. It is used
	// through rc.Control, which holds a reference, so a Close racing with a
	// lookup cannot make openat2 resolve against a recycled descriptor.
	dir     *os.File
	rc      syscall.RawConn
	openat2 bool // openat2 with RESOLVE_NO_SYMLINKS works here
}

func newResolver(root *os.Root) (*resolver, error) {
	dir, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	rc, err := dir.SyscallConn()
	if err != nil {
		dir.Close()
		return nil, err
	}
	rv := &resolver{root: root, dir: dir, rc: rc}
	rv.openat2 = openat2Works(rc)
	return rv, nil
}

func (rv *resolver) close() error {
	err := rv.dir.Close()
	if err2 := rv.root.Close(); err == nil {
		err = err2
	}
	return err
}

// open opens rel (relative, "." for the root) read-only, refusing symlinks
// in every component, and returns the file with its identity. Only regular
// files and directories are returned; anything else is errNotServed.
func (rv *resolver) open(rel string) (*os.File, fileID, error) {
	if rv.openat2 {
		return rv.openNoSymlinks(rel)
	}
	return rv.openWalk(rel)
}

// openWalk is the portable open: Lstat every component through the os.Root
// (which by itself never leaves the root), refuse symlinks, open, and check
// that the handle is the file that was Lstat-ed.
func (rv *resolver) openWalk(rel string) (*os.File, fileID, error) {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		fi, err := rv.root.Lstat(rel[:i])
		if err != nil {
			return nil, fileID{}, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fileID{}, errSymlink
		}
		if !fi.IsDir() {
			return nil, fileID{}, syscall.ENOTDIR
		}
	}
	lfi, err := rv.root.Lstat(rel)
	if err != nil {
		return nil, fileID{}, err
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		return nil, fileID{}, errSymlink
	}
	if !lfi.Mode().IsRegular() && !lfi.IsDir() {
		return nil, fileID{}, errNotServed
	}
	f, err := rv.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fileID{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileID{}, err
	}
	if !os.SameFile(lfi, fi) {
		f.Close()
		return nil, fileID{}, errSymlink // swapped between Lstat and open
	}
	id, err := statFile(f)
	if err != nil {
		f.Close()
		return nil, fileID{}, err
	}
	return f, id, nil
}

// errorFor maps a lookup error to the response status: missing, refused
// symlink, traversal or non-file → 404; permission → 403; anything else 500.
func errorFor(err error) *httperr.Error {
	switch {
	case errors.Is(err, fs.ErrNotExist),
		errors.Is(err, errSymlink), errors.Is(err, errNotServed),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, errTraversal), errors.Is(err, errDotfile):
		return httperr.Client(http.StatusNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return httperr.Client(http.StatusForbidden, err)
	default:
		// os.Root reports escapes with an unexported error; the message is
		// stable ("path escapes from parent").
		if err != nil && strings.Contains(err.Error(), "escapes") {
			return httperr.Client(http.StatusNotFound, err)
		}
		return httperr.New(http.StatusInternalServerError, httperr.SourceInternal, err)
	}
}

// notFound reports whether err means "no such servable file" (cacheable as
// a negative entry).
func notFound(err error) bool {
	return errorFor(err).Status == http.StatusNotFound
}
