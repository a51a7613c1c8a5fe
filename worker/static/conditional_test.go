package static

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConditionals(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	h, root, _ := newHandler(t, Options{CacheControl: "public, max-age=60", Expires: "Thu, 01 Dec 2094 16:00:00 GMT"},
		tree{"a.txt": "hello", "b.txt": "bbb"})
	os.Chtimes(filepath.Join(root, "a.txt"), mtime, mtime)
	w, _ := serve(h, "GET", "/a.txt", nil)
	etag := w.Header().Get("ETag")
	weak := "W/" + etag
	lm := mtime.Format(http.TimeFormat)
	before := mtime.Add(-time.Hour).Format(http.TimeFormat)
	after := mtime.Add(time.Hour).Format(http.TimeFormat)
	lmRFC850 := mtime.Format(time.RFC850) // obsolete but valid HTTP-date form

	for _, tc := range []struct {
		name   string
		method string
		hdr    map[string]string
		status int
	}{
		{"none", "GET", nil, 200},
		{"INM exact", "GET", map[string]string{"If-None-Match": etag}, 304},
		{"INM weak", "GET", map[string]string{"If-None-Match": weak}, 304},
		{"INM star", "GET", map[string]string{"If-None-Match": "*"}, 304},
		{"INM list", "GET", map[string]string{"If-None-Match": `"x", W/"y" ,` + etag}, 304},
		{"INM other", "GET", map[string]string{"If-None-Match": `"x"`}, 200},
		{"INM malformed", "GET", map[string]string{"If-None-Match": `x` + etag}, 200},
		{"INM HEAD", "HEAD", map[string]string{"If-None-Match": etag}, 304},
		{"IMS equal", "GET", map[string]string{"If-Modified-Since": lm}, 304},
		{"IMS rfc850", "GET", map[string]string{"If-Modified-Since": lmRFC850}, 304},
		{"IMS later", "GET", map[string]string{"If-Modified-Since": after}, 304},
		{"IMS earlier", "GET", map[string]string{"If-Modified-Since": before}, 200},
		{"IMS invalid", "GET", map[string]string{"If-Modified-Since": "yesterday"}, 200},
		{"IMS ignored with INM", "GET", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": lm}, 200},
		{"IM match", "GET", map[string]string{"If-Match": etag}, 200},
		{"IM list", "GET", map[string]string{"If-Match": `"x", ` + etag}, 200},
		{"IM star", "GET", map[string]string{"If-Match": "*"}, 200},
		{"IM other", "GET", map[string]string{"If-Match": `"x"`}, 412},
		{"IM weak fails strong compare", "GET", map[string]string{"If-Match": weak}, 412},
		{"IUS earlier", "GET", map[string]string{"If-Unmodified-Since": before}, 412},
		{"IUS equal", "GET", map[string]string{"If-Unmodified-Since": lm}, 200},
		{"IUS later", "GET", map[string]string{"If-Unmodified-Since": after}, 200},
		{"IUS invalid", "GET", map[string]string{"If-Unmodified-Since": "nope"}, 200},
		{"IUS ignored with IM", "GET", map[string]string{"If-Match": etag, "If-Unmodified-Since": before}, 200},
		{"IM fails before INM", "GET", map[string]string{"If-Match": `"x"`, "If-None-Match": etag}, 412},
		{"IM ok then INM", "GET", map[string]string{"If-Match": etag, "If-None-Match": etag}, 304},
		{"INM beats Range", "GET", map[string]string{"If-None-Match": etag, "Range": "bytes=0-1"}, 304},
		{"IM fail beats Range", "GET", map[string]string{"If-Match": `"x"`, "Range": "bytes=0-1"}, 412},
		{"If-Range etag", "GET", map[string]string{"If-Range": etag, "Range": "bytes=0-1"}, 206},
		{"If-Range other etag", "GET", map[string]string{"If-Range": `"x"`, "Range": "bytes=0-1"}, 200},
		{"If-Range weak etag", "GET", map[string]string{"If-Range": weak, "Range": "bytes=0-1"}, 200},
		{"If-Range date", "GET", map[string]string{"If-Range": lm, "Range": "bytes=0-1"}, 206},
		{"If-Range rfc850 date", "GET", map[string]string{"If-Range": lmRFC850, "Range": "bytes=0-1"}, 206},
		{"If-Range other date", "GET", map[string]string{"If-Range": after, "Range": "bytes=0-1"}, 200},
		{"If-Range garbage", "GET", map[string]string{"If-Range": "garbage", "Range": "bytes=0-1"}, 200},
		{"If-Range without Range", "GET", map[string]string{"If-Range": `"x"`}, 200},
		{"other file's etag", "GET", map[string]string{"If-None-Match": etagOf(t, h, "/b.txt")}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := serve(h, tc.method, "/a.txt", tc.hdr)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			switch tc.status {
			case 304:
				for k, v := range map[string]string{
					"ETag": etag, "Last-Modified": lm, "Cache-Control": "public, max-age=60",
					"Expires": "Thu, 01 Dec 2094 16:00:00 GMT",
				} {
					if got := w.Header().Get(k); got != v {
						t.Errorf("304 %s = %q, want %q", k, got, v)
					}
				}
				for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Content-Encoding"} {
					if _, ok := w.Header()[k]; ok {
						t.Errorf("304 carries %s", k)
					}
				}
				if w.Body.Len() != 0 {
					t.Errorf("304 has a body")
				}
			case 200:
				if tc.method == "GET" && w.Body.String() != "hello" {
					t.Errorf("body %q", w.Body.String())
				}
			case 206:
				if w.Body.String() != "he" || w.Header().Get("Content-Range") != "bytes 0-1/5" {
					t.Errorf("206 body %q range %q", w.Body.String(), w.Header().Get("Content-Range"))
				}
			}
		})
	}
}

func etagOf(t *testing.T, h *Handler, p string) string {
	w, _ := serve(h, "GET", p, nil)
	return w.Header().Get("ETag")
}

func TestMatchETags(t *testing.T) {
	const tag = `"abc"`
	for _, tc := range []struct {
		vals         []string
		strong, weak bool
	}{
		{[]string{tag}, true, true},
		{[]string{`W/"abc"`}, false, true},
		{[]string{"*"}, true, true},
		{[]string{` "x" , "abc" `}, true, true},
		{[]string{`"x"`, `"abc"`}, true, true}, // several field lines
		{[]string{`"x"`}, false, false},
		{[]string{`abc`}, false, false},
		{[]string{`"ab`}, false, false},
		{[]string{`"a"bc"`}, false, false},
		{[]string{``}, false, false},
		{[]string{`,,,`}, false, false},
	} {
		if got := matchETags(tc.vals, tag, true); got != tc.strong {
			t.Errorf("strong %q = %v", tc.vals, got)
		}
		if got := matchETags(tc.vals, tag, false); got != tc.weak {
			t.Errorf("weak %q = %v", tc.vals, got)
		}
	}
	if matchETags([]string{strings.Repeat(",", 1000)}, tag, false) {
		t.Error("commas matched")
	}
}
