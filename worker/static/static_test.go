package static

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

func TestNewValidation(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeTree(t, base, tree{"real/": "", "file": "x", "link": "->real", "ldir": "->.", "real/sub/": ""})
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"ok", Options{Root: real}, true},
		{"trailing slash cleaned", Options{Root: real + "/"}, true},
		{"empty", Options{}, false},
		{"relative", Options{Root: "real"}, false},
		{"missing", Options{Root: filepath.Join(base, "nope")}, false},
		{"file", Options{Root: filepath.Join(base, "file")}, false},
		{"symlink", Options{Root: filepath.Join(base, "link")}, false},
		{"below symlink", Options{Root: filepath.Join(base, "ldir", "real")}, false},
		{"nested index", Options{Root: real, IndexFiles: []string{"a/index.html"}}, false},
		{"dotdot index", Options{Root: real, IndexFiles: []string{".."}}, false},
		{"empty index", Options{Root: real, IndexFiles: []string{""}}, false},
		{"too many index", Options{Root: real, IndexFiles: make33()}, false},
		{"no index ok", Options{Root: real, IndexFiles: []string{}}, true},
		{"bad cache-control", Options{Root: real, CacheControl: "a\r\nb"}, false},
		{"bad expires", Options{Root: real, Expires: "tomorrow"}, false},
		{"good expires", Options{Root: real, Expires: "Thu, 01 Dec 2094 16:00:00 GMT"}, true},
		{"negative ranges", Options{Root: real, MaxRanges: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if h != nil {
				h.Close()
			}
		})
	}
}

func make33() []string {
	s := make([]string, 33)
	for i := range s {
		s[i] = "i" + string(rune('a'+i%26)) + ".html"
	}
	return s
}

func TestDefaults(t *testing.T) {
	h, _, _ := newHandler(t, Options{}, nil)
	o := h.opts
	if o.MaxRanges != 16 || o.SmallFileMax != 64<<10 || o.CacheEntries != 10000 || o.CacheBytes != 64<<20 ||
		len(o.IndexFiles) != 1 || o.IndexFiles[0] != "index.html" {
		t.Fatalf("defaults not applied: %+v", o)
	}
}

func TestMethods(t *testing.T) {
	h, _, _ := newHandler(t, Options{}, tree{"a.txt": "a"})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"} {
		w, err := serve(h, m, "/a.txt", nil)
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" || httperr.StatusOf(err) != 405 {
			t.Errorf("%s: %d Allow=%q err=%v", m, w.Code, w.Header().Get("Allow"), err)
		}
	}
}

func TestHeadersAndHEAD(t *testing.T) {
	content := strings.Repeat("<p>hello</p>\n", 100)
	for _, small := range []int64{1 << 20, -1} { // in memory, streamed
		h, root, _ := newHandler(t, Options{
			CacheControl: "public, max-age=60",
			Expires:      "Thu, 01 Dec 2094 16:00:00 GMT",
			SmallFileMax: small,
		}, tree{"page.html": content, "empty.txt": ""})
		fi, _ := os.Stat(filepath.Join(root, "page.html"))
		get, err := serve(h, "GET", "/page.html", nil)
		if err != nil || get.Code != 200 || get.Body.String() != content {
			t.Fatalf("GET: %d %v", get.Code, err)
		}
		want := map[string]string{
			"Content-Type":   "text/html; charset=utf-8",
			"Content-Length": "1300",
			"Last-Modified":  fi.ModTime().UTC().Format(http.TimeFormat),
			"Accept-Ranges":  "bytes",
			"Cache-Control":  "public, max-age=60",
			"Expires":        "Thu, 01 Dec 2094 16:00:00 GMT",
		}
		for k, v := range want {
			if got := get.Header().Get(k); got != v {
				t.Errorf("small=%d %s = %q, want %q", small, k, got, v)
			}
		}
		etag := get.Header().Get("ETag")
		if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || strings.HasPrefix(etag, "W/") {
			t.Errorf("ETag %q not a strong tag", etag)
		}
		if get.Header().Get("Vary") != "" {
			t.Errorf("Vary set without sidecars")
		}
		head, err := serve(h, "HEAD", "/page.html", nil)
		if err != nil || head.Code != 200 || head.Body.Len() != 0 {
			t.Fatalf("HEAD: %d %v body=%d", head.Code, err, head.Body.Len())
		}
		for k := range want {
			if head.Header().Get(k) != get.Header().Get(k) {
				t.Errorf("HEAD %s = %q, GET %q", k, head.Header().Get(k), get.Header().Get(k))
			}
		}
		if head.Header().Get("ETag") != etag {
			t.Errorf("HEAD ETag differs")
		}
		e, err := serve(h, "GET", "/empty.txt", nil)
		if err != nil || e.Code != 200 || e.Body.Len() != 0 || e.Header().Get("Content-Length") != "0" {
			t.Errorf("empty file: %d %v %q", e.Code, err, e.Header().Get("Content-Length"))
		}
	}
}

