package integration

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fndStaticFiles is the document tree of the static tests (below www/),
// plus a secret next to the root that no request may reach.
var fndStaticFiles = map[string]string{
	"secret.txt":          "TOP-SECRET-OUTSIDE-ROOT\n",
	"outside/secret.txt":  "TOP-SECRET-OUTSIDE-DIR\n",
	"www/index.html":      "<h1>root index</h1>\n",
	"www/hello.txt":       "hello, static world\n",
	"www/style.css":       "body{color:red}\n",
	"www/digits.txt":      "0123456789abcdefghij",
	"www/sub/index.html":  "<p>sub index</p>\n",
	"www/noindex/a.txt":   "a\n",
	"www/.env":            "SECRET_KEY=dotenv\n",
	"www/.git/config":     "[core]\n\tsecret = git\n",
	"www/sub/.hidden.txt": "hidden\n",
}

// fndStartStatic starts a server whose global [web] serves www/.
// webExtra is added to [web]; more is appended after it.
func fndStartStatic(t *testing.T, webExtra, more string) *fndServer {
	t.Helper()
	cfg := fndConfig("", 1, `[web]
root = "{{.Dir}}/www"
`+webExtra+"\n"+more)
	return fndStart(t, cfg, fndStaticFiles, nil)
}

func TestFoundationStaticIndexAndNotFound(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for _, tc := range []struct {
		path   string
		status int
		body   string
		ctype  string
	}{
		{"/", 200, "<h1>root index</h1>\n", "text/html; charset=utf-8"},
		{"/index.html", 200, "<h1>root index</h1>\n", "text/html; charset=utf-8"},
		{"/sub/", 200, "<p>sub index</p>\n", "text/html; charset=utf-8"},
		{"/hello.txt", 200, "hello, static world\n", "text/plain; charset=utf-8"},
		{"/style.css", 200, "body{color:red}\n", "text/css; charset=utf-8"},
		{"/hello.txt?x=1", 200, "hello, static world\n", "text/plain; charset=utf-8"},
		{"/missing.txt", 404, fndStatusBody(404), "text/plain; charset=utf-8"},
		{"/sub/missing/", 404, fndStatusBody(404), "text/plain; charset=utf-8"},
		// a directory without an index file and listing off
		{"/noindex/", 404, fndStatusBody(404), "text/plain; charset=utf-8"},
		// a file is not a directory
		{"/hello.txt/", 404, fndStatusBody(404), "text/plain; charset=utf-8"},
	} {
		r := fndGet(t, s.url+tc.path, "")
		if r.Status != tc.status || r.Body != tc.body || r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s = %d %q (%s), want %d %q (%s)", tc.path, r.Status, r.Body, r.Header.Get("Content-Type"), tc.status, tc.body, tc.ctype)
		}
		if tc.status == 200 {
			if got, want := r.Header.Get("Content-Length"), strconv.Itoa(len(tc.body)); got != want {
				t.Errorf("GET %s Content-Length = %q, want %q", tc.path, got, want)
			}
			if r.Header.Get("Etag") == "" || r.Header.Get("Last-Modified") == "" || r.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("GET %s: missing validators or Accept-Ranges: %v", tc.path, r.Header)
			}
		}
		if r.Header.Get("Server") != "fluxheim" {
			t.Errorf("GET %s Server = %q, want fluxheim", tc.path, r.Header.Get("Server"))
		}
	}
}

func TestFoundationStaticDotfilesDenied(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for _, target := range []string{
		"/.env",
		"/.git/config",
		"/.git/",
		"/sub/.hidden.txt",
		"/%2eenv",
		"/%2Egit/config",
		"/sub/./.hidden.txt",
	} {
		r := fndRaw(t, s.addr, "GET", "GET "+target+" HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n")
		if r.Status != 404 || r.Body != fndStatusBody(404) {
			t.Errorf("GET %s = %d %q, want 404", target, r.Status, r.Body)
		}
		if strings.Contains(r.Raw, "secret") || strings.Contains(r.Raw, "hidden\n") {
			t.Errorf("GET %s leaked a dotfile: %q", target, r.Raw)
		}
	}
	// deny_dotfiles = false serves them.
	s2 := fndStartStatic(t, "deny_dotfiles = false", "")
	if r := fndGet(t, s2.url+"/.env", ""); r.Status != 200 || r.Body != "SECRET_KEY=dotenv\n" {
		t.Errorf("deny_dotfiles=false: GET /.env = %d %q, want 200 and the file", r.Status, r.Body)
	}
}

