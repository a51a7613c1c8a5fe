package static

import (
	"strings"
	"testing"
)

func TestParseAcceptEncoding(t *testing.T) {
	all := [numEnc]bool{false, true, true, true}
	onlyGz := [numEnc]bool{false, false, false, true}
	for _, tc := range []struct {
		in    string
		avail [numEnc]bool
		want  encoding
		ok    bool
	}{
		{"br, gzip", all, encBr, true},
		{"gzip, br", all, encBr, true}, // equal q: server preference
		{"gzip, zstd", all, encZstd, true},
		{"gzip", all, encGzip, true},
		{"x-gzip", all, encGzip, true},
		{"GZIP", all, encGzip, true},
		{"br;q=0.5, gzip", all, encGzip, true},
		{"br;q=0, gzip;q=0.1", all, encGzip, true},
		{"br;q=0", all, encIdentity, true},
		{"br", onlyGz, encIdentity, true},
		{"*", all, encBr, true},
		{"*;q=0", all, encIdentity, true},
		{"*;q=0.5, br;q=0", all, encZstd, true},
		{"gzip;q=0.5, identity", all, encIdentity, true},
		{"gzip;q=0.5, identity;q=0.4", all, encGzip, true},
		{"gzip ; q=1.000", all, encGzip, true},
		{"gzip;Q=0.", all, encIdentity, true},
		{"deflate, compress", all, encIdentity, true},
		{" , gzip ,, ", all, encGzip, true},
		{"", all, encIdentity, true},
		{"gzip;q=0, gzip", all, encIdentity, true}, // first mention counts
		{"gzip;q=2", all, encIdentity, false},
		{"gzip;q=1.001", all, encIdentity, false},
		{"gzip;q=0.1234", all, encIdentity, false},
		{"gzip;q=", all, encIdentity, false},
		{"gzip;level=1", all, encIdentity, false},
		{"gzip q=1", all, encIdentity, false},
		{"gzip, @bad", all, encIdentity, false},
		{"gzip;q=0.5x", all, encIdentity, false},
	} {
		ae, ok := parseAcceptEncoding([]string{tc.in})
		got := encIdentity
		if ok {
			got = ae.pick(&tc.avail)
		}
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %d ok=%v, want %d ok=%v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if ae, ok := parseAcceptEncoding([]string{"identity", "br"}); !ok || ae.q[encBr] != 1000 {
		t.Errorf("several field lines not combined")
	}
}

func TestPrecompressed(t *testing.T) {
	files := tree{
		"app.js":            "console.log('identity')",
		"app.js.br":         "BR-DATA",
		"app.js.zst":        "ZSTD-DATA",
		"app.js.gz":         "GZIP-DATA!",
		"style.css":         "body{}",
		"style.css.gz":      "CSSGZ",
		"plain.txt":         "plain",
		"lnk.js":            "x",
		"lnk.js.gz":         "->../secret.txt",
		"dir.js":            "d",
		"dir.js.gz/":        "",
		".env":              "E",
		".env.gz":           "EGZ",
		"sub/index.html":    "index",
		"sub/index.html.br": "INDEXBR",
	}
	h, _, _ := newHandler(t, Options{Precompressed: true, DenyDotfiles: true}, files)
	identityTag := etagOf(t, h, "/app.js")
	for _, tc := range []struct {
		path, ae string
		status   int
		body     string
		encoding string
		vary     bool
	}{
		{"/app.js", "br, gzip, zstd", 200, "BR-DATA", "br", true},
		{"/app.js", "gzip", 200, "GZIP-DATA!", "gzip", true},
		{"/app.js", "zstd", 200, "ZSTD-DATA", "zstd", true},
		{"/app.js", "gzip;q=1, br;q=0.5", 200, "GZIP-DATA!", "gzip", true},
		{"/app.js", "br;q=0, zstd;q=0, gzip", 200, "GZIP-DATA!", "gzip", true},
		{"/app.js", "br;q=0", 200, "console.log('identity')", "", true},
		{"/app.js", "", 200, "console.log('identity')", "", true},
		{"/app.js", "gzip;q=5", 200, "console.log('identity')", "", true}, // malformed → identity
		{"/style.css", "br", 200, "body{}", "", true},                     // has a sidecar: Vary even for identity
		{"/style.css", "br, gzip", 200, "CSSGZ", "gzip", true},
		{"/plain.txt", "br, gzip", 200, "plain", "", false},
		{"/lnk.js", "gzip", 200, "x", "", false}, // symlinked sidecar refused
		{"/dir.js", "gzip", 200, "d", "", false}, // directory sidecar ignored
		{"/.env", "gzip", 404, "", "", false},
		{"/.env.gz", "gzip", 404, "", "", false},
		{"/sub/", "br", 200, "INDEXBR", "br", true},
	} {
		hdr := map[string]string{}
		if tc.ae != "" {
			hdr["Accept-Encoding"] = tc.ae
		}
		w, _ := serve(h, "GET", tc.path, hdr)
		if w.Code != tc.status {
			t.Errorf("%s %q: status %d", tc.path, tc.ae, w.Code)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if w.Body.String() != tc.body || w.Header().Get("Content-Encoding") != tc.encoding {
			t.Errorf("%s %q: body %q encoding %q", tc.path, tc.ae, w.Body.String(), w.Header().Get("Content-Encoding"))
		}
		if got := w.Header().Get("Vary") == "Accept-Encoding"; got != tc.vary {
			t.Errorf("%s %q: Vary %q", tc.path, tc.ae, w.Header().Get("Vary"))
		}
		if tc.path == "/app.js" && w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("sidecar Content-Type %q", w.Header().Get("Content-Type"))
		}
		if tc.encoding != "" && w.Header().Get("ETag") == identityTag {
			t.Errorf("%s %q: sidecar shares the identity ETag", tc.path, tc.ae)
		}
	}

	// Conditionals and ranges apply to the representation actually sent.
	gz := map[string]string{"Accept-Encoding": "gzip"}
	gzTag := etagOf2(h, "/app.js", gz)
	if w, _ := serve(h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": identityTag}); w.Code != 200 {
		t.Errorf("identity ETag matched the gzip representation: %d", w.Code)
	}
	w, _ := serve(h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag})
	if w.Code != 304 || w.Header().Get("Vary") != "Accept-Encoding" || w.Header().Get("ETag") != gzTag {
		t.Errorf("gzip 304: %d Vary=%q", w.Code, w.Header().Get("Vary"))
	}
	w, _ = serve(h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-3"})
	if w.Code != 206 || w.Body.String() != "GZIP" || w.Header().Get("Content-Range") != "bytes 0-3/10" ||
		w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip range: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Range"))
	}
	w, _ = serve(h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=50-"})
	if w.Code != 416 || w.Header().Get("Content-Range") != "bytes */10" {
		t.Errorf("gzip 416: %d %q", w.Code, w.Header().Get("Content-Range"))
	}

	off, _, _ := newHandler(t, Options{Precompressed: false}, files)
	if w, _ := serve(off, "GET", "/app.js", map[string]string{"Accept-Encoding": "br"}); w.Header().Get("Content-Encoding") != "" ||
		w.Header().Get("Vary") != "" || !strings.Contains(w.Body.String(), "identity") {
		t.Errorf("Precompressed off served a sidecar")
	}
}

func etagOf2(h *Handler, p string, hdr map[string]string) string {
	w, _ := serve(h, "GET", p, hdr)
	return w.Header().Get("ETag")
}