func TestETagChangesWithFile(t *testing.T) {
	h, root, clk := newHandler(t, Options{}, tree{"a.txt": "one"})
	w1, _ := serve(h, "GET", "/a.txt", nil)
	p := filepath.Join(root, "a.txt")
	os.WriteFile(p, []byte("two"), 0o644)
	os.Chtimes(p, time.Now(), time.Now().Add(time.Hour))
	clk.advance(2 * time.Second)
	w2, _ := serve(h, "GET", "/a.txt", nil)
	if w2.Body.String() != "two" || w1.Header().Get("ETag") == w2.Header().Get("ETag") {
		t.Fatalf("ETag did not change: %q %q body %q", w1.Header().Get("ETag"), w2.Header().Get("ETag"), w2.Body.String())
	}
}

func TestIndexAndRedirect(t *testing.T) {
	files := tree{
		"index.html":             "root index",
		"sub/index.htm":          "sub htm",
		"both/index.html":        "both html",
		"both/index.htm":         "both htm",
		"empty/":                 "",
		"evil.example/index.htm": "e",
		"linkidx/index.html":     "->../index.html",
		"linkidx/index.htm":      "real htm",
		"onlylink/index.html":    "->../index.html",
		"dotidx/.index.html":     "hidden",
		"dirindex/index.html/":   "",
	}
	h, _, _ := newHandler(t, Options{DenyDotfiles: true, IndexFiles: []string{"index.html", "index.htm", ".index.html"}}, files)
	for _, tc := range []struct {
		path     string
		status   int
		body     string
		location string
	}{
		{"/", 200, "root index", ""},
		{"/sub/", 200, "sub htm", ""},
		{"/both/", 200, "both html", ""},
		{"/sub", 308, "", "/sub/"},
		{"/sub?a=1&b=%20", 308, "", "/sub/?a=1&b=%20"},
		{"//evil.example", 308, "", "/evil.example/"},
		{"/empty", 404, "", ""},
		{"/empty/", 404, "", ""},
		{"/linkidx/", 200, "real htm", ""},
		{"/onlylink/", 404, "", ""},
		{"/dotidx/", 404, "", ""},
		{"/dirindex/", 404, "", ""},
	} {
		w, _ := serve(h, "GET", tc.path, nil)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, w.Code, tc.status)
			continue
		}
		if tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("%s: body %q", tc.path, w.Body.String())
		}
		if got := w.Header().Get("Location"); got != tc.location {
			t.Errorf("%s: Location %q, want %q", tc.path, got, tc.location)
		}
	}
	if w, _ := serve(h, "GET", "/sub/", nil); w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("index.htm content type %q", w.Header().Get("Content-Type"))
	}
	// The redirect uses the client's path, not the rewritten one.
	r := httptest.NewRequest("GET", "http://example.org/static/sub?x=1", nil)
	w := httptest.NewRecorder()
	if err := h.Serve(w, r, "/sub"); err != nil || w.Code != 308 || w.Header().Get("Location") != "/static/sub/?x=1" {
		t.Errorf("rewritten redirect: %v %d %q", err, w.Code, w.Header().Get("Location"))
	}
}

