package php

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
	"github.com/fluxheim/fluxheim/shared/config"
)

func TestCGIVariables(t *testing.T) {
	root := makeRoot(t)
	srv := fcgitest.StartUnix(t, echoParams)
	h := newHandler(t, block(root, srv, func(c *config.PHP) {
		c.PathInfo = "split"
		c.FPMRoot = "/var/www/app"
		c.Params = map[string]string{"APP_ENV": "test", "SERVER_NAME": "configured.test"}
	}))
	r := get("/info.php/extra/path?a=1&b=%20x",
		"Cookie: a=1", "Cookie: b=2", "Proxy: http://evil:3128", "X_Real_IP: 6.6.6.6",
		"X-Custom: one", "X-Custom: two", "Content-Type: text/plain")
	r.Host = "app.test:8443"
	e := params(t, do(h, r))
	p := e.Params
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_METHOD":    "GET",
		"REQUEST_URI":       "/info.php/extra/path?a=1&b=%20x",
		"QUERY_STRING":      "a=1&b=%20x",
		"SCRIPT_NAME":       "/info.php",
		"SCRIPT_FILENAME":   "/var/www/app/info.php",
		"DOCUMENT_ROOT":     "/var/www/app",
		"DOCUMENT_URI":      "/info.php/extra/path",
		"PATH_INFO":         "/extra/path",
		"PATH_TRANSLATED":   "/var/www/app/extra/path",
		"REMOTE_ADDR":       "192.0.2.7",
		"SERVER_PORT":       "8443",
		"SERVER_NAME":       "configured.test",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_SCHEME":    "http",
		"REDIRECT_STATUS":   "200",
		"CONTENT_LENGTH":    "0",
		"CONTENT_TYPE":      "text/plain",
		"HTTP_HOST":         "app.test:8443",
		"HTTP_COOKIE":       "a=1; b=2",
		"HTTP_X_CUSTOM":     "one, two",
		"APP_ENV":           "test",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS", "REMOTE_PORT", "HTTP_X_REAL_IP", "HTTP_CONTENT_TYPE"} {
		if v, ok := p[k]; ok {
			t.Errorf("%s is set (%q)", k, v)
		}
	}
}

func TestCGIHTTPSAndDefaults(t *testing.T) {
	root := makeRoot(t)
	srv := fcgitest.StartUnix(t, echoParams)
	h := newHandler(t, block(root, srv, func(c *config.PHP) { c.PassRequestHeaders = new(bool) }))
	r := get("/", "X-Custom: 1")
	r.TLS = &tls.ConnectionState{}
	r.Host = "app.test"
	p := params(t, do(h, r)).Params
	if p["HTTPS"] != "on" || p["REQUEST_SCHEME"] != "https" || p["SERVER_PORT"] != "443" || p["SCRIPT_FILENAME"] != root+"/index.php" {
		t.Fatalf("params %v", p)
	}
	if _, ok := p["HTTP_X_CUSTOM"]; ok {
		t.Fatal("pass_request_headers = false still passed headers")
	}
}

func TestResponseHeaders(t *testing.T) {
	root := makeRoot(t)
	srv := fcgitest.StartUnix(t, fcgitest.Respond("Status: 201 Created\r\n"+
		"Content-Type: text/plain\r\nConnection: close, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\n"+
		"Transfer-Encoding: chunked\r\nContent-Length: 999\r\nX-Powered-By: PHP/8.2\r\n"+
		"Cache-Control: public, max-age=600\r\nPragma: cache\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nbody"))
	h := newHandler(t, block(root, srv, func(c *config.PHP) {
		c.HideResponseHeaders = []string{"x-powered-by"}
		c.IgnoreOriginCacheHeaders = true
	}))
	res := do(h, get("/info.php"))
	if res.status != 201 || res.body != "body" {
		t.Fatalf("%d %q %v", res.status, res.body, res.err)
	}
	for _, k := range []string{"Connection", "X-Drop", "Keep-Alive", "Transfer-Encoding", "X-Powered-By", "Cache-Control", "Pragma"} {
		if v := res.header.Get(k); v != "" {
			t.Errorf("%s = %q kept", k, v)
		}
	}
	if res.header.Get("Content-Length") != "4" || len(res.header["Set-Cookie"]) != 2 {
		t.Fatalf("headers %v", res.header)
	}
}

