// Package etc holds fluxheim's example configurations. This test loads
// every example through the real config pipeline, so an example that stops
// validating (a renamed key, a tightened bound) fails the build.
//
// Examples are discovered by listing this directory, so a new example is
// checked without touching the test:
//   - every top-level *.toml file is a single-file config;
//   - every subdirectory is a config too: its fluxheim.toml when it has one
//     (a main file that may pull in conf.d/ with include_conf_d), else the
//     directory itself (a split config: its *.toml, then conf.d/*.toml).
package etc

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/features"
)

// example is one config to load: path is what -c would be given.
type example struct {
	name string
	path string
	dir  string // directory whose *.toml and conf.d/*.toml must all be read ("" for a lone file)
}

func examples(t *testing.T) []example {
	t.Helper()
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		switch {
		case e.Type().IsRegular() && strings.HasSuffix(n, ".toml"):
			out = append(out, example{name: n, path: n})
		case e.IsDir():
			main := filepath.Join(n, "fluxheim.toml")
			if fi, err := os.Lstat(main); err == nil && fi.Mode().IsRegular() {
				out = append(out, example{name: main, path: main, dir: n})
			} else {
				out = append(out, example{name: n + "/", path: n, dir: n})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no example configs found in etc/")
	}
	return out
}

// load loads an example as `fluxheim --check-config` does: everything but
// the checks that need this machine's file system (static roots, log and
// pid directories).
func load(t *testing.T, path string) *config.Config {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(abs, config.Options{SkipRuntimePaths: true})
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) && onlyMissingModules(errs) {
			// An example of an optional module (php-fpm, acme-client) in a
			// build without it: the refusal itself is the right answer.
			t.Skipf("%s needs a module this build leaves out: %v", path, errs[0])
		}
		if errors.As(err, &errs) {
			lines := make([]string, len(errs))
			for i, e := range errs {
				lines[i] = "  " + e.Error()
			}
			t.Fatalf("%s: %d config error(s):\n%s", path, len(errs), strings.Join(lines, "\n"))
		}
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func needModules(t *testing.T) {
	t.Helper()
	for _, m := range []string{"web", "proxy"} {
		if !features.Has(m) {
			t.Skipf("the examples need module %q, which this build leaves out", m)
		}
	}
}

// TestExamplesValidate loads every example and checks that it was read
// whole: every TOML file of a directory example (and of its conf.d/) is
// among the sources, and no example relies on keys that only warn.
func TestExamplesValidate(t *testing.T) {
	needModules(t)
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			c := load(t, ex.path)
			if len(c.Warnings) > 0 {
				t.Errorf("%s: examples should not use keys that only warn:\n  %s", ex.path, strings.Join(c.Warnings, "\n  "))
			}
			if ex.dir == "" {
				return
			}
			want := tomlFiles(t, ex.dir)
			want = append(want, tomlFiles(t, filepath.Join(ex.dir, "conf.d"))...)
			got := slices.Clone(c.Sources)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: sources read\n  %v\nwant every TOML file of the example\n  %v", ex.path, got, want)
			}
		})
	}
}

// tomlFiles lists the visible *.toml files of dir as absolute paths (none
// when dir does not exist).
func tomlFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".toml") {
			abs, err := filepath.Abs(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, abs)
		}
	}
	return out
}

func vhostNames(c *config.Config) []string {
	var out []string
	for _, v := range c.Vhosts {
		out = append(out, v.Name)
	}
	return out
}

func vhost(t *testing.T, c *config.Config, name string) *config.Vhost {
	t.Helper()
	for i := range c.Vhosts {
		if c.Vhosts[i].Name == name {
			return &c.Vhosts[i]
		}
	}
	t.Fatalf("no vhost %q (have %v)", name, vhostNames(c))
	return nil
}

// The values below prove the examples are really read and resolved: they
// come from specific files, lines and inheritance rules.

func TestSplitConfig(t *testing.T) {
	needModules(t)
	c := load(t, "split")
	if got, want := vhostNames(c), []string{"site-a", "site-b"}; !slices.Equal(got, want) {
		t.Errorf("vhosts = %v, want %v (one per conf.d fragment, in lexical order)", got, want)
	}
	// 00-server.toml, conf.d/10-site-a.toml and conf.d/20-site-b.toml each
	// contribute trusted proxies; the duplicate 10.0.0.0/8 appears once.
	want := []string{"10.0.0.0/8", "192.0.2.0/28", "2001:db8:b::/48"}
	if got := c.Server.TrustedProxies; !slices.Equal(got, want) {
		t.Errorf("server.trusted_proxies = %v, want %v (extended across fragments)", got, want)
	}
	// [server] keys of 00-server.toml survive the fragments' [server] tables.
	if got := c.Server.Listen; !slices.Equal(got, []string{"0.0.0.0:80", "[::]:80"}) {
		t.Errorf("server.listen = %v", got)
	}
	b := vhost(t, c, "site-b")
	if b.Proxy == nil || b.Proxy.Target() != "site-b.internal:8080" {
		t.Fatalf("site-b proxy = %+v, want upstream site-b.internal:8080", b.Proxy)
	}
	if got := *b.Proxy.ConnectTimeoutSecs; got != 3 {
		t.Errorf("site-b connect_timeout_secs = %d, want 3 inherited from [proxy] in 00-server.toml", got)
	}
	if got := int64(*b.MaxRequestBodyBytes); got != 64<<20 {
		t.Errorf("site-b max_request_body_bytes = %d, want 64MiB", got)
	}
}