func TestExists(t *testing.T) {
	h, _, _ := newHandler(t, Options{DenyDotfiles: true}, tree{
		"a.txt": "a", "d/index.html": "i", "empty/": "", ".env": "x", "ln": "->a.txt",
	})
	for p, want := range map[string]bool{
		"/a.txt": true, "/d/": true, "/d": true, "/": false, "/empty/": false, "/empty": false,
		"/.env": false, "/ln": false, "/nope": false, "/../a.txt": false, "/a\\b": false,
	} {
		if got := h.Exists(p); got != want {
			t.Errorf("Exists(%q) = %v, want %v", p, got, want)
		}
	}
	hl, _, _ := newHandler(t, Options{DirectoryListing: true}, tree{"empty/": ""})
	if !hl.Exists("/empty/") || !hl.Exists("/empty") {
		t.Errorf("listing directories should exist")
	}
}

func TestCacheRevalidation(t *testing.T) {
	for _, small := range []int64{0, -1} {
		h, root, clk := newHandler(t, Options{SmallFileMax: small}, tree{"a.txt": "version-1"})
		p := filepath.Join(root, "a.txt")
		get := func() (int, string) {
			w, _ := serve(h, "GET", "/a.txt", nil)
			return w.Code, w.Body.String()
		}
		if c, b := get(); c != 200 || b != "version-1" {
			t.Fatalf("first: %d %q", c, b)
		}
		if err := os.WriteFile(p, []byte("version-2"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, time.Now(), time.Now().Add(time.Minute))
		c, b := get()
		if small == 0 && (c != 200 || b != "version-1") {
			t.Fatalf("cached small file should be served until the next check: %d %q", c, b)
		}
		if small < 0 && b != "version-2" { // large files compare identity on every open
			t.Fatalf("streamed file not refreshed: %q", b)
		}
		clk.advance(1100 * time.Millisecond)
		if c, b := get(); c != 200 || b != "version-2" {
			t.Fatalf("after revalidation: %d %q", c, b)
		}
		// Same size, same mtime restored, different content: ctime catches it.
		os.WriteFile(p, []byte("version-3"), 0o644)
		fi, _ := os.Stat(p)
		os.Chtimes(p, fi.ModTime(), fi.ModTime())
		clk.advance(1100 * time.Millisecond)
		if _, b := get(); b != "version-3" {
			t.Fatalf("ctime change missed: %q", b)
		}
		os.Remove(p)
		clk.advance(1100 * time.Millisecond)
		if c, _ := get(); c != 404 {
			t.Fatalf("deleted file: %d", c)
		}
		// Negative entries live one interval.
		os.WriteFile(p, []byte("back"), 0o644)
		if c, _ := get(); c != 404 {
			t.Fatalf("negative entry should be cached: %d", c)
		}
		clk.advance(1100 * time.Millisecond)
		if c, b := get(); c != 200 || b != "back" {
			t.Fatalf("negative entry not revalidated: %d %q", c, b)
		}
	}
}

func TestCacheRevalidationRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps")
	}
	h, root, _ := newHandler(t, Options{}, tree{"a.txt": "old"})
	h.now = func() int64 { return int64(time.Since(h.epoch)) }
	if w, _ := serve(h, "GET", "/a.txt", nil); w.Body.String() != "old" {
		t.Fatal(w.Body.String())
	}
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("new!"), 0o644)
	time.Sleep(1100 * time.Millisecond)
	if w, _ := serve(h, "GET", "/a.txt", nil); w.Body.String() != "new!" {
		t.Fatalf("got %q", w.Body.String())
	}
}

