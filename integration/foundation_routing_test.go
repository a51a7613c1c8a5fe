package integration

import (
	"net/http"
	"strings"
	"testing"
)

func TestFoundationRoutingPrecedence(t *testing.T) {
	t.Parallel()
	// Every route redirects to a URL naming it, so Location tells which
	// route matched; {uri} shows the request is passed along unchanged.
	s := fndStart(t, fndConfig("regex_enabled = true", 1, `
[[vhosts]]
name = "routes"
hosts = ["routes.test"]

[[vhosts.routes]]
name = "regex-first"
path_regex = "^/files/(\\d+)$"
[vhosts.routes.redirect]
to = "http://regex-first.test{uri}"

[[vhosts.routes]]
name = "regex-second"
path_regex = "^/files/"
[vhosts.routes.redirect]
to = "http://regex-second.test{uri}"

[[vhosts.routes]]
name = "regex-api"
path_regex = "^/api/v1/re/"
[vhosts.routes.redirect]
to = "http://regex-api.test{uri}"

[[vhosts.routes]]
name = "prefix-short"
path_prefix = "/api/"
[vhosts.routes.redirect]
to = "http://prefix-short.test{uri}"

[[vhosts.routes]]
name = "prefix-long"
path_prefix = "/api/v1/"
[vhosts.routes.redirect]
to = "http://prefix-long.test{uri}"

[[vhosts.routes]]
name = "exact"
path_exact = "/api/v1/exact"
[vhosts.routes.redirect]
to = "http://exact.test{uri}"

[[vhosts.routes]]
name = "fallback"
fallback = true
[vhosts.routes.redirect]
to = "http://fallback.test{uri}"

[[vhosts]]
name = "nofallback"
hosts = ["nofallback.test"]
[[vhosts.routes]]
path_prefix = "/only/"
[vhosts.routes.redirect]
to = "http://only.test{uri}"
`), nil, nil)
	for _, tc := range []struct {
		host, path, route string
	}{
		{"routes.test", "/api/v1/exact", "exact"},
		{"routes.test", "/api/v1/exact/", "prefix-long"}, // exact is exact
		{"routes.test", "/api/v1/exact?x=1", "exact"},    // the query is not part of the path
		{"routes.test", "/api/v1/other", "prefix-long"},
		{"routes.test", "/api/v1/re/12", "prefix-long"}, // any prefix beats every regex
		{"routes.test", "/api/v2/x", "prefix-short"},
		{"routes.test", "/api/", "prefix-short"},
		{"routes.test", "/api", "fallback"}, // "/api/" does not match "/api"
		{"routes.test", "/files/42", "regex-first"},
		{"routes.test", "/files/abc", "regex-second"}, // first regex in config order that matches
		{"routes.test", "/", "fallback"},
		{"routes.test", "/anything/else", "fallback"},
		// the path is cleaned before matching
		{"routes.test", "/x/../api/v1/exact", "exact"},
		{"routes.test", "//api//v1/exact", "exact"},
		{"routes.test", "/%61pi/v1/exact", "exact"},
	} {
		r := fndRaw(t, s.addr, "GET", "GET "+tc.path+" HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
		want := "http://" + tc.route + ".test" + tc.path
		if r.Status != 308 || r.Header.Get("Location") != want {
			t.Errorf("GET %s%s = %d Location %q, want 308 from route %q (%s)", tc.host, tc.path, r.Status, r.Header.Get("Location"), tc.route, want)
		}
		if r.Body != "" {
			t.Errorf("redirect with a body: %q", r.Body)
		}
	}
	// No route and no fallback: 404.
	if r := fndGet(t, s.url+"/elsewhere", "nofallback.test"); r.Status != 404 || r.Body != fndStatusBody(404) {
		t.Errorf("unmatched path without fallback = %d %q, want 404", r.Status, r.Body)
	}
	if r := fndGet(t, s.url+"/only/x", "nofallback.test"); r.Status != 308 || r.Header.Get("Location") != "http://only.test/only/x" {
		t.Errorf("GET /only/x = %d %q", r.Status, r.Header.Get("Location"))
	}
}

func TestFoundationRoutingMethods(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig("", 1, `
[[vhosts]]
name = "m"
hosts = ["m.test"]
[vhosts.proxy]
upstream = "{{.Vars.up}}"

[[vhosts.routes]]
name = "readonly"
path_prefix = "/ro/"
methods = ["GET", "POST"]
[vhosts.routes.proxy]

[[vhosts.routes]]
name = "anything"
path_prefix = "/any/"
[vhosts.routes.proxy]
`), nil, map[string]any{"up": up.hostport()})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ro/x", 200},
		{"HEAD", "/ro/x", 200}, // HEAD is allowed wherever GET is
		{"POST", "/ro/x", 200},
		{"PUT", "/ro/x", 405},
		{"DELETE", "/ro/x", 405},
		{"OPTIONS", "/ro/x", 405},
		{"PUT", "/any/x", 200},
		{"DELETE", "/any/x", 200},
	} {
		before := up.hits.Load()
		r := fndDo(t, tc.method, s.url+tc.path, "m.test", "")
		if r.Status != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, r.Status, tc.status)
		}
		if tc.status == 405 {
			if r.Header.Get("Allow") != "GET, POST" {
				t.Errorf("%s %s: Allow %q, want \"GET, POST\"", tc.method, tc.path, r.Header.Get("Allow"))
			}
			if up.hits.Load() != before {
				t.Errorf("%s %s: a refused method reached the upstream", tc.method, tc.path)
			}
		}
	}
}