func TestFoundationStaticTraversal(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/../etc/passwd", 400},
		{"/../secret.txt", 400},
		{"/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/%2e%2e/secret.txt", 400},
		{"/..%2f..%2fetc/passwd", 400},
		{"/..%2fsecret.txt", 400},
		{"/sub/../../secret.txt", 400},
		{"/sub/%2e%2e/%2e%2e/secret.txt", 400},
		{"/%2e%2e%5csecret.txt", 400},
		{"/..\\secret.txt", 400},
		{"//etc/passwd", 404},
		{"//secret.txt", 404},
		{"/hello.txt%00", 400},
		{"/hello.txt%00.html", 400},
		{"/%00", 400},
		// a ".." that stays inside the root is resolved, not refused
		{"/sub/../hello.txt", 200},
	} {
		raw := "GET " + tc.target + " HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n"
		r := fndRaw(t, s.addr, "GET", raw)
		if r.Status != tc.status {
			t.Errorf("GET %s = %d, want %d; response %q", tc.target, r.Status, tc.status, r.Raw)
		}
		if strings.Contains(r.Raw, "TOP-SECRET") || strings.Contains(r.Raw, "root:") {
			t.Errorf("GET %s escaped the root: %q", tc.target, r.Raw)
		}
		if tc.status == 200 && r.Body != "hello, static world\n" {
			t.Errorf("GET %s body = %q", tc.target, r.Body)
		}
	}
}

func TestFoundationStaticSymlinkEscape(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for link, target := range map[string]string{
		"www/leak.txt":   s.path("secret.txt"),
		"www/passwd":     "/etc/passwd",
		"www/rel.txt":    "../secret.txt",
		"www/outdir":     s.path("outside"),
		"www/inside.txt": "hello.txt", // inside the root, still refused (no symlinks at all)
	} {
		if err := os.Symlink(target, s.path(link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/leak.txt", "/passwd", "/rel.txt", "/outdir/secret.txt", "/outdir/", "/inside.txt"} {
		r := fndRaw(t, s.addr, "GET", "GET "+p+" HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n")
		if r.Status != 404 || r.Body != fndStatusBody(404) {
			t.Errorf("GET %s (symlink) = %d %q, want 404", p, r.Status, r.Body)
		}
		if strings.Contains(r.Raw, "TOP-SECRET") || strings.Contains(r.Raw, "root:") {
			t.Errorf("GET %s followed a symlink out of the root: %q", p, r.Raw)
		}
	}
	// The real file is still served.
	if r := fndGet(t, s.url+"/hello.txt", ""); r.Status != 200 {
		t.Errorf("GET /hello.txt = %d", r.Status)
	}
}

func TestFoundationStaticConditional(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	first := fndGet(t, s.url+"/hello.txt", "")
	etag, lastMod := first.Header.Get("Etag"), first.Header.Get("Last-Modified")
	if first.Status != 200 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Fatalf("GET /hello.txt = %d, ETag %q", first.Status, etag)
	}
	lm, err := http.ParseTime(lastMod)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lastMod, err)
	}
	past := lm.Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"If-None-Match same", []string{"If-None-Match: " + etag}, 304},
		{"If-None-Match list", []string{`If-None-Match: "x", ` + etag}, 304},
		{"If-None-Match weak", []string{"If-None-Match: W/" + etag}, 304},
		{"If-None-Match star", []string{"If-None-Match: *"}, 304},
		{"If-None-Match other", []string{`If-None-Match: "other"`}, 200},
		{"If-Modified-Since equal", []string{"If-Modified-Since: " + lastMod}, 304},
		{"If-Modified-Since future", []string{"If-Modified-Since: " + future}, 304},
		{"If-Modified-Since past", []string{"If-Modified-Since: " + past}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{`If-None-Match: "other"`, "If-Modified-Since: " + lastMod}, 200},
		{"If-Match mismatch", []string{`If-Match: "nope"`}, 412},
		{"If-Match same", []string{"If-Match: " + etag}, 200},
		{"If-Match star", []string{"If-Match: *"}, 200},
		{"If-Unmodified-Since past", []string{"If-Unmodified-Since: " + past}, 412},
		{"If-Unmodified-Since equal", []string{"If-Unmodified-Since: " + lastMod}, 200},
	} {
		r := fndGet(t, s.url+"/hello.txt", "", tc.header...)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.Status, tc.status)
			continue
		}
		switch tc.status {
		case 304:
			if r.Body != "" || r.Header.Get("Etag") != etag || r.Header.Get("Cache-Control") != "public, max-age=60" {
				t.Errorf("%s: 304 with body %q, ETag %q, Cache-Control %q", tc.name, r.Body, r.Header.Get("Etag"), r.Header.Get("Cache-Control"))
			}
		case 200:
			if r.Body != "hello, static world\n" {
				t.Errorf("%s: body %q", tc.name, r.Body)
			}
		case 412:
			if r.Body != fndStatusBody(412) {
				t.Errorf("%s: body %q", tc.name, r.Body)
			}
		}
	}
	// A changed file gets a new ETag, and the old one no longer matches.
	time.Sleep(10 * time.Millisecond)
	s.writeFile("www/hello.txt", []byte("hello, changed world!\n"))
	future2 := time.Now().Add(time.Minute)
	_ = os.Chtimes(s.path("www/hello.txt"), future2, future2)
	ok := fndWaitFor(5*time.Second, func() bool {
		r := fndGet(t, s.url+"/hello.txt", "", "If-None-Match: "+etag)
		return r.Status == 200 && r.Body == "hello, changed world!\n" && r.Header.Get("Etag") != etag
	})
	if !ok {
		t.Errorf("after the file changed, If-None-Match with the old ETag still does not give the new file")
	}
}