func TestCacheBounds(t *testing.T) {
	h, _, clk := newHandler(t, Options{CacheEntries: 50, CacheBytes: 64 << 10, SmallFileMax: 8 << 10}, nil)
	files := tree{}
	for i := 0; i < 40; i++ {
		files["f"+strconv.Itoa(i)] = strings.Repeat("x", 4<<10)
	}
	writeTree(t, h.opts.Root, files)
	for i := 0; i < 1000; i++ {
		serve(h, "GET", "/missing-"+strconv.Itoa(i), nil)
		if i < 40 {
			if w, _ := serve(h, "GET", "/f"+strconv.Itoa(i), nil); w.Code != 200 || w.Body.Len() != 4<<10 {
				t.Fatalf("f%d: %d", i, w.Code)
			}
		}
		clk.advance(time.Millisecond)
	}
	if n := h.cache.n.Load(); n > 51 {
		t.Errorf("entries %d exceed bound", n)
	}
	if b := h.cache.bytes.Load(); b > 64<<10+8<<10+entryOverhead*3 {
		t.Errorf("bytes %d exceed bound", b)
	}
	var n, bytes int64
	h.cache.m.Range(func(_, v any) bool {
		n++
		bytes += v.(*entry).cost
		return true
	})
	if n != h.cache.n.Load() || bytes != h.cache.bytes.Load() {
		t.Errorf("counters drifted: n %d/%d bytes %d/%d", n, h.cache.n.Load(), bytes, h.cache.bytes.Load())
	}
}

// TestLargeFileOverTCP serves a 5 MiB file through a real server (the
// sendfile path) and checks the bytes, a range and a HEAD.
func TestLargeFileOverTCP(t *testing.T) {
	data := make([]byte, 5<<20)
	rand.Read(data)
	h, root, _ := newHandler(t, Options{}, nil)
	if err := os.WriteFile(filepath.Join(root, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.Serve(w, r, r.URL.Path); err != nil {
			var he *httperr.Error
			if errors.As(err, &he) {
				httperr.Write(w, r, he.Status, he.Header)
				return
			}
			panic(http.ErrAbortHandler)
		}
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET: %d err=%v len=%d equal=%v", resp.StatusCode, err, len(got), bytes.Equal(got, data))
	}
	if resp.ContentLength != int64(len(data)) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("headers: %d %q", resp.ContentLength, resp.Header.Get("Content-Type"))
	}

	req, _ := http.NewRequest("GET", srv.URL+"/big.bin", nil)
	req.Header.Set("Range", "bytes=1000000-3999999")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || !bytes.Equal(got, data[1000000:4000000]) ||
		resp.Header.Get("Content-Range") != "bytes 1000000-3999999/5242880" {
		t.Fatalf("range: %d %q len=%d", resp.StatusCode, resp.Header.Get("Content-Range"), len(got))
	}

	resp, err = http.Head(srv.URL + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %d %d", resp.StatusCode, resp.ContentLength)
	}
}

// TestConcurrentServeAndChange exercises the cache under -race: readers,
// revalidation and file replacement at once.
func TestConcurrentServeAndChange(t *testing.T) {
	h, root, clk := newHandler(t, Options{Precompressed: true}, tree{
		"a.txt": "aaaa", "a.txt.gz": "gz", "b/index.html": "b", "big.bin": strings.Repeat("z", 100<<10),
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			paths := []string{"/a.txt", "/b/", "/b", "/big.bin", "/nope", "/a.txt.gz"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w, _ := serve(h, "GET", paths[(i+g)%len(paths)], map[string]string{"Accept-Encoding": "gzip"})
				if w.Code >= 500 {
					t.Errorf("status %d", w.Code)
					return
				}
				h.Exists(paths[i%len(paths)])
			}
		}(g)
	}
	for i := 0; i < 50; i++ {
		os.WriteFile(filepath.Join(root, "a.txt"), []byte(strings.Repeat("v", i%7+1)), 0o644)
		clk.advance(600 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

func TestServeAfterClose(t *testing.T) {
	h, _, _ := newHandler(t, Options{}, tree{"a.txt": "a", "b.txt": "b"})
	serve(h, "GET", "/a.txt", nil)
	h.Close()
	if w, _ := serve(h, "GET", "/b.txt", nil); w.Code != 500 {
		t.Errorf("uncached path after Close: %d", w.Code)
	}
}