func TestInvalidResponsesAre502(t *testing.T) {
	root := makeRoot(t)
	for name, out := range map[string]string{
		"CR LF injection":      "Content-Type: text/html\r\nX-A: a\rSet-Cookie: evil=1\r\n\r\n",
		"NUL":                  "X-A: \x00\r\n\r\n",
		"two X-Accel-Redirect": "X-Accel-Redirect: /a\r\nX-Accel-Redirect: /b\r\n\r\n",
		"accel to PHP source":  "X-Accel-Redirect: /info.php\r\n\r\n",
		"accel escaping":       "X-Accel-Redirect: /../etc/passwd\r\n\r\n",
		"sendfile outside":     "X-Sendfile: /etc/passwd\r\n\r\n",
		"both directives":      "X-Accel-Redirect: /style.css\r\nX-Sendfile: " + root + "/style.css\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := fcgitest.StartUnix(t, fcgitest.Respond(out))
			h := newHandler(t, block(root, srv, nil))
			if res := do(h, get("/info.php")); res.status != http.StatusBadGateway {
				t.Fatalf("status %d %v", res.status, res.err)
			}
		})
	}
}

func TestInternalRedirects(t *testing.T) {
	root := makeRoot(t)
	for name, out := range map[string]string{
		"X-Accel-Redirect": "Content-Type: text/html\r\nX-Accel-Redirect: /files/report%2Epdf?ignored=1\r\nContent-Disposition: attachment\r\nSet-Cookie: dl=1\r\n\r\nignored body",
		"X-Sendfile":       "Content-Type: text/html\r\nX-Sendfile: " + root + "/files/report.pdf\r\nContent-Disposition: attachment\r\nSet-Cookie: dl=1\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := fcgitest.StartUnix(t, fcgitest.Respond(out))
			h := newHandler(t, block(root, srv, nil))
			r := httptest.NewRequest(http.MethodPost, "/info.php", strings.NewReader("x=1"))
			res := do(h, r)
			if res.status != 200 || res.body != "%PDF" {
				t.Fatalf("%d %q %v", res.status, res.body, res.err)
			}
			if res.header.Get("Content-Disposition") != "attachment" || res.header.Get("Set-Cookie") != "dl=1" ||
				res.header.Get("Content-Type") == "text/html" || res.header.Get("X-Accel-Redirect") != "" {
				t.Fatalf("headers %v", res.header)
			}
		})
	}
}

func TestAccelExpires(t *testing.T) {
	for _, tc := range []struct {
		in, cc, want string
		cookie       bool
	}{
		{"60", "", "public, max-age=60", false},
		{"60", "", "private, max-age=60", true},
		{"0", "", "no-store, private", false},
		{"@1", "", "no-store, private", false},
		{"60", "no-cache", "no-cache", false},
		{"off", "public, max-age=5", "public, max-age=5", false},
		{"bogus", "", "", false},
	} {
		hdr := http.Header{}
		if tc.cc != "" {
			hdr.Set("Cache-Control", tc.cc)
		}
		if tc.cookie {
			hdr.Set("Set-Cookie", "a=1")
		}
		applyAccelExpires(hdr, tc.in)
		if got := hdr.Get("Cache-Control"); got != tc.want {
			t.Errorf("X-Accel-Expires %q over %q: Cache-Control %q, want %q", tc.in, tc.cc, got, tc.want)
		}
		if strings.Contains(tc.want, "max-age=60") && hdr.Get("Expires") == "" {
			t.Errorf("X-Accel-Expires %q: no Expires", tc.in)
		}
	}
}

func TestInterceptAndErrorPages(t *testing.T) {
	root := makeRoot(t)
	pages := t.TempDir()
	writeFile(t, pages+"/50x.html", "<h1>sorry</h1>")
	srv := fcgitest.StartUnix(t, fcgitest.Respond("Status: 500\r\nContent-Type: text/html\r\nSet-Cookie: leak=1\r\n\r\nstack trace"))
	h := newHandler(t, block(root, srv, func(c *config.PHP) {
		c.InterceptErrorStatuses = []int{500, 503}
		c.ErrorPages = []config.PHPErrorPage{{Status: 500, Path: "/50x.html", Web: &config.Web{Root: pages}}, {Status: 502, Path: "/50x.html", Web: &config.Web{Root: pages}}}
	}))
	res := do(h, get("/info.php"))
	if res.status != 500 || res.body != "<h1>sorry</h1>" || res.header.Get("Set-Cookie") != "" {
		t.Fatalf("%d %q %v %v", res.status, res.body, res.header, res.err)
	}
	// php-fpm down: fluxheim's own 502 gets the page too.
	down := newHandler(t, block(root, nil, func(c *config.PHP) {
		c.ErrorPages = []config.PHPErrorPage{{Status: 502, Path: "/50x.html", Web: &config.Web{Root: pages}}}
	}))
	if res := do(down, get("/info.php")); res.status != 502 || res.body != "<h1>sorry</h1>" {
		t.Fatalf("down: %d %q %v", res.status, res.body, res.err)
	}
	// An intercepted status without a page is the pipeline's error.
	srv503 := fcgitest.StartUnix(t, fcgitest.Respond("Status: 503\r\n\r\nbusy"))
	h503 := newHandler(t, block(root, srv503, func(c *config.PHP) { c.InterceptErrorStatuses = []int{503} }))
	if res := do(h503, get("/info.php")); res.err == nil || res.status != 503 {
		t.Fatalf("503: %d %v", res.status, res.err)
	}
}

