package static

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

// tree describes test files: a value ending in "/" as key makes a
// directory; "->target" as value makes a symlink.
type tree map[string]string

func writeTree(t testing.TB, dir string, files tree) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeClock drives revalidation in tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// newHandler makes a root "<tmp>/root" holding files (the parent holds
// "secret.txt", outside the root) and a Handler with a fake clock.
func newHandler(t testing.TB, o Options, files tree) (*Handler, string, *fakeClock) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, files)
	o.Root = root
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	clk := &fakeClock{}
	clk.ns.Store(int64(time.Hour))
	h.now = clk.now
	return h, root, clk
}

// serve runs Serve like the pipeline does: errors are rendered with
// httperr.Write. It returns the recorder and Serve's error.
func serve(h *Handler, method, target string, hdr map[string]string) (*httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(method, "http://example.org/", nil)
	path, query, _ := strings.Cut(target, "?")
	r.URL.Path = path
	r.URL.RawPath = ""
	r.URL.RawQuery = query
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	err := h.Serve(w, r, path)
	var he *httperr.Error
	if errors.As(err, &he) {
		httperr.Write(w, r, he.Status, he.Header)
	}
	return w, err
}

// rawServe calls Serve with a urlPath that differs from r.URL (tests for
// strings url.URL cannot hold).
func rawServe(h *Handler, method, urlPath string, hdr map[string]string) (*httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(method, "http://example.org/", nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	err := h.Serve(w, r, urlPath)
	var he *httperr.Error
	if errors.As(err, &he) {
		httperr.Write(w, r, he.Status, he.Header)
	}
	return w, err
}

// resolvers runs f once with openat2 (when the kernel has it) and once with
// the portable Lstat walk.
func resolvers(t *testing.T, f func(t *testing.T, walk bool)) {
	t.Run("openat2", func(t *testing.T) {
		if !openat2Probe(t) {
			t.Skip("openat2 unavailable")
		}
		f(t, false)
	})
	t.Run("walk", func(t *testing.T) { f(t, true) })
}

func openat2Probe(t *testing.T) bool {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	rv, err := newResolver(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rv.dir.Close()
	return rv.openat2
}

func forceWalk(h *Handler, walk bool) {
	if walk {
		h.rv.openat2 = false
	}
}
