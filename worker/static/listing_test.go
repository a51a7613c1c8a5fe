package static

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestListing(t *testing.T) {
	files := tree{
		"d/a&b.txt":            "12345",
		"d/<script>x.html":     "x",
		"d/a:b":                "scheme-looking",
		"d/sp ace.txt":         "s",
		"d/big.bin":            strings.Repeat("b", 1536),
		"d/.hidden":            "h",
		"d/zdir/":              "",
		"d/ln":                 "->a&b.txt",
		"d/lndir":              "->zdir",
		"withindex/index.html": "idx",
		"withindex/other.txt":  "o",
	}
	h, root, _ := newHandler(t, Options{DirectoryListing: true, DenyDotfiles: true, CacheControl: "public, max-age=60"}, files)
	mt := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "d", "a&b.txt"), mt, mt)

	w, err := serve(h, "GET", "/d/", nil)
	if err != nil || w.Code != 200 {
		t.Fatalf("listing: %d %v", w.Code, err)
	}
	body := w.Body.String()
	for k, v := range map[string]string{
		"Content-Type":  "text/html; charset=utf-8",
		"Cache-Control": "private, no-store",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q", k, got)
		}
	}
	if w.Header().Get("ETag") != "" || w.Header().Get("Content-Length") == "" {
		t.Errorf("listing headers: %v", w.Header())
	}
	for _, want := range []string{
		`<a href="./a&amp;b.txt">a&amp;b.txt</a>`,
		`<a href="./%3Cscript%3Ex.html">&lt;script&gt;x.html</a>`,
		`<a href="./a:b">a:b</a>`,
		`<a href="./sp%20ace.txt">sp ace.txt</a>`,
		`<a href="./zdir/">zdir/</a>`,
		`<a href="../">../</a>`,
		"Mon, 02 Jan 2023 03:04:05 GMT",
		">1.5K<",
		">5<",
		"Index of /d/",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{".hidden", "<script>", `"./ln"`, "lndir"} {
		if strings.Contains(body, bad) {
			t.Errorf("listing contains %q", bad)
		}
	}
	if strings.Index(body, "zdir/") > strings.Index(body, "a&amp;b.txt") {
		t.Errorf("directories should come first")
	}

	if w, _ := serve(h, "HEAD", "/d/", nil); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD listing: %d %d", w.Code, w.Body.Len())
	}
	if w, _ := serve(h, "GET", "/d", nil); w.Code != 308 || w.Header().Get("Location") != "/d/" {
		t.Errorf("listing redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w, _ := serve(h, "GET", "/withindex/", nil); w.Body.String() != "idx" {
		t.Errorf("index should win over listing: %q", w.Body.String())
	}
	if w, _ := serve(h, "GET", "/", nil); w.Code != 200 || strings.Contains(w.Body.String(), `href="../"`) {
		t.Errorf("root listing: %d", w.Code)
	}

	exact, _, _ := newHandler(t, Options{DirectoryListing: true, ListingExactSize: true, ListingLocalTime: true, DenyDotfiles: false}, files)
	w, _ = serve(exact, "GET", "/d/", nil)
	body = w.Body.String()
	if !strings.Contains(body, ">1536<") || !strings.Contains(body, ".hidden") {
		t.Errorf("exact size / dotfiles shown:\n%s", body)
	}
	if !regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}`).MatchString(body) {
		t.Errorf("local time format missing:\n%s", body)
	}

	off, _, _ := newHandler(t, Options{}, files)
	if w, _ := serve(off, "GET", "/d/", nil); w.Code != 404 {
		t.Errorf("listing off: %d", w.Code)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 1023: "1023", 1024: "1.0K", 1536: "1.5K", 10 << 10: "10K", 5 << 20: "5.0M", 3 << 30: "3.0G",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestListingCap(t *testing.T) {
	if testing.Short() {
		t.Skip("creates many files")
	}
	h, root, _ := newHandler(t, Options{DirectoryListing: true}, tree{"many/": ""})
	for i := 0; i < MaxListingEntries+5; i++ {
		f, err := os.Create(filepath.Join(root, "many", fmt.Sprintf("f%06d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	w, _ := serve(h, "GET", "/many/", nil)
	if n := strings.Count(w.Body.String(), "<tr><td><a href=\"./"); n != MaxListingEntries {
		t.Errorf("entries %d, want %d", n, MaxListingEntries)
	}
	if !strings.Contains(w.Body.String(), "truncated") {
		t.Errorf("truncation not reported")
	}
}