func TestFoundationRoutingRewrites(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig("regex_enabled = true", 1, `
[[vhosts]]
name = "rw"
hosts = ["rw.test"]
[vhosts.proxy]
upstream = "{{.Vars.up}}"

[[vhosts.routes]]
name = "chat"
path_prefix = "/chat/"
strip_prefix = true
rewrite_prefix = "/v1/"
[vhosts.routes.proxy]

[[vhosts.routes]]
name = "api"
path_prefix = "/api"
strip_prefix = true
[vhosts.routes.proxy]

[[vhosts.routes]]
name = "legacy"
path_prefix = "/legacy/"
strip_prefix = "/legacy"
[vhosts.routes.proxy]

[[vhosts.routes]]
name = "users"
path_regex = "^/u/(?P<id>[0-9]+)/(\\w+)$"
rewrite_template = "/users/{route.regex.id}/{route.regex.2}"
[vhosts.routes.proxy]

[[vhosts.routes]]
name = "static"
path_prefix = "/assets/"
strip_prefix = true
[vhosts.routes.web]
root = "{{.Dir}}/assets"
`), map[string]string{"assets/app.css": "css-from-stripped-root\n"}, map[string]any{"up": up.hostport()})
	for _, tc := range []struct {
		target, upstream string
	}{
		{"/chat/room?x=1", "/v1/room?x=1"},
		{"/chat/a/b", "/v1/a/b"},
		{"/chat/", "/v1/"},
		{"/api/users?page=2", "/users?page=2"},
		{"/api", "/"},
		{"/apiary", "/ary"},
		{"/legacy/old/page", "/old/page"},
		{"/u/42/posts?sort=new", "/users/42/posts?sort=new"},
		{"/u/7/x", "/users/7/x"},
		{"/other/path?q=1", "/other/path?q=1"}, // no route: the vhost proxy, unchanged
	} {
		r := fndRaw(t, s.addr, "GET", "GET "+tc.target+" HTTP/1.1\r\nHost: rw.test\r\nConnection: close\r\n\r\n")
		e := fndEchoedRaw(t, r)
		if e.RequestURI != tc.upstream {
			t.Errorf("GET %s: upstream saw %q, want %q", tc.target, e.RequestURI, tc.upstream)
		}
	}
	// strip_prefix on a web route looks the stripped path up under root.
	if r := fndGet(t, s.url+"/assets/app.css", "rw.test"); r.Status != 200 || r.Body != "css-from-stripped-root\n" {
		t.Errorf("GET /assets/app.css = %d %q", r.Status, r.Body)
	}
}