func TestFoundationStaticRanges(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	const content = "0123456789abcdefghij" // www/digits.txt, 20 bytes
	for _, tc := range []struct {
		rng    string
		body   string
		crange string
	}{
		{"bytes=0-4", "01234", "bytes 0-4/20"},
		{"bytes=10-", "abcdefghij", "bytes 10-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=15-100", "fghij", "bytes 15-19/20"},
		{"bytes=5-5", "5", "bytes 5-5/20"},
	} {
		r := fndGet(t, s.url+"/digits.txt", "", "Range: "+tc.rng)
		if r.Status != 206 || r.Body != tc.body || r.Header.Get("Content-Range") != tc.crange ||
			r.Header.Get("Content-Length") != strconv.Itoa(len(tc.body)) {
			t.Errorf("Range %s = %d %q Content-Range %q Content-Length %q, want 206 %q %q",
				tc.rng, r.Status, r.Body, r.Header.Get("Content-Range"), r.Header.Get("Content-Length"), tc.body, tc.crange)
		}
	}

	// Several ranges: multipart/byteranges, in request order.
	r := fndGet(t, s.url+"/digits.txt", "", "Range: bytes=0-1, 5-7, -2")
	if r.Status != 206 {
		t.Fatalf("multi-range status %d, body %q", r.Status, r.Body)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		t.Fatalf("multi-range Content-Type %q (%v)", r.Header.Get("Content-Type"), err)
	}
	if r.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) {
		t.Errorf("multi-range Content-Length %q, body is %d bytes", r.Header.Get("Content-Length"), len(r.Body))
	}
	mr := multipart.NewReader(strings.NewReader(r.Body), params["boundary"])
	want := []struct{ body, crange string }{{"01", "bytes 0-1/20"}, {"567", "bytes 5-7/20"}, {"ij", "bytes 18-19/20"}}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("multi-range: %d parts, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatalf("multi-range part %d: %v", i, err)
		}
		b, _ := io.ReadAll(p)
		if i >= len(want) {
			t.Fatalf("multi-range: extra part %q", b)
		}
		if string(b) != want[i].body || p.Header.Get("Content-Range") != want[i].crange || p.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("part %d = %q %q %q, want %q %q", i, b, p.Header.Get("Content-Range"), p.Header.Get("Content-Type"), want[i].body, want[i].crange)
		}
	}

	// Unsatisfiable: 416 with the size.
	for _, rng := range []string{"bytes=20-", "bytes=100-200", "bytes=-0"} {
		r := fndGet(t, s.url+"/digits.txt", "", "Range: "+rng)
		if r.Status != 416 || r.Header.Get("Content-Range") != "bytes */20" {
			t.Errorf("Range %s = %d Content-Range %q, want 416 bytes */20", rng, r.Status, r.Header.Get("Content-Range"))
		}
	}
	// Ignored (full 200): other unit, garbage, overlap amplification, too many ranges.
	many := "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 17), ",")
	for _, rng := range []string{"items=0-4", "bytes=abc", "bytes=0-19,0-19", many} {
		r := fndGet(t, s.url+"/digits.txt", "", "Range: "+rng)
		if r.Status != 200 || r.Body != content {
			t.Errorf("Range %q = %d %q, want 200 with the whole file", rng, r.Status, r.Body)
		}
	}
	// If-Range with a stale validator: the whole file.
	r = fndGet(t, s.url+"/digits.txt", "", "Range: bytes=0-1", `If-Range: "stale"`)
	if r.Status != 200 || r.Body != content {
		t.Errorf("If-Range stale = %d %q, want 200 full", r.Status, r.Body)
	}
	etag := fndGet(t, s.url+"/digits.txt", "").Header.Get("Etag")
	r = fndGet(t, s.url+"/digits.txt", "", "Range: bytes=0-1", "If-Range: "+etag)
	if r.Status != 206 || r.Body != "01" {
		t.Errorf("If-Range current = %d %q, want 206 \"01\"", r.Status, r.Body)
	}
}

