package router

import (
	"net/http"
	"testing"

	"github.com/fluxheim/fluxheim/shared/config"
)

// nameAction identifies which spec built an action.
type nameAction string

func (nameAction) Serve(http.ResponseWriter, *http.Request, *Target) error { return nil }

func mk(s Spec) (Action, error) {
	switch {
	case s.Demo:
		return nameAction("demo"), nil
	case s.Route != "":
		return nameAction(s.Vhost + "/" + s.Route), nil
	case s.Redirect != nil:
		return nameAction(s.Vhost + "/redirect"), nil
	}
	return nameAction(s.Vhost + "/vhost"), nil
}

func pol([]*config.Headers, []string) (any, error) { return nil, nil }

const routingTOML = `
[server]
regex_enabled = true
[web]
root = "/srv/global"
[[vhosts]]
name = "a"
hosts = ["a.test", "*.wild.test"]
[vhosts.web]
root = "/srv/a"
[[vhosts.routes]]
name = "exact"
path_exact = "/api/status"
[vhosts.routes.web]
[[vhosts.routes]]
name = "short"
path_prefix = "/api"
methods = ["GET"]
[vhosts.routes.web]
[[vhosts.routes]]
name = "long"
path_prefix = "/api/v2/"
strip_prefix = true
rewrite_prefix = "/internal/"
[vhosts.routes.web]
[[vhosts.routes]]
name = "re1"
path_regex = '^/u/(?P<id>\d+)$'
rewrite_template = "/users/{route.regex.id}"
[vhosts.routes.web]
[[vhosts.routes]]
name = "re2"
path_regex = '^/u/'
[vhosts.routes.web]
[[vhosts]]
name = "b"
hosts = ["b.test"]
[vhosts.redirect]
to = "https://x.test{uri}"
[[vhosts.routes]]
name = "keep"
path_exact = "/keep"
[vhosts.routes.web]
root = "/srv/b"
`

func table(t testing.TB, extra string) *Table {
	t.Helper()
	c, err := config.Parse("/etc/fluxheim/t.toml", []byte(extra+routingTOML))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Build(c, mk, pol)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestHostSelection(t *testing.T) {
	tb := table(t, "")
	for host, want := range map[string]string{
		"a.test": "a", "A.TEST:8080": "a", "a.test.": "a", "x.wild.test": "a",
		"wild.test": "", "x.y.wild.test": "", "b.test": "b", "unknown.test": "", "": "",
		"bad host": "", "[::1]:80": "",
	} {
		v, _, st := tb.Vhost(host)
		if st != Found || v == nil {
			t.Errorf("%q: status %d", host, st)
			continue
		}
		if v.Name != want {
			t.Errorf("%q → vhost %q, want %q", host, v.Name, want)
		}
	}
}

func TestStrictHostRouting(t *testing.T) {
	tb := table(t, "[server.host_routing]\nstrict = true\n")
	for host, want := range map[string]int{"a.test": Found, "unknown.test": UnknownHost, "": BadHost, "-bad-.test": BadHost, "a%2e.test": BadHost} {
		if _, _, st := tb.Vhost(host); st != want {
			t.Errorf("%q: status %d, want %d", host, st, want)
		}
	}
}

func TestRoutePrecedenceAndRewrites(t *testing.T) {
	tb := table(t, "")
	v, _, _ := tb.Vhost("a.test")
	for _, tc := range []struct{ path, route, target string }{
		{"/api/status", "a/exact", "/api/status"},      // exact beats prefix
		{"/api/status/x", "a/short", "/api/status/x"},  // prefix
		{"/api/v2/items", "a/long", "/internal/items"}, // longest prefix, strip + rewrite
		{"/api/v2/", "a/long", "/internal/"},
		{"/apix", "a/short", "/apix"},   // plain string prefix, as nginx
		{"/u/42", "a/re1", "/users/42"}, // first matching regex, rewrite_template
		{"/u/abc", "a/re2", "/u/abc"},
		{"/other", "a/vhost", "/other"}, // vhost action as fallback
	} {
		var tgt Target
		r := v.Match(tc.path, tc.path, &tgt)
		if r == nil || string(r.Action.(nameAction)) != tc.route {
			t.Errorf("%s → %v, want %s", tc.path, r, tc.route)
			continue
		}
		if tgt.Path != tc.target || tgt.EscapedPath != tc.target {
			t.Errorf("%s → target %q/%q, want %q", tc.path, tgt.Path, tgt.EscapedPath, tc.target)
		}
	}
	vb, _, _ := tb.Vhost("b.test")
	var tgt Target
	if r := vb.Match("/anything", "/anything", &tgt); string(r.Action.(nameAction)) != "b/redirect" {
		t.Errorf("vhost redirect is not the fallback: %v", r.Action)
	}
	d, _, _ := tb.Vhost("nomatch.test")
	if r := d.Match("/", "/", &tgt); string(r.Action.(nameAction)) != "/vhost" {
		t.Errorf("global [web] is not the fallback: %v", r.Action)
	}
}

func TestMethods(t *testing.T) {
	tb := table(t, "")
	v, _, _ := tb.Vhost("a.test")
	var tgt Target
	r := v.Match("/api", "/api", &tgt)
	if !r.AllowsMethod("GET") || !r.AllowsMethod("HEAD") || r.AllowsMethod("POST") || r.Allow != "GET" {
		t.Errorf("methods: allow=%q", r.Allow)
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"/": "/", "/a/b": "/a/b", "/a//b": "/a/b", "/a/./b/": "/a/b/", "/a/../b": "/b",
		"/.well-known/x": "/.well-known/x", "/a/..": "/",
	} {
		if got, ok := CleanPath(in); !ok || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "a", "/..", "/a/../../b", "/\x00"} {
		if _, ok := CleanPath(bad); ok {
			t.Errorf("CleanPath(%q) accepted", bad)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	tb := table(t, "")
	var tgt Target
	allocs := testing.AllocsPerRun(100, func() {
		v, _, _ := tb.Vhost("A.test:80")
		p, _ := CleanPath("/api/status/x")
		v.Match(p, p, &tgt)
	})
	if allocs > 1 { // lower-casing the host is the one allowed allocation
		t.Errorf("routing allocated %.1f times per request", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		v, _, _ := tb.Vhost("a.test")
		v.Match("/api/status/x", "/api/status/x", &tgt)
	})
	if allocs != 0 {
		t.Errorf("routing a lower-case host allocated %.1f times", allocs)
	}
}

func FuzzRoute(f *testing.F) {
	tb := table(f, "")
	for _, s := range []string{"a.test|/api/v2/x", "x.wild.test|/u/1", "|/", "B.TEST:1|/keep", "[::1]|/a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, path, _ := cutPipe(s)
		v, _, st := tb.Vhost(host)
		if st != Found {
			return
		}
		p, ok := CleanPath(path)
		if !ok {
			return
		}
		var tgt Target
		if r := v.Match(p, EscapePath(p), &tgt); r != nil && (tgt.Path == "" || tgt.Path[0] != '/') {
			t.Fatalf("%q → target %q", s, tgt.Path)
		}
	})
}

func cutPipe(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "/", false
}

func BenchmarkRoute(b *testing.B) {
	tb := table(b, "")
	var tgt Target
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := tb.Vhost("a.test")
		v.Match("/api/v2/items", "/api/v2/items", &tgt)
	}
}