func TestFoundationRoutingRedirects(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig("", 1, `
[[vhosts]]
name = "moved"
hosts = ["old.test"]
[vhosts.redirect]
to = "https://new.test{uri}"
status = 301

[[vhosts]]
name = "routes"
hosts = ["r.test"]
[vhosts.redirect]
to = "https://{host}/default{path}"

[[vhosts.routes]]
path_prefix = "/parts/"
[vhosts.routes.redirect]
to = "https://parts.test/p{path}?was={query}"
status = 302

[[vhosts.routes]]
path_exact = "/see-other"
[vhosts.routes.redirect]
to = "http://other.test/x"
status = 303

[[vhosts.routes]]
path_exact = "/temp"
[vhosts.routes.redirect]
to = "http://other.test{uri}"
status = 307
`), nil, nil)
	for _, tc := range []struct {
		host, target string
		status       int
		location     string
	}{
		{"old.test", "/a/b?c=d&e=f", 301, "https://new.test/a/b?c=d&e=f"},
		{"old.test", "/", 301, "https://new.test/"},
		{"old.test", "/%7Euser/x%20y", 301, "https://new.test/%7Euser/x%20y"},
		{"r.test", "/parts/wheel?size=17", 302, "https://parts.test/p/parts/wheel?was=size=17"},
		{"r.test", "/parts/none", 302, "https://parts.test/p/parts/none?was="},
		{"r.test", "/see-other?x=1", 303, "http://other.test/x"},
		{"r.test", "/temp?x=1", 307, "http://other.test/temp?x=1"},
		{"r.test", "/anything", 308, "https://r.test/default/anything"},
		{"R.Test:8080", "/anything", 308, "https://r.test/default/anything"},
	} {
		r := fndRaw(t, s.addr, "GET", "GET "+tc.target+" HTTP/1.1\r\nHost: "+tc.host+"\r\nConnection: close\r\n\r\n")
		if r.Status != tc.status || r.Header.Get("Location") != tc.location {
			t.Errorf("GET %s%s = %d %q, want %d %q", tc.host, tc.target, r.Status, r.Header.Get("Location"), tc.status, tc.location)
		}
		if r.Header.Get("Content-Length") != "0" || r.Body != "" {
			t.Errorf("GET %s%s: redirect body %q (Content-Length %q), want empty", tc.host, tc.target, r.Body, r.Header.Get("Content-Length"))
		}
	}
	// Redirects answer every method.
	if r := fndDo(t, "POST", s.url+"/x", "old.test", "data"); r.Status != 301 || r.Header.Get("Location") != "https://new.test/x" {
		t.Errorf("POST to a redirect vhost = %d %q", r.Status, r.Header.Get("Location"))
	}
}

// fndVhostFiles gives each vhost its own index page.
var fndVhostFiles = map[string]string{
	"www-exact/index.html":   "vhost exact\n",
	"www-wild/index.html":    "vhost wild\n",
	"www-default/index.html": "vhost default\n",
	"www-global/index.html":  "global web\n",
}

const fndVhostsConfig = `
[[vhosts]]
name = "exact"
hosts = ["site.test", "www.site.test", "127.0.0.1", "[::1]"]
[vhosts.web]
root = "{{.Dir}}/www-exact"

[[vhosts]]
name = "wild"
hosts = ["*.wild.test"]
[vhosts.web]
root = "{{.Dir}}/www-wild"

[[vhosts]]
name = "dflt"
[vhosts.web]
root = "{{.Dir}}/www-default"
`

func TestFoundationVhostSelection(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig(`default_vhost = "dflt"`, 1, fndVhostsConfig), fndVhostFiles, nil)
	for _, tc := range []struct {
		host, want string
	}{
		{"site.test", "vhost exact\n"},
		{"SITE.Test", "vhost exact\n"},
		{"site.test:8080", "vhost exact\n"},
		{"site.test.", "vhost exact\n"},
		{"www.site.test", "vhost exact\n"},
		{"127.0.0.1", "vhost exact\n"},
		{"[::1]:80", "vhost exact\n"},
		{"a.wild.test", "vhost wild\n"},
		{"B.WILD.TEST:99", "vhost wild\n"},
		{"a.b.wild.test", "vhost default\n"}, // one label only
		{"wild.test", "vhost default\n"},     // the wildcard needs a label
		{"unknown.test", "vhost default\n"},
		{"bad_host-", "vhost default\n"}, // invalid host, not strict: default_vhost
	} {
		r := fndGet(t, s.url+"/", tc.host)
		if r.Status != 200 || r.Body != tc.want {
			t.Errorf("Host %q = %d %q, want %q", tc.host, r.Status, r.Body, tc.want)
		}
	}
	// HTTP/1.0 without Host: default_vhost.
	r := fndRaw(t, s.addr, "GET", "GET / HTTP/1.0\r\n\r\n")
	if r.Status != 200 || r.Body != "vhost default\n" {
		t.Errorf("HTTP/1.0 without Host = %d %q, want the default vhost", r.Status, r.Body)
	}

	// Without default_vhost: the global [web]; without that: 404.
	s2 := fndStart(t, fndConfig("", 1, `[web]
root = "{{.Dir}}/www-global"
`+fndVhostsConfig), fndVhostFiles, nil)
	if r := fndGet(t, s2.url+"/", "unknown.test"); r.Status != 200 || r.Body != "global web\n" {
		t.Errorf("no default_vhost, global [web]: unknown host = %d %q", r.Status, r.Body)
	}
	s3 := fndStart(t, fndConfig("", 1, fndVhostsConfig), fndVhostFiles, nil)
	if r := fndGet(t, s3.url+"/", "unknown.test"); r.Status != 404 || r.Body != fndStatusBody(404) {
		t.Errorf("no default_vhost, no global: unknown host = %d %q, want 404", r.Status, r.Body)
	}
	if r := fndGet(t, s3.url+"/", "x.wild.test"); r.Status != 200 || r.Body != "vhost wild\n" {
		t.Errorf("wildcard without default = %d %q", r.Status, r.Body)
	}
}

