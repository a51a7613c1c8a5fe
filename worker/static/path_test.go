package static

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestCheckPath(t *testing.T) {
	h := &Handler{opts: Options{DenyDotfiles: true}}
	for _, tc := range []struct {
		in     string
		key    string
		status int
	}{
		{in: "/", key: "/"},
		{in: "/a/b.html", key: "/a/b.html"},
		{in: "/a/", key: "/a/"},
		{in: "//etc/passwd", key: "/etc/passwd"},
		{in: "/a//b/", key: "/a/b/"},
		{in: "/./a", key: "/a"},
		{in: "/a/.", key: "/a/"},
		{in: "/a/./", key: "/a/"},
		{in: "/a.b/c..d/e...", key: "/a.b/c..d/e..."},
		{in: "", status: 400},
		{in: "a", status: 400},
		{in: "/a\x00b", status: 400},
		{in: "/a\\b", status: 400},
		{in: "/..", status: 404},
		{in: "/../etc/passwd", status: 404},
		{in: "/a/../../x", status: 404},
		{in: "/a/../b", status: 404},
		{in: "/a/..", status: 404},
		{in: "/.git/config", status: 404},
		{in: "/.env", status: 404},
		{in: "/a/.well-known/x", status: 404},
		{in: "/" + strings.Repeat("a", maxURLPathLen), status: 404},
	} {
		name := tc.in
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		t.Run(name, func(t *testing.T) {
			key, err := h.checkPath(tc.in)
			if tc.status != 0 {
				if err == nil || err.Status != tc.status {
					t.Fatalf("checkPath(%q) = %q, %v; want status %d", tc.in, key, err, tc.status)
				}
				return
			}
			if err != nil || key != tc.key {
				t.Fatalf("checkPath(%q) = %q, %v; want %q", tc.in, key, err, tc.key)
			}
		})
	}
	h.opts.DenyDotfiles = false
	if key, err := h.checkPath("/.well-known/x"); err != nil || key != "/.well-known/x" {
		t.Fatalf("dotfiles allowed: got %q, %v", key, err)
	}
	if _, err := h.checkPath("/../x"); err == nil {
		t.Fatal("traversal allowed with DenyDotfiles off")
	}
}

var safetyTree = tree{
	"index.html":         "home",
	"etc/passwd":         "root-local",
	"sub/x.txt":          "x",
	"evil.example/":      "",
	".env":               "TOKEN=1",
	".git/config":        "[core]",
	"link-out":           "->../secret.txt",
	"link-in":            "->index.html",
	"linkdir":            "->sub",
	"linkdir-out":        "->..",
	"abs-out":            "->/etc/passwd",
	"%2e%2e/secret.txt":  "literal-percent", // a file really named %2e%2e
	"dir-with-link/":     "",
	"dir-with-link/file": "->../index.html",
}

func TestPathSafety(t *testing.T) {
	resolvers(t, func(t *testing.T, walk bool) {
		h, _, _ := newHandler(t, Options{DenyDotfiles: true}, safetyTree)
		forceWalk(h, walk)
		for _, tc := range []struct {
			name   string
			path   string // as handed to Serve (decoded)
			status int
			body   string
		}{
			{"root", "/", 200, "home"},
			{"dotdot", "/../secret.txt", 404, ""},
			{"decoded %2e%2e", "/../secret.txt", 404, ""},
			{"undecoded %2e%2e is a literal name", "/%2e%2e/secret.txt", 200, "literal-percent"},
			{"decoded ..%2f", "/..//secret.txt", 404, ""},
			{"nested escape", "/a/../../secret.txt", 404, ""},
			{"inner dotdot", "/sub/../index.html", 404, ""},
			{"NUL", "/index.html\x00.txt", 400, ""},
			{"backslash", "/..\\secret.txt", 400, ""},
			{"decoded %5c..%5c", "/\\..\\secret.txt", 400, ""},
			{"double slash stays in root", "//etc/passwd", 200, "root-local"},
			{"dot segment", "/./index.html", 200, "home"},
			{"git config", "/.git/config", 404, ""},
			{"env", "/.env", 404, ""},
			{"symlink out of root", "/link-out", 404, ""},
			{"absolute symlink", "/abs-out", 404, ""},
			{"symlink within root", "/link-in", 404, ""},
			{"symlinked dir component", "/linkdir/x.txt", 404, ""},
			{"symlinked dir escaping", "/linkdir-out/secret.txt", 404, ""},
			{"symlink leaf in dir", "/dir-with-link/file", 404, ""},
			{"file with slash", "/index.html/", 404, ""},
			{"file as dir", "/index.html/x", 404, ""},
			{"relative", "index.html", 400, ""},
			{"missing", "/nope", 404, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w, _ := rawServe(h, "GET", tc.path, nil)
				if w.Code != tc.status {
					t.Fatalf("%q: status %d, want %d", tc.path, w.Code, tc.status)
				}
				if tc.body != "" && w.Body.String() != tc.body {
					t.Fatalf("%q: body %q, want %q", tc.path, w.Body.String(), tc.body)
				}
				if strings.Contains(w.Body.String(), "SECRET") || strings.Contains(w.Body.String(), "root:") {
					t.Fatalf("%q leaked content outside the root", tc.path)
				}
			})
		}
	})
}

func TestDotfilesAllowed(t *testing.T) {
	h, _, _ := newHandler(t, Options{DenyDotfiles: false}, tree{".well-known/acme": "tok", ".env": "E"})
	for p, want := range map[string]string{"/.well-known/acme": "tok", "/.env": "E"} {
		if w, _ := serve(h, "GET", p, nil); w.Code != 200 || w.Body.String() != want {
			t.Errorf("%s: %d %q", p, w.Code, w.Body.String())
		}
	}
}

func TestErrorFor(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fs.ErrNotExist, 404},
		{&fs.PathError{Op: "openat2", Path: "x", Err: syscall.ENOENT}, 404},
		{&fs.PathError{Op: "openat2", Path: "x", Err: errSymlink}, 404},
		{syscall.ENOTDIR, 404},
		{syscall.EXDEV, 404},
		{syscall.ENAMETOOLONG, 404},
		{errNotServed, 404},
		{&fs.PathError{Op: "openat2", Path: "x", Err: syscall.EACCES}, 403},
		{syscall.EPERM, 403},
		{syscall.EIO, 500},
		{errors.New("boom"), 500},
	} {
		if got := errorFor(tc.err).Status; got != tc.status {
			t.Errorf("errorFor(%v) = %d, want %d", tc.err, got, tc.status)
		}
	}
}

func TestHasDotSegment(t *testing.T) {
	for in, want := range map[string]bool{
		".":          false,
		"a/b.gz":     false,
		".env.gz":    true,
		"a/.git/x":   true,
		"a.b/c":      false,
		"a/b/.c.br":  true,
		"index.html": false,
	} {
		if got := hasDotSegment(in); got != want {
			t.Errorf("hasDotSegment(%q) = %v", in, got)
		}
	}
}

func TestPermissionDenied(t *testing.T) {
	if syscall.Geteuid() == 0 {
		t.Skip("root bypasses file permissions")
	}
	h, root, _ := newHandler(t, Options{}, tree{"locked.txt": "x", "lockdir/f": "y"})
	if err := os.Chmod(root+"/locked.txt", 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root+"/lockdir", 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(root+"/lockdir", 0o755) })
	for _, p := range []string{"/locked.txt", "/lockdir/f"} {
		if w, _ := serve(h, "GET", p, nil); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", p, w.Code)
		}
	}
}
