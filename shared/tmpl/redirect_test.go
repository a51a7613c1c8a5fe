package tmpl

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/worker/reqctx"
)

func TestParseRedirectErrors(t *testing.T) {
	for _, tc := range []struct{ to, want string }{
		{"/relative{uri}", "absolute http:// or https://"},
		{"ftp://example.org/", "absolute http:// or https://"},
		{"{host}/x", "must start with http:// or https://"},
		{"https://user@example.org/", "'@' not allowed in the authority"},
		{"https://{host}@evil.example/", "'@' not allowed in the authority"},
		{"https://example.org{query}", "{query} is only allowed after the authority"},
		{"https://{query}.example/", "{query} is only allowed after the authority"},
		{"https://{uri}", "empty authority"},
		{"https:///path", "empty authority"},
		{"https://", "empty authority"},
		{"https://example.org/{request_id}", "variable {request_id} not allowed"},
		{"https://example.org/{remote_addr}", "variable {remote_addr} not allowed"},
		{"https://example.org/a b", "byte 0x20 not allowed"},
		{"https://example.org\\@evil/", "byte 0x5c not allowed"},
		{"https://example.org/{uri", "unbalanced '{'"},
	} {
		_, err := ParseRedirect(tc.to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRedirect(%q) error = %v, want %q", tc.to, err, tc.want)
		}
	}
}

func TestRedirectRender(t *testing.T) {
	for _, tc := range []struct {
		to, target, host, infoHost, want string
	}{
		{"https://example.org{uri}", "/a/b?c=1", "www.example.org", "", "https://example.org/a/b?c=1"},
		{"https://{host}{uri}", "/x", "WWW.Example.org:8080", "", "https://www.example.org/x"},
		{"https://{host}{uri}", "/x", "ignored", "vhost.example", "https://vhost.example/x"},
		{"HTTPS://{host}:8443{path}?from=old&{query}", "/p?q=2", "example.org", "", "HTTPS://example.org:8443/p?from=old&q=2"},
		{"https://{host}/", "/", "[2001:DB8::1]:443", "", "https://[2001:db8::1]/"},
		{"http://static.example/fixed", "/ignored", "h", "", "http://static.example/fixed"},
		{"https://example.org{path}", "//evil.example/x", "h", "", "https://example.org//evil.example/x"},
		{"https://example.org/q?{query}", "/p?%0d%0a=1", "h", "", "https://example.org/q?%0d%0a=1"},
	} {
		rt, err := ParseRedirect(tc.to)
		if err != nil {
			t.Fatalf("ParseRedirect(%q): %v", tc.to, err)
		}
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		if tc.infoHost != "" {
			r = r.WithContext(reqctx.With(r.Context(), &reqctx.Info{Host: tc.infoHost}))
		}
		if got := rt.Render(r); got != tc.want {
			t.Errorf("%q on %q host %q = %q, want %q", tc.to, tc.target, tc.host, got, tc.want)
		}
	}
}

func TestRedirectUnsafeHost(t *testing.T) {
	rt, err := ParseRedirect("https://{host}{uri}")
	if err != nil || !rt.UsesHost() {
		t.Fatal(err)
	}
	for _, h := range []string{"", "evil.example@x", "a b", "fe80::1%25eth0", "x/y"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = h
		if got := rt.Render(r); got != "" {
			t.Errorf("host %q rendered %q, want empty (400)", h, got)
		}
	}
}