func TestIncludeConfD(t *testing.T) {
	needModules(t)
	c := load(t, filepath.Join("include-conf-d", "fluxheim.toml"))
	if !c.IncludeConfD {
		t.Error("include_conf_d = false, want true")
	}
	if got, want := vhostNames(c), []string{"main", "blog", "status"}; !slices.Equal(got, want) {
		t.Errorf("vhosts = %v, want %v (main file, then conf.d/ in lexical order)", got, want)
	}
	blog := vhost(t, c, "blog")
	if blog.Web == nil || *blog.Web.CacheControl != "public, max-age=120" {
		t.Errorf("blog web = %+v, want cache_control inherited from the main file's [web]", blog.Web)
	}
}

func TestFullExample(t *testing.T) {
	needModules(t)
	c := load(t, "fluxheim.toml")
	if got, want := vhostNames(c), []string{"example", "api", "docs", "legacy", "app"}; !slices.Equal(got, want) {
		t.Errorf("vhosts = %v, want %v", got, want)
	}
	if !c.Server.RegexEnabled || c.Server.DefaultVhost != "example" {
		t.Errorf("server: regex_enabled=%v default_vhost=%q", c.Server.RegexEnabled, c.Server.DefaultVhost)
	}

	// Every matcher kind and every action appears somewhere.
	matchers := map[string]bool{}
	actions := map[string]bool{}
	for _, v := range c.Vhosts {
		for _, r := range v.Routes {
			switch {
			case r.PathExact != "":
				matchers["path_exact"] = true
			case r.PathPrefix != "":
				matchers["path_prefix"] = true
			case r.PathRegex != "":
				matchers["path_regex"] = true
			case r.Fallback:
				matchers["fallback"] = true
			}
			switch {
			case r.Web != nil:
				actions["web"] = true
			case r.Proxy != nil:
				actions["proxy"] = true
			case r.Redirect != nil:
				actions["redirect"] = true
			}
		}
	}
	if len(matchers) != 4 || len(actions) != 3 {
		t.Errorf("routes use matchers %v and actions %v, want all four and all three", matchers, actions)
	}

	ex := vhost(t, c, "example")
	var api *config.Route
	for i := range ex.Routes {
		if ex.Routes[i].Name == "api" {
			api = &ex.Routes[i]
		}
	}
	if api == nil {
		t.Fatal(`vhost "example" has no route "api"`)
	}
	// The route proxy names no upstream: it comes from the global [proxy];
	// read_timeout_secs is the route's own, the pool size the global block's.
	if api.Proxy.Target() != "127.0.0.1:8081" || *api.Proxy.ReadTimeoutSecs != 30 || *api.Proxy.UpstreamKeepalivePoolSize != 64 {
		t.Errorf("route api proxy = upstream %q read %d pool %d, want 127.0.0.1:8081 / 30 / 64",
			api.Proxy.Target(), *api.Proxy.ReadTimeoutSecs, *api.Proxy.UpstreamKeepalivePoolSize)
	}
	if int64(*api.MaxRequestBodyBytes) != 8<<20 || !api.StripPrefix.Set || api.RewritePrefix != "/v1/" {
		t.Errorf("route api: body %v strip %+v rewrite_prefix %q", api.MaxRequestBodyBytes, api.StripPrefix, api.RewritePrefix)
	}
	// Header policies stay as written per level (the worker merges global →
	// vhost → route): the vhost block holds its CSP, the global block the
	// remove list.
	resp := ex.Headers.Response
	if resp.ContentSecurityPolicy == nil || *resp.ContentSecurityPolicy != "default-src 'self'" {
		t.Errorf("vhost example response headers = %+v", resp)
	}
	if g := c.Headers; g == nil || g.Response == nil || !slices.Contains(g.Response.Remove, "X-Powered-By") {
		t.Errorf("global response headers = %+v", g)
	}
}

// onlyMissingModules reports whether every error says a module is not
// built into this binary.
func onlyMissingModules(errs config.Errors) bool {
	for _, e := range errs {
		if !strings.Contains(e.Msg, "which this binary was built without") {
			return false
		}
	}
	return len(errs) > 0
}
