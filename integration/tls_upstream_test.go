package integration

// Upstream TLS for the proxy against Go httptest TLS origins (their
// certificate names example.com and 127.0.0.1): verification with
// upstream_ca_path and upstream_sni, a wrong SNI, verification off, the
// alternative CN, origin mTLS and HTTP/2 to the origin.

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// tlsOrigin starts an httptest TLS server answering "proto=HTTP/x.y
// sni=NAME cert=CN" (cert: the client certificate's CommonName, "-"
// without one); configure may adjust it before it starts.
func tlsOrigin(t *testing.T, configure func(*httptest.Server)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "-"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		fmt.Fprintf(w, "proto=%s sni=%s cert=%s", r.Proto, sni, cn)
	}))
	// Refused handshakes are the point of several cases: keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if configure != nil {
		configure(srv)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSUpstream(t *testing.T) {
	t.Parallel()
	dir := tlsPKIDir(t)
	clientCA := tlsNewCA(t, "Fluxheim origin client CA")
	proxyCert := clientCA.issue(t, "fluxheim-proxy", nil, nil, true)
	clientCrt, clientKey := proxyCert.writePair(t, dir, "proxy-client")

	plain := tlsOrigin(t, nil)
	mtls := tlsOrigin(t, func(s *httptest.Server) {
		s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA.pool}
	})
	h2 := tlsOrigin(t, func(s *httptest.Server) { s.EnableHTTP2 = true })
	// Every httptest server has the same certificate, its own CA.
	originCA := filepath.Join(dir, "origin-ca.pem")
	tlsWrite(t, originCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: plain.Certificate().Raw}), 0o644)

	ca := tlsNewCA(t, "Fluxheim front CA")
	crt, key := ca.issue(t, "main.test", []string{"main.test"}, nil, false).writePair(t, dir, "front")

	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }
	route := func(name, upstream, keys string) string {
		return fmt.Sprintf(`
[[vhosts.routes]]
name = %q
path_prefix = "/%s/"
[vhosts.routes.proxy]
upstreams = [%q]
%s
`, name, name, upstream, keys)
	}
	rest := `
[[vhosts]]
name = "main"
hosts = ["main.test"]
` + route("ok", addr(plain), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"`) +
		route("badsni", addr(plain), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "wrong.example.org"`) +
		route("altcn", addr(plain), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "origin.internal"
upstream_alternative_cn = "example.com"`) +
		route("noca", addr(plain), `upstream_tls = true
upstream_sni = "example.com"`) +
		route("noverify", addr(plain), `upstream_tls = true
upstream_verify_cert = false
upstream_verify_hostname = false`) +
		route("nohostcheck", addr(plain), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "wrong.example.org"
upstream_verify_hostname = false`) +
		route("mtls", addr(mtls), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"
upstream_client_cert_path = "`+clientCrt+`"
upstream_client_key_path = "`+clientKey+`"`) +
		route("nomtls", addr(mtls), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"`) +
		route("h2", addr(h2), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"
upstream_http_version = "http2"`) +
		route("h1and2", addr(h2), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"
upstream_http_version = "http1-and-http2"`) +
		route("h1", addr(h2), `upstream_tls = true
upstream_ca_path = "`+originCA+`"
upstream_sni = "example.com"`)
	s := tlsStart(t, tlsConf{Certs: []tlsPair{{crt, key}}, Rest: rest}, nil)

	for _, tc := range []struct {
		path   string
		status int
		body   string // prefix of the origin's answer
	}{
		{"/ok/x", 200, "proto=HTTP/1.1 sni=example.com cert=-"},
		{"/badsni/x", 502, ""},
		{"/altcn/x", 200, "proto=HTTP/1.1 sni=origin.internal cert=-"},
		{"/noca/x", 502, ""}, // the system roots do not know httptest's CA
		{"/noverify/x", 200, "proto=HTTP/1.1 sni= cert=-"},
		{"/nohostcheck/x", 200, "proto=HTTP/1.1 sni=wrong.example.org cert=-"},
		{"/mtls/x", 200, "proto=HTTP/1.1 sni=example.com cert=fluxheim-proxy"},
		{"/nomtls/x", 502, ""},
		{"/h2/x", 200, "proto=HTTP/2.0 sni=example.com"},
		{"/h1and2/x", 200, "proto=HTTP/2.0 sni=example.com"},
		{"/h1/x", 200, "proto=HTTP/1.1 sni=example.com"},
	} {
		// Over cleartext and over TLS (HTTP/2) on the front side.
		r := fndGet(t, "http://"+s.http+tc.path, "main.test")
		if r.Status != tc.status || !strings.HasPrefix(r.Body, tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, r.Status, r.Body, tc.status, tc.body)
		}
		resp, body, err := tlsGet(tlsClient("main.test", ca.pool, nil, true, false), "https://"+s.https+tc.path, "main.test")
		if err != nil || resp.StatusCode != tc.status || !strings.HasPrefix(body, tc.body) || resp.ProtoMajor != 2 {
			t.Errorf("GET %s over h2: %v %v %q, want %d %q", tc.path, err, resp, body, tc.status, tc.body)
		}
	}
}
