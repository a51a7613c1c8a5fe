package integration

// [server.https_redirect] and [headers.response.hsts] with real clients:
// HSTS only on HTTPS responses, the cleartext redirect with its target
// port, the per-route exemption and the ACME HTTP-01 path exemption.

import (
	"strings"
	"testing"
)

func TestTLSHSTSAndHTTPSRedirect(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim redirect CA")
	dir := tlsPKIDir(t)
	crt, key := ca.issue(t, "site.test", []string{"site.test"}, nil, false).writePair(t, dir, "site")
	const hstsValue = "max-age=600; includeSubDomains"
	site := `
[headers.response.hsts]
max_age_secs = 600
include_subdomains = true

[[vhosts]]
name = "main"
hosts = ["site.test"]

[[vhosts.routes]]
name = "exempt"
path_prefix = "/exempt/"
https_redirect_exempt = true
[vhosts.routes.web]
root = "{{.Dir}}/www"

[[vhosts.routes]]
name = "files"
path_prefix = "/"
[vhosts.routes.web]
root = "{{.Dir}}/www"
`
	files := map[string]string{"www/exempt/index.html": "exempt\n", "www/a/b.txt": "b\n"}

	t.Run("redirect", func(t *testing.T) {
		t.Parallel()
		s := tlsStart(t, tlsConf{
			Certs: []tlsPair{{crt, key}},
			ServerTables: `[server.https_redirect]
enabled = true
target_port = {{port "https"}}`,
			Rest: site,
		}, files)
		port := portOf(s.https)
		for _, tc := range []struct{ host, uri, want string }{
			{"site.test", "/a/b.txt?x=1&y=%20z", "https://site.test:" + port + "/a/b.txt?x=1&y=%20z"},
			{"site.test:" + portOf(s.http), "/", "https://site.test:" + port + "/"}, // the cleartext port is dropped
			{"SITE.test", "/index.html", "https://site.test:" + port + "/index.html"},
		} {
			r := fndGet(t, "http://"+s.http+tc.uri, tc.host)
			if r.Status != 308 || r.Header.Get("Location") != tc.want {
				t.Errorf("cleartext GET %s (Host %s): %d Location %q, want 308 %q", tc.uri, tc.host, r.Status, r.Header.Get("Location"), tc.want)
			}
			if v := r.Header.Get("Strict-Transport-Security"); v != "" {
				t.Errorf("cleartext redirect carries Strict-Transport-Security %q", v)
			}
		}
		// curl follows the redirect onto TLS and sees HSTS there only.
		caFile := tlsCAFile(t, ca)
		out, errOut, code := tlsCurl(t, "-L", "-D", "-", "--cacert", caFile,
			"--resolve", "site.test:"+portOf(s.http)+":127.0.0.1", "--resolve", "site.test:"+port+":127.0.0.1",
			"http://site.test:"+portOf(s.http)+"/a/b.txt")
		if code != 0 {
			t.Fatalf("curl -L: exit %d, stderr %q", code, errOut)
		}
		parts := strings.SplitN(out, "\r\n\r\n", 2)
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "HTTP/1.1 308") || strings.Contains(strings.ToLower(parts[0]), "strict-transport-security") {
			t.Errorf("curl -L: first response:\n%s", parts[0])
		}
		if len(parts) == 2 && (!strings.Contains(parts[1], "strict-transport-security: "+hstsValue) || !strings.HasSuffix(parts[1], "\r\n\r\nb\n")) {
			t.Errorf("curl -L: HTTPS response without HSTS %q or body:\n%s", hstsValue, parts[1])
		}
		// The exempt route answers on cleartext, without HSTS.
		r := fndGet(t, "http://"+s.http+"/exempt/", "site.test")
		if r.Status != 200 || r.Body != "exempt\n" || r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("exempt route on cleartext: %d %q STS %q; want 200 without HSTS", r.Status, r.Body, r.Header.Get("Strict-Transport-Security"))
		}
		// ACME HTTP-01 paths are never redirected (no token published
		// here: the route answers, 404).
		r = fndGet(t, "http://"+s.http+"/.well-known/acme-challenge/some-token", "site.test")
		if r.Status == 308 || r.Header.Get("Location") != "" {
			t.Errorf("ACME challenge path on cleartext: %d Location %q; want no redirect", r.Status, r.Header.Get("Location"))
		}
		// ... but dot segments leading out of it are.
		r = fndGet(t, "http://"+s.http+"/.well-known/acme-challenge/../../a/b.txt", "site.test")
		if r.Status != 308 {
			t.Errorf("/.well-known/acme-challenge/../../a/b.txt on cleartext: %d %q; want the 308 redirect", r.Status, r.Body)
		}
		// HTTPS responses carry HSTS, also on the exempt route and on errors.
		client := tlsClient("site.test", ca.pool, nil, false, false)
		for _, p := range []string{"/a/b.txt", "/exempt/", "/missing"} {
			resp, _, err := tlsGet(client, "https://"+s.https+p, "site.test")
			if err != nil {
				t.Fatalf("HTTPS GET %s: %v", p, err)
			}
			if v := resp.Header.Get("Strict-Transport-Security"); v != hstsValue {
				t.Errorf("HTTPS GET %s: %d, Strict-Transport-Security %q, want %q", p, resp.StatusCode, v, hstsValue)
			}
		}
	})
	t.Run("status and default port", func(t *testing.T) {
		t.Parallel()
		s := tlsStart(t, tlsConf{
			Certs: []tlsPair{{crt, key}},
			ServerTables: `[server.https_redirect]
enabled = true
status = 301`,
			Rest: site,
		}, files)
		r := fndGet(t, "http://"+s.http+"/x?q", "site.test")
		if r.Status != 301 || r.Header.Get("Location") != "https://site.test/x?q" {
			t.Errorf("status = 301 without target_port: %d Location %q, want 301 https://site.test/x?q", r.Status, r.Header.Get("Location"))
		}
		// HTTP/1.0 without Host: no safe host to redirect to.
		raw := fndRaw(t, s.http, "GET", "GET /x HTTP/1.0\r\n\r\n")
		if raw.Status != 400 {
			t.Errorf("cleartext request without a Host: %q, want 400", raw.Raw)
		}
	})
	t.Run("no redirect", func(t *testing.T) {
		t.Parallel()
		// Without the redirect, cleartext is served, never with HSTS.
		s := tlsStart(t, tlsConf{Certs: []tlsPair{{crt, key}}, Rest: site}, files)
		for _, p := range []string{"/a/b.txt", "/missing"} {
			r := fndGet(t, "http://"+s.http+p, "site.test")
			if r.Header.Get("Strict-Transport-Security") != "" {
				t.Errorf("cleartext GET %s: %d with Strict-Transport-Security %q", p, r.Status, r.Header.Get("Strict-Transport-Security"))
			}
		}
		resp, body, err := tlsGet(tlsClient("site.test", ca.pool, nil, true, false), "https://"+s.https+"/a/b.txt", "site.test")
		if err != nil {
			t.Fatalf("HTTPS (h2) GET: %v", err)
		}
		if body != "b\n" || resp.ProtoMajor != 2 || resp.Header.Get("Strict-Transport-Security") != hstsValue {
			t.Errorf("HTTPS GET: %s %q, Strict-Transport-Security %q; want HTTP/2 with %q", resp.Proto, body, resp.Header.Get("Strict-Transport-Security"), hstsValue)
		}
	})
}