func TestFailures(t *testing.T) {
	root := makeRoot(t)
	if res := do(newHandler(t, block(root, nil, nil)), get("/info.php")); res.status != 502 {
		t.Fatalf("php-fpm down: %d %v", res.status, res.err)
	}
	release := make(chan struct{})
	slow := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) { <-release })
	t.Cleanup(func() { close(release) })
	h := newHandler(t, block(root, slow, func(c *config.PHP) { one := 1; c.RequestTimeoutSecs = &one }))
	start := time.Now()
	if res := do(h, get("/info.php")); res.status != 504 {
		t.Fatalf("timeout: %d %v", res.status, res.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a 1 s timeout took %v", d)
	}
	big := fcgitest.StartUnix(t, fcgitest.Respond("X-A: 1\r\n\r\n"+strings.Repeat("x", 2048)))
	hb := newHandler(t, block(root, big, func(c *config.PHP) { n := config.ByteSize(1024); c.MaxResponseBytes = &n }))
	if res := do(hb, get("/info.php")); res.status != 502 {
		t.Fatalf("too large: %d %v", res.status, res.err)
	}
}

func TestMaxInFlight(t *testing.T) {
	root := makeRoot(t)
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) {
		started.Done()
		<-release
		w.Stdout([]byte("X-A: 1\r\n\r\nok"))
	})
	h := newHandler(t, block(root, srv, func(c *config.PHP) { two := 2; c.MaxInFlight = &two }))
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); do(h, get("/info.php")) }()
	}
	started.Wait()
	res := do(h, get("/info.php"))
	close(release)
	wg.Wait()
	if res.status != 503 {
		t.Fatalf("third request: %d", res.status)
	}
	if MetricsFor("test-"+t.Name()).Rejected.Load() != 1 {
		t.Fatal("rejection not counted")
	}
}

func TestRedirectsSlashlessDirectory(t *testing.T) {
	root := makeRoot(t)
	h := newHandler(t, block(root, nil, nil))
	res := do(h, get("/sub?x=1"))
	if res.status != 308 || res.header.Get("Location") != "/sub/?x=1" {
		t.Fatalf("%d %v", res.status, res.header)
	}
}

func TestStaticAndSourceNeverServed(t *testing.T) {
	root := makeRoot(t)
	h := newHandler(t, block(root, nil, func(c *config.PHP) { c.Preset = "wordpress" }))
	if res := do(h, get("/style.css")); res.status != 200 || res.body != "body{}" {
		t.Fatalf("static: %d %q", res.status, res.body)
	}
	for _, p := range []string{"/wp-content/uploads/evil.php", "/template.phtml"} {
		if res := do(h, get(p)); res.status != 403 || strings.Contains(res.body, "<?php") {
			t.Fatalf("%s: %d %q", p, res.status, res.body)
		}
	}
}

// A managed block dials <socket_dir>/<pool>.sock, the socket the master's
// php-fpm pool listens on (config.ManagedPoolName).
func TestManagedPoolSocket(t *testing.T) {
	root := makeRoot(t)
	srv := fcgitest.StartUnix(t, echoParams) // listens on <tmp>/fpm.sock
	c := &config.PHP{Root: root}
	c.FPM.Mode = config.PHPModeManaged
	c.FPM.SocketDir = filepath.Dir(srv.Addr)
	h, err := New(config.DefaultPHP(c), Deps{Vhost: "fpm"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if res := do(h, get("/info.php")); res.status != 200 {
		t.Fatalf("managed pool: %d %v", res.status, res.err)
	}
	route, err := New(config.DefaultPHP(&config.PHP{Root: root, FPM: c.FPM}), Deps{Vhost: "fpm", Route: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer route.Close()
	if res := do(route, get("/info.php")); res.status != 502 {
		t.Fatalf("route pool fpm--admin.sock does not exist, got %d", res.status)
	}
}
