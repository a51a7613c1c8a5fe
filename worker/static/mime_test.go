package static

import "testing"

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"index.html":     "text/html; charset=utf-8",
		"INDEX.HTM":      "text/html; charset=utf-8",
		"a.css":          "text/css; charset=utf-8",
		"a.js":           "text/javascript; charset=utf-8",
		"a.mjs":          "text/javascript; charset=utf-8",
		"a.json":         "application/json; charset=utf-8",
		"a.webmanifest":  "application/manifest+json; charset=utf-8",
		"a.xml":          "application/xml; charset=utf-8",
		"a.svg":          "image/svg+xml; charset=utf-8",
		"a.txt":          "text/plain; charset=utf-8",
		"a.png":          "image/png",
		"a.jpeg":         "image/jpeg",
		"a.woff2":        "font/woff2",
		"a.wasm":         "application/wasm",
		"a.pdf":          "application/pdf",
		"README":         "application/octet-stream",
		"a.unknownext1":  "application/octet-stream",
		"archive.tar.gz": "application/gzip",
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
	for in, want := range map[string]string{
		"text/x-foo":                "text/x-foo; charset=utf-8",
		"text/html; charset=latin1": "text/html; charset=latin1",
		"application/ld+json":       "application/ld+json; charset=utf-8",
		"application/javascript":    "application/javascript; charset=utf-8",
		"image/png":                 "image/png",
	} {
		if got := withCharset(in); got != want {
			t.Errorf("withCharset(%q) = %q", in, got)
		}
	}
}
