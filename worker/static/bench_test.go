package static

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchWriter is a minimal ResponseWriter: its header map is cleared, not
// reallocated, between requests so the benchmark measures the handler.
type benchWriter struct {
	h      http.Header
	n      int
	writes int
	status int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.writes++
	return len(p), nil
}
func (w *benchWriter) WriteHeader(code int) { w.status = code }

func benchServe(b *testing.B, o Options, files tree, target string, hdr http.Header, wantStatus int) {
	h, _, _ := newHandler(b, o, files)
	h.now = func() int64 { return 0 } // no revalidation inside the loop
	r := httptest.NewRequest("GET", "http://example.org"+target, nil)
	w := &benchWriter{h: make(http.Header, 16)}
	if err := h.Serve(w, r, target); err != nil { // fills the cache
		b.Fatal(err)
	}
	r.Header = hdr
	if v := hdr["If-None-Match"]; len(v) == 1 && v[0] == "ETAG" {
		hdr["If-None-Match"] = []string{w.h.Get("Etag")}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.writes, w.status = 0, 0
		if err := h.Serve(w, r, target); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if wantStatus == 200 && (w.writes != 1 || w.status != 0) {
		b.Fatalf("small file written with %d writes, status %d", w.writes, w.status)
	}
	if wantStatus != 200 && w.status != wantStatus {
		b.Fatalf("status %d, want %d", w.status, wantStatus)
	}
}

// BenchmarkServeSmallFile: a cached 1 KiB file, plain GET (the hot path
// DESIGN.md §7 is about). Must stay at 0 allocs/op and one Write.
func BenchmarkServeSmallFile(b *testing.B) {
	benchServe(b, Options{CacheControl: "public, max-age=60"},
		tree{"index.html": strings.Repeat("x", 1024)}, "/index.html", http.Header{}, 200)
}

// BenchmarkServeSmallFileBrowser: same with browser-like headers and a
// gzip sidecar present (Accept-Encoding parsing, Vary).
func BenchmarkServeSmallFileBrowser(b *testing.B) {
	benchServe(b, Options{CacheControl: "public, max-age=60", Precompressed: true, DenyDotfiles: true},
		tree{"css/site.css": strings.Repeat("x", 1024), "css/site.css.gz": "gz"}, "/css/site.css", http.Header{
			"Accept":          {"text/css,*/*;q=0.1"},
			"Accept-Encoding": {"gzip, deflate, br, zstd"},
			"Accept-Language": {"en-US,en;q=0.5"},
			"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		}, 200)
}

// BenchmarkServeIndex: "/" resolved to index.html from the cache.
func BenchmarkServeIndex(b *testing.B) {
	benchServe(b, Options{}, tree{"index.html": strings.Repeat("x", 1024)}, "/", http.Header{}, 200)
}

// BenchmarkServeNotModified: browser revalidation answered 304.
func BenchmarkServeNotModified(b *testing.B) {
	benchServe(b, Options{}, tree{"a.js": strings.Repeat("x", 1024)}, "/a.js", http.Header{"If-None-Match": {"ETAG"}}, 304)
}

// BenchmarkFileServerSmallFile is the baseline: net/http's FileServer on the
// same 1 KiB file.
func BenchmarkFileServerSmallFile(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, tree{"page.html": strings.Repeat("x", 1024)})
	fsrv := http.FileServer(http.Dir(dir))
	r := httptest.NewRequest("GET", "http://example.org/page.html", nil)
	w := &benchWriter{h: make(http.Header, 16)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		fsrv.ServeHTTP(w, r)
	}
}

// BenchmarkServeSmallFileParallel: the cache under concurrent readers.
func BenchmarkServeSmallFileParallel(b *testing.B) {
	h, _, _ := newHandler(b, Options{}, tree{"index.html": strings.Repeat("x", 1024)})
	h.now = func() int64 { return 0 }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "http://example.org/index.html", nil)
		w := &benchWriter{h: make(http.Header, 16)}
		for pb.Next() {
			clear(w.h)
			if err := h.Serve(w, r, "/index.html"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