func TestFoundationStaticMethods(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		r := fndDo(t, m, s.url+"/hello.txt", "", "x=1")
		if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" || r.Body != fndStatusBody(405) {
			t.Errorf("%s /hello.txt = %d Allow %q body %q, want 405 Allow \"GET, HEAD\"", m, r.Status, r.Header.Get("Allow"), r.Body)
		}
	}
	// HEAD: the GET headers, no body bytes on the wire.
	raw := fndRaw(t, s.addr, "HEAD", "HEAD /hello.txt HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n")
	if raw.Status != 200 || raw.Header.Get("Content-Length") != "20" || raw.Header.Get("Etag") == "" {
		t.Errorf("HEAD = %d %v", raw.Status, raw.Header)
	}
	if !strings.HasSuffix(raw.Raw, "\r\n\r\n") {
		t.Errorf("HEAD response carries a body: %q", raw.Raw)
	}
	// HEAD of a large (non-cached) file too.
	big := bytes.Repeat([]byte("x"), 3<<20)
	s.writeFile("www/big.bin", big)
	raw = fndRaw(t, s.addr, "HEAD", "HEAD /big.bin HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n")
	if raw.Status != 200 || raw.Header.Get("Content-Length") != strconv.Itoa(len(big)) || !strings.HasSuffix(raw.Raw, "\r\n\r\n") {
		t.Errorf("HEAD /big.bin = %d CL %q, raw tail %q", raw.Status, raw.Header.Get("Content-Length"), raw.Raw[max(0, len(raw.Raw)-20):])
	}
}