func TestFoundationVhostStrictHostRouting(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig(`default_vhost = "dflt"
[server.host_routing]
strict = true`, 1, `[web]
root = "{{.Dir}}/www-global"
`+fndVhostsConfig), fndVhostFiles, nil)
	for _, tc := range []struct {
		name, raw string
		status    int
		body      string
	}{
		{"known host", "GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n", 200, "vhost exact\n"},
		{"wildcard host", "GET / HTTP/1.1\r\nHost: q.wild.test\r\nConnection: close\r\n\r\n", 200, "vhost wild\n"},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 400, fndStatusBody(400)},
		{"empty Host", "GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n", 400, fndStatusBody(400)},
		{"invalid Host", "GET / HTTP/1.1\r\nHost: bad_host-\r\nConnection: close\r\n\r\n", 400, fndStatusBody(400)},
		{"Host with a percent", "GET / HTTP/1.1\r\nHost: a%2e.test\r\nConnection: close\r\n\r\n", 400, fndStatusBody(400)},
		{"unknown host", "GET / HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n\r\n", 421, fndStatusBody(421)},
		{"two labels under the wildcard", "GET / HTTP/1.1\r\nHost: a.b.wild.test\r\nConnection: close\r\n\r\n", 421, fndStatusBody(421)},
	} {
		r := fndRaw(t, s.addr, "GET", tc.raw)
		if r.Status != tc.status || r.Body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.Status, r.Body, tc.status, tc.body)
		}
		if strings.Contains(r.Body, "vhost default") || strings.Contains(r.Body, "global web") {
			t.Errorf("%s: strict mode used a fallback: %q", tc.name, r.Body)
		}
	}
}

func TestFoundationVhostWebAndProxy(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig("", 1, `
[[vhosts]]
name = "app"
hosts = ["app.test"]
[vhosts.web]
root = "{{.Dir}}/public"
[vhosts.proxy]
upstream = "{{.Vars.up}}"
`), map[string]string{
		"public/static.txt":      "served statically\n",
		"public/docs/index.html": "docs index\n",
		"public/empty/.gitkeep":  "",
		"public/.env":            "dot\n",
	}, map[string]any{"up": up.hostport()})
	for _, tc := range []struct {
		method, path string
		static       bool
		body         string
	}{
		{"GET", "/static.txt", true, "served statically\n"},
		{"HEAD", "/static.txt", true, ""},
		{"GET", "/docs/", true, "docs index\n"},
		{"GET", "/static.txt?v=2", true, "served statically\n"},
		{"GET", "/api/users", false, ""},
		{"GET", "/missing.txt", false, ""},
		{"GET", "/empty/", false, ""}, // a directory without index (listing off) is not servable
		{"GET", "/.env", false, ""},   // denied dotfiles are not "existing files"
		{"POST", "/static.txt", false, ""},
		{"DELETE", "/static.txt", false, ""},
	} {
		before := up.hits.Load()
		r := fndDo(t, tc.method, s.url+tc.path, "app.test", "")
		hit := up.hits.Load() != before
		if tc.static {
			if r.Status != 200 || r.Body != tc.body || hit || r.Header.Get("X-Upstream") != "" {
				t.Errorf("%s %s = %d %q (upstream hit %v), want static %q", tc.method, tc.path, r.Status, r.Body, hit, tc.body)
			}
			continue
		}
		if r.Status != 200 || !hit || r.Header.Get("X-Upstream") != "echo" {
			t.Errorf("%s %s = %d %q (upstream hit %v), want proxied", tc.method, tc.path, r.Status, r.Body, hit)
			continue
		}
		if tc.method != http.MethodHead {
			if e := fndEchoedOf(t, r); e.Method != tc.method || e.Path != strings.Split(tc.path, "?")[0] {
				t.Errorf("%s %s: upstream saw %s %s", tc.method, tc.path, e.Method, e.Path)
			}
		}
	}
}