func TestFoundationStaticCacheControl(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig("", 1, `[web]
root = "{{.Dir}}/www"

[[vhosts]]
name = "custom"
hosts = ["custom.test"]
[vhosts.web]
cache_control = "no-cache"
expires = "Thu, 01 Dec 2044 16:00:00 GMT"

[[vhosts]]
name = "none"
hosts = ["none.test"]
[vhosts.web]
cache_control = ""
`), fndStaticFiles, nil)
	for _, tc := range []struct {
		host, cc, expires string
	}{
		{"other.test", "public, max-age=60", ""},
		{"custom.test", "no-cache", "Thu, 01 Dec 2044 16:00:00 GMT"},
		{"none.test", "", ""},
	} {
		r := fndGet(t, s.url+"/hello.txt", tc.host)
		if r.Status != 200 || r.Header.Get("Cache-Control") != tc.cc || r.Header.Get("Expires") != tc.expires {
			t.Errorf("Host %s: %d Cache-Control %q Expires %q, want %q %q", tc.host, r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Expires"), tc.cc, tc.expires)
		}
		if _, ok := r.Header["Cache-Control"]; tc.cc == "" && ok {
			t.Errorf("Host %s: Cache-Control sent although cache_control = \"\"", tc.host)
		}
	}
}

func TestFoundationStaticPrecompressed(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig("", 1, `[web]
root = "{{.Dir}}/www"

[[vhosts]]
name = "plain"
hosts = ["plain.test"]
[vhosts.web]
precompressed = false
`), fndStaticFiles, nil)
	plain := []byte(strings.Repeat("console.log('fluxheim');\n", 40))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	br := []byte("not-really-brotli-but-the-br-sidecar")
	s.writeFile("www/app.js", plain)
	s.writeFile("www/app.js.gz", gz.Bytes())
	s.writeFile("www/app.js.br", br)
	s.writeFile("www/only.js", plain) // no sidecars

	for _, tc := range []struct {
		host, ae string
		enc      string
		body     []byte
		vary     bool
	}{
		{"", "gzip", "gzip", gz.Bytes(), true},
		{"", "br", "br", br, true},
		{"", "gzip, deflate, br", "br", br, true},
		{"", "br;q=0.5, gzip;q=1", "gzip", gz.Bytes(), true},
		{"", "br;q=0, gzip;q=0", "", plain, true},
		{"", "", "", plain, true},
		{"", "identity", "", plain, true},
		{"", "deflate", "", plain, true},
		{"plain.test", "gzip, br", "", plain, false},
	} {
		var hdr []string
		if tc.ae != "" {
			hdr = append(hdr, "Accept-Encoding: "+tc.ae)
		}
		r := fndGet(t, s.url+"/app.js", tc.host, hdr...)
		if r.Status != 200 || r.Header.Get("Content-Encoding") != tc.enc || r.Body != string(tc.body) {
			t.Errorf("Host %q Accept-Encoding %q: %d Content-Encoding %q body %d bytes, want %q %d bytes",
				tc.host, tc.ae, r.Status, r.Header.Get("Content-Encoding"), len(r.Body), tc.enc, len(tc.body))
		}
		if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
			t.Errorf("Accept-Encoding %q: Content-Type %q, want the type of app.js", tc.ae, got)
		}
		if gotVary := strings.Contains(r.Header.Get("Vary"), "Accept-Encoding"); gotVary != tc.vary {
			t.Errorf("Host %q Accept-Encoding %q: Vary %q, want Accept-Encoding: %v", tc.host, tc.ae, r.Header.Get("Vary"), tc.vary)
		}
	}
	// A file without sidecars: no Content-Encoding, no Vary.
	r := fndGet(t, s.url+"/only.js", "", "Accept-Encoding: gzip, br")
	if r.Status != 200 || r.Header.Get("Content-Encoding") != "" || r.Body != string(plain) || r.Header.Get("Vary") != "" {
		t.Errorf("only.js: %d Content-Encoding %q Vary %q", r.Status, r.Header.Get("Content-Encoding"), r.Header.Get("Vary"))
	}
	// The gzip sidecar decodes to the plain file.
	zr, err := gzip.NewReader(bytes.NewReader(gz.Bytes()))
	if err == nil {
		b, _ := io.ReadAll(zr)
		if !bytes.Equal(b, plain) {
			t.Error("test setup: gzip sidecar does not decode to app.js")
		}
	}
}

func TestFoundationStaticLargeFileStreamed(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	data := make([]byte, 20<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	s.writeFile("www/large.bin", data)
	want := sha256.Sum256(data)

	resp, err := fndClient().Get(s.url + "/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v after %d bytes", err, n)
	}
	if resp.StatusCode != 200 || n != int64(len(data)) || resp.ContentLength != int64(len(data)) {
		t.Fatalf("GET /large.bin = %d, %d bytes, Content-Length %d; want 200, %d", resp.StatusCode, n, resp.ContentLength, len(data))
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("sha256 %s, want %s", hex.EncodeToString(got), hex.EncodeToString(want[:]))
	}
	if resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	// A range deep inside the large file.
	r := fndGet(t, s.url+"/large.bin", "", "Range: bytes=15000000-15000009")
	if r.Status != 206 || r.Body != string(data[15000000:15000010]) || r.Header.Get("Content-Range") != "bytes 15000000-15000009/20971520" {
		t.Errorf("range of the large file: %d %q", r.Status, r.Header.Get("Content-Range"))
	}
}

func TestFoundationStaticDirectoryListing(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"www/list/<b>&x.txt":     "escaped\n",
		"www/list/plain.txt":     "plain\n",
		"www/list/.secret":       "dot\n",
		"www/list/subdir/a.txt":  "a\n",
		"www/indexed/index.html": "index wins\n",
	}
	s := fndStart(t, fndConfig("", 1, `[web]
root = "{{.Dir}}/www"

[[vhosts]]
name = "listing"
hosts = ["listing.test"]
[vhosts.web]
[vhosts.web.directory_listing]
enabled = true
exact_size = true
`), files, nil)

	// Off by default.
	if r := fndGet(t, s.url+"/list/", "default.test"); r.Status != 404 || r.Body != fndStatusBody(404) {
		t.Errorf("listing off: GET /list/ = %d %q, want 404", r.Status, r.Body)
	}
	r := fndGet(t, s.url+"/list/", "listing.test")
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" || r.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("listing on: GET /list/ = %d %q Cache-Control %q; body %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"), r.Body)
	}
	if !strings.Contains(r.Body, "&lt;b&gt;&amp;x.txt") {
		t.Errorf("listing does not show the HTML-escaped name: %q", r.Body)
	}
	if strings.Contains(r.Body, "<b>&x.txt") || strings.Contains(r.Body, "<b>") {
		t.Errorf("listing contains the raw name (HTML injection): %q", r.Body)
	}
	for _, want := range []string{"plain.txt", "subdir/"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("listing lacks %q: %q", want, r.Body)
		}
	}
	if strings.Contains(r.Body, ".secret") {
		t.Errorf("listing shows a dotfile: %q", r.Body)
	}
	// The linked name resolves.
	if r := fndGet(t, s.url+"/list/%3Cb%3E&x.txt", "listing.test"); r.Status != 200 || r.Body != "escaped\n" {
		t.Errorf("GET the listed file: %d %q", r.Status, r.Body)
	}
	// An index file wins over the listing.
	if r := fndGet(t, s.url+"/indexed/", "listing.test"); r.Status != 200 || r.Body != "index wins\n" {
		t.Errorf("GET /indexed/ = %d %q", r.Status, r.Body)
	}
}

func TestFoundationStaticDirectoryRedirect(t *testing.T) {
	t.Parallel()
	s := fndStartStatic(t, "", "")
	for _, tc := range []struct {
		target, location string
		status           int
	}{
		{"/sub", "/sub/", 308},
		{"/sub?a=1&b=2", "/sub/?a=1&b=2", 308},
		{"//sub", "/sub/", 308},
		{"/noindex", "", 404}, // no index file, listing off: nothing to redirect to
	} {
		r := fndRaw(t, s.addr, "GET", "GET "+tc.target+" HTTP/1.1\r\nHost: static.test\r\nConnection: close\r\n\r\n")
		if r.Status != tc.status || r.Header.Get("Location") != tc.location {
			t.Errorf("GET %s = %d Location %q, want %d %q", tc.target, r.Status, r.Header.Get("Location"), tc.status, tc.location)
		}
	}
}
