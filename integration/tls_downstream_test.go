package integration

// Downstream TLS with real clients: HTTP/2 by ALPN (curl --http2 and Go's
// client), protocol versions per profile (openssl s_client), SNI
// certificate selection, client certificates (mTLS), and plain HTTP sent
// to the TLS port.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// tlsSimple starts a server with one global certificate for main.test and
// the given [tls] keys.
func tlsSimple(t *testing.T, tlsKeys string) (*tlsServer, *tlsCA) {
	t.Helper()
	ca := tlsNewCA(t, "Fluxheim Test CA")
	dir := tlsPKIDir(t)
	crt, key := ca.issue(t, "main.test", []string{"main.test"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false).writePair(t, dir, "main")
	return tlsStart(t, tlsConf{TLSKeys: tlsKeys, Certs: []tlsPair{{crt, key}}}, nil), ca
}

func TestTLSHTTP2AndALPN(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		s, ca := tlsSimple(t, "")
		url := "https://" + s.https + "/index.html"
		out, errOut, code := tlsCurl(t, "--http2", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url)
		if code != 0 || out != "2 200" {
			t.Errorf("curl --http2 -k: exit %d, %q (stderr %q); want \"2 200\"", code, out, errOut)
		}
		// Verified against the test CA, with SNI main.test.
		out, errOut, code = tlsCurl(t, "--http2", "--cacert", tlsCAFile(t, ca), "--resolve", "main.test:"+portOf(s.https)+":127.0.0.1",
			"-w", "\n%{http_version} %{http_code}", "https://main.test:"+portOf(s.https)+"/index.html")
		if code != 0 || out != tlsIndexBody+"\n2 200" {
			t.Errorf("curl --http2 --cacert: exit %d, %q (stderr %q)", code, out, errOut)
		}
		// HTTP/1.1 is still offered.
		out, _, code = tlsCurl(t, "--http1.1", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url)
		if code != 0 || out != "1.1 200" {
			t.Errorf("curl --http1.1 -k: exit %d, %q; want \"1.1 200\"", code, out)
		}
		// Go's client negotiates h2 as well.
		resp, body, err := tlsGet(tlsClient("main.test", ca.pool, nil, true, false), url, "")
		if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != tlsIndexBody {
			t.Errorf("Go client with HTTP/2: %v %+v %q", err, resp, body)
		} else if resp.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("Go client: ALPN %q, want h2", resp.TLS.NegotiatedProtocol)
		}
	})
	t.Run("connection reuse", func(t *testing.T) {
		t.Parallel()
		// Several requests share one HTTP/2 connection, also after a
		// request whose body nobody read.
		s, ca := tlsSimple(t, "")
		url := "https://" + s.https + "/index.html"
		out, errOut, code := tlsCurl(t, "--http2", "-k", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
			"-w", "%{http_version} %{http_code} %{num_connects}\n", url, url, url)
		if code != 0 || out != "2 200 1\n2 200 0\n2 200 0\n" {
			t.Errorf("curl --http2 with three URLs: exit %d (stderr %q):\n%s\nwant one connection for all three", code, errOut, out)
		}
		client := tlsClient("main.test", ca.pool, nil, true, true)
		defer client.CloseIdleConnections()
		var dials atomic.Int32
		trace := &httptrace.ClientTrace{ConnectStart: func(string, string) { dials.Add(1) }}
		for i, method := range []string{"GET", "POST", "GET", "PUT", "GET"} {
			var body io.Reader
			if method != "GET" {
				body = strings.NewReader(strings.Repeat("x", 100<<10))
			}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, url, body)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("request %d (%s): %v", i, method, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || (method == "GET" && resp.StatusCode != 200) {
				t.Errorf("request %d (%s): %s %d", i, method, resp.Proto, resp.StatusCode)
			}
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("five HTTP/2 requests opened %d connections, want 1", n)
		}
	})
	t.Run("http2", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, `alpn = "http2"`)
		url := "https://" + s.https + "/index.html"
		out, errOut, code := tlsCurl(t, "--http2", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url)
		if code != 0 || out != "2 200" {
			t.Errorf("alpn = http2: curl --http2 -k: exit %d, %q (stderr %q); want \"2 200\"", code, out, errOut)
		}
		// A client offering only http/1.1 is refused.
		if out, _, code := tlsCurl(t, "--http1.1", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url); code == 0 {
			t.Errorf("alpn = http2: curl --http1.1 -k succeeded: %q", out)
		}
	})
	t.Run("http1", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, `alpn = "http1"`)
		url := "https://" + s.https + "/index.html"
		out, errOut, code := tlsCurl(t, "--http2", "-k", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url)
		if code != 0 || out != "1.1 200" {
			t.Errorf("alpn = http1: curl --http2 -k: exit %d, %q (stderr %q); want \"1.1 200\"", code, out, errOut)
		}
		c, err := tlsHandshake(s.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("alpn = http1: offered h2 and http/1.1, negotiated %q", p)
		}
		c.Close()
		// A client that insists on h2 is refused (no_application_protocol).
		if c, err := tlsHandshake(s.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}); err == nil { //nolint:gosec
			t.Errorf("alpn = http1: a client offering only h2 completed a handshake (ALPN %q)", c.ConnectionState().NegotiatedProtocol)
			c.Close()
		}
	})
}

// TestTLSPlainHTTPOnTLSPort: a cleartext request on the TLS port gets 400
// and the connection is closed.
func TestTLSPlainHTTPOnTLSPort(t *testing.T) {
	t.Parallel()
	s, _ := tlsSimple(t, "")
	// A closed connection ends the read at once; an open one only after
	// the 3 s of silence.
	began := time.Now()
	out, err := harness.RawRequestTimeout(s.https, "GET /index.html HTTP/1.1\r\nHost: main.test\r\n\r\n", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "HTTP/1.0 400 ") && !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Fatalf("plain HTTP on the TLS port: got %q, want a 400", out)
	}
	if d := time.Since(began); d >= 3*time.Second {
		t.Errorf("the connection stayed open after the 400 (%v)", d)
	}
	// curl says the same in its own words.
	out2, _, code := tlsCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+s.https+"/")
	if code != 0 || out2 != "400" {
		t.Errorf("curl http:// to the TLS port: exit %d, %q; want 400", code, out2)
	}
}

func TestTLSProtocolVersions(t *testing.T) {
	t.Parallel()
	// openssl refuses TLS < 1.2 itself at its default security level;
	// SECLEVEL=0 makes it really offer TLS 1.1, so the refusal is the
	// server's.
	old := []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}
	t.Run("intermediate", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, `profile = "intermediate"`)
		if out, code := tlsSClient(t, s.https, old...); code == 0 || strings.Contains(out, "Protocol version: TLSv1.1") {
			t.Errorf("intermediate: openssl s_client -tls1_1 succeeded (exit %d):\n%s", code, out)
		} else if !strings.Contains(out, "alert protocol version") {
			t.Errorf("intermediate: -tls1_1 failed without the server's protocol_version alert:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_2"); code != 0 || !strings.Contains(out, "Protocol version: TLSv1.2") {
			t.Errorf("intermediate: openssl s_client -tls1_2: exit %d:\n%s", code, out)
		} else if !strings.Contains(out, "Ciphersuite: ECDHE-") || !strings.Contains(out, "GCM") && !strings.Contains(out, "CHACHA20") {
			t.Errorf("intermediate: TLS 1.2 suite is not ECDHE AEAD:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_3"); code != 0 || !strings.Contains(out, "Protocol version: TLSv1.3") {
			t.Errorf("intermediate: openssl s_client -tls1_3: exit %d:\n%s", code, out)
		}
		// No CBC or static-RSA suite on TLS 1.2.
		for _, suite := range []string{"ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"} {
			if out, code := tlsSClient(t, s.https, "-tls1_2", "-cipher", suite); code == 0 {
				t.Errorf("intermediate: TLS 1.2 with %s succeeded:\n%s", suite, out)
			}
		}
	})
	t.Run("modern", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, "profile = \"modern\"\nmin_protocol = \"tls1.3\"")
		if out, code := tlsSClient(t, s.https, old...); code == 0 {
			t.Errorf("modern: openssl s_client -tls1_1 succeeded:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_2"); code == 0 || strings.Contains(out, "Protocol version: TLSv1.2") {
			t.Errorf("modern: openssl s_client -tls1_2 succeeded (exit %d):\n%s", code, out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_3"); code != 0 || !strings.Contains(out, "Protocol version: TLSv1.3") {
			t.Errorf("modern: openssl s_client -tls1_3: exit %d:\n%s", code, out)
		}
	})
	t.Run("modern alone", func(t *testing.T) {
		t.Parallel()
		// min_protocol follows the profile when unset.
		s, _ := tlsSimple(t, `profile = "modern"`)
		if out, code := tlsSClient(t, s.https, "-tls1_2"); code == 0 {
			t.Errorf("modern: openssl s_client -tls1_2 succeeded:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_3"); code != 0 {
			t.Errorf("modern: openssl s_client -tls1_3: exit %d:\n%s", code, out)
		}
	})
	t.Run("cipher_suites and curve_preferences", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, `cipher_suites = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
curve_preferences = ["CurveP384"]`)
		if out, code := tlsSClient(t, s.https, "-tls1_2"); code != 0 || !strings.Contains(out, "Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384") {
			t.Errorf("cipher_suites: openssl s_client -tls1_2: exit %d:\n%s", code, out)
		}
		if out, code := tlsSClient(t, s.https, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"); code == 0 {
			t.Errorf("cipher_suites: a suite not listed was accepted:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-groups", "X25519"); code == 0 {
			t.Errorf("curve_preferences = [CurveP384]: X25519 only was accepted:\n%s", out)
		}
		if out, code := tlsSClient(t, s.https, "-groups", "P-384"); code != 0 || !strings.Contains(out, "secp384r1") && !strings.Contains(out, "P-384") {
			t.Errorf("curve_preferences = [CurveP384]: -groups P-384: exit %d:\n%s", code, out)
		}
	})
	t.Run("min_protocol tls1.3", func(t *testing.T) {
		t.Parallel()
		s, _ := tlsSimple(t, `min_protocol = "tls1.3"`)
		if out, code := tlsSClient(t, s.https, "-tls1_2"); code == 0 {
			t.Errorf("min_protocol = tls1.3: openssl s_client -tls1_2 succeeded:\n%s", out)
		}
		if _, err := tlsHandshake(s.https, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}); err == nil { //nolint:gosec
			t.Errorf("min_protocol = tls1.3: Go client limited to TLS 1.2 completed a handshake")
		}
	})
}

func TestTLSSNI(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim SNI CA")
	dir := tlsPKIDir(t)
	defCrt, defKey := ca.issue(t, "default.test", []string{"default.test"}, nil, false).writePair(t, dir, "default")
	secCrt, secKey := ca.issue(t, "second.test", []string{"second.test"}, nil, false).writePair(t, dir, "second")
	aCrt, aKey := ca.issue(t, "site-a", []string{"a.test", "*.wild.test"}, nil, false).writePair(t, dir, "a")
	bCrt, bKey := ca.issue(t, "site-b", []string{"b.test"}, nil, false).writePair(t, dir, "b")
	s := tlsStart(t, tlsConf{
		Certs: []tlsPair{{defCrt, defKey}, {secCrt, secKey}},
		Rest: `
[[vhosts]]
name = "main"
hosts = ["main.test"]
[vhosts.web]
root = "{{.Dir}}/www"

[[vhosts]]
name = "a"
hosts = ["a.test", "*.wild.test"]
[vhosts.tls.certificate]
cert_path = "` + aCrt + `"
key_path = "` + aKey + `"
[vhosts.web]
root = "{{.Dir}}/a"

[[vhosts]]
name = "b"
hosts = ["b.test"]
[vhosts.tls.certificate]
cert_path = "` + bCrt + `"
key_path = "` + bKey + `"
[vhosts.web]
root = "{{.Dir}}/b"
`}, map[string]string{"a/index.html": "site a\n", "b/index.html": "site b\n"})

	for _, tc := range []struct{ sni, cn string }{
		{"a.test", "site-a"},
		{"A.Test", "site-a"}, // case-insensitive
		{"x.wild.test", "site-a"},
		{"y.x.wild.test", "default.test"}, // a wildcard covers one label only
		{"wild.test", "default.test"},
		{"b.test", "site-b"},
		{"second.test", "second.test"}, // a global pair is selected by its names
		{"main.test", "default.test"},  // a vhost without a certificate
		{"unknown.test", "default.test"},
		{"", "default.test"}, // no SNI
	} {
		if cn := tlsPeerCN(t, s.https, tc.sni); cn != tc.cn {
			t.Errorf("SNI %q: certificate %q, want %q", tc.sni, cn, tc.cn)
		}
	}
	// Real clients verify the chosen certificate against the CA and get
	// the vhost's content.
	caFile := tlsCAFile(t, ca)
	port := portOf(s.https)
	for _, tc := range []struct{ host, body string }{
		{"a.test", "site a\n"}, {"b.test", "site b\n"}, {"x.wild.test", "site a\n"}, {"default.test", tlsIndexBody},
	} {
		out, errOut, code := tlsCurl(t, "--cacert", caFile, "--resolve", tc.host+":"+port+":127.0.0.1", "https://"+tc.host+":"+port+"/index.html")
		if code != 0 || out != tc.body {
			t.Errorf("curl --cacert https://%s/: exit %d, %q (stderr %q), want %q", tc.host, code, out, errOut, tc.body)
		}
	}
	out, code := tlsSClient(t, s.https, "-servername", "b.test", "-CAfile", caFile, "-verify_return_error", "-verify_hostname", "b.test")
	if code != 0 || !strings.Contains(out, "CN = site-b") {
		t.Errorf("openssl s_client -servername b.test: exit %d:\n%s", code, out)
	}
	out, code = tlsSClient(t, s.https, "-noservername")
	if code != 0 || !strings.Contains(out, "CN = default.test") {
		t.Errorf("openssl s_client -noservername: exit %d:\n%s", code, out)
	}
}

func TestTLSClientAuth(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim server CA")
	clientCA := tlsNewCA(t, "Fluxheim client CA")
	otherCA := tlsNewCA(t, "Some other CA")
	dir := tlsPKIDir(t)
	crt, key := ca.issue(t, "main.test", []string{"main.test"}, nil, false).writePair(t, dir, "server")
	caPath := tlsCAFile(t, clientCA)
	good := clientCA.issue(t, "alice", nil, nil, true)
	goodCrt, goodKey := good.writePair(t, dir, "alice")
	bad := otherCA.issue(t, "mallory", nil, nil, true)

	// /id/ forwards the verified client identity to an echo upstream.
	echo := fndEcho(t, nil)
	start := func(t *testing.T, mode string) *tlsServer {
		return tlsStart(t, tlsConf{Certs: []tlsPair{{crt, key}}, TLSTables: `
[tls.client_auth]
mode = "` + mode + `"
ca_path = "` + caPath + `"
`, Rest: `
[[vhosts]]
name = "main"
hosts = ["main.test"]
[vhosts.web]
root = "{{.Dir}}/www"

[[vhosts.routes]]
name = "id"
path_prefix = "/id/"
[vhosts.routes.proxy]
upstreams = ["` + echo.hostport() + `"]
[vhosts.routes.headers.request.add]
x-client-sha256 = "{tls.client_cert_sha256}"
x-client-serial = "{tls.client_cert_serial}"
x-client-org = "{tls.client_cert_organization}"
x-tls-version = "{tls.version}"
`}, nil)
	}
	identity := func(t *testing.T, s *tlsServer, certs ...tls.Certificate) http.Header {
		t.Helper()
		resp, body, err := tlsGet(tlsClient("main.test", ca.pool, certs, false, false), "https://"+s.https+"/id/x", "main.test")
		if err != nil {
			t.Fatalf("GET /id/x: %v", err)
		}
		e := fndEchoedOf(t, fndResp{Status: resp.StatusCode, Header: resp.Header, Body: body})
		if p := e.Header.Get("X-Forwarded-Proto"); p != "https" {
			t.Errorf("upstream saw X-Forwarded-Proto %q, want https", p)
		}
		return e.Header
	}
	sum := sha256.Sum256(good.cert.Raw)
	wantID := http.Header{
		"X-Client-Sha256": {hex.EncodeToString(sum[:])},
		"X-Client-Serial": {strings.ToUpper(hex.EncodeToString(good.cert.SerialNumber.Bytes()))},
		"X-Client-Org":    {"fluxheim tests"},
		"X-Tls-Version":   {"TLSv1.3"},
	}
	checkID := func(t *testing.T, got, want http.Header) {
		t.Helper()
		for k := range wantID {
			if g, w := got.Get(k), want.Get(k); g != w {
				t.Errorf("upstream saw %s %q, want %q", k, g, w)
			}
		}
	}
	get := func(s *tlsServer, certs ...tls.Certificate) (int, error) {
		resp, _, err := tlsGet(tlsClient("main.test", ca.pool, certs, false, false), "https://"+s.https+"/index.html", "")
		if err != nil {
			return 0, err
		}
		return resp.StatusCode, nil
	}

	t.Run("required", func(t *testing.T) {
		t.Parallel()
		s := start(t, "required")
		if st, err := get(s); err == nil {
			t.Errorf("required: a client without a certificate got %d", st)
		}
		if st, err := get(s, good.tlsCert(t)); err != nil || st != 200 {
			t.Errorf("required: a client with a certificate of ca_path: %d, %v; want 200", st, err)
		}
		if st, err := get(s, bad.tlsCert(t)); err == nil {
			t.Errorf("required: a client with a certificate of another CA got %d", st)
		}
		// curl, with and without a certificate.
		port := portOf(s.https)
		args := []string{"--cacert", tlsCAFile(t, ca), "--resolve", "main.test:" + port + ":127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"}
		url := "https://main.test:" + port + "/index.html"
		if out, _, code := tlsCurl(t, append(args, url)...); code == 0 && out == "200" {
			t.Errorf("required: curl without a certificate got 200")
		}
		if out, errOut, code := tlsCurl(t, append(args, "--cert", goodCrt, "--key", goodKey, url)...); code != 0 || out != "200" {
			t.Errorf("required: curl --cert: exit %d, %q (stderr %q)", code, out, errOut)
		}
		checkID(t, identity(t, s, good.tlsCert(t)), wantID)
		// openssl without a certificate: a handshake_failure alert with
		// TLS 1.2, certificate_required (RFC 8446) with TLS 1.3. With TLS
		// 1.3 the client finishes its side of the handshake first and the
		// alert follows: -ign_eof keeps openssl reading until it arrives.
		for v, alert := range map[string]string{"-tls1_2": "alert handshake failure", "-tls1_3": "alert certificate required"} {
			if out, code := tlsSClient(t, s.https, v, "-servername", "main.test", "-ign_eof"); code == 0 || !strings.Contains(out, alert) {
				t.Errorf("required: openssl %s without a certificate: exit %d, want %q:\n%s", v, code, alert, out)
			}
		}
	})
	t.Run("optional", func(t *testing.T) {
		t.Parallel()
		s := start(t, "optional")
		if st, err := get(s); err != nil || st != 200 {
			t.Errorf("optional: a client without a certificate: %d, %v; want 200", st, err)
		}
		if st, err := get(s, good.tlsCert(t)); err != nil || st != 200 {
			t.Errorf("optional: a client with a certificate of ca_path: %d, %v; want 200", st, err)
		}
		checkID(t, identity(t, s, good.tlsCert(t)), wantID)
		// Without a certificate the identity headers are empty.
		checkID(t, identity(t, s), http.Header{"X-Tls-Version": {"TLSv1.3"}})
		// Presented certificates are verified.
		if st, err := get(s, bad.tlsCert(t)); err == nil {
			t.Errorf("optional: a client with a certificate of another CA got %d", st)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		s := tlsStart(t, tlsConf{Certs: []tlsPair{{crt, key}}}, nil)
		if st, err := get(s, bad.tlsCert(t)); err != nil || st != 200 {
			t.Errorf("off: a client with any certificate: %d, %v; want 200", st, err)
		}
	})
}

// tlsCAFile writes the CA certificate to a file and returns its path.
func tlsCAFile(t *testing.T, ca *tlsCA) string {
	t.Helper()
	p := tlsPKIDir(t) + "/ca.pem"
	tlsWrite(t, p, ca.pem, 0o644)
	return p
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestTLSHTTP2Settings reads the server's first SETTINGS frame and
// connection WINDOW_UPDATE over a raw h2 connection: Fluxheim's downstream
// HTTP/2 limits (32 streams, 16 KiB frames, 64 KiB stream window, header
// list bounded by max_request_header_bytes, 1 MiB connection window).
func TestTLSHTTP2Settings(t *testing.T) {
	t.Parallel()
	s, _ := tlsSimple(t, "")
	c, err := tlsHandshake(s.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	// Client preface and an empty SETTINGS frame.
	if _, err := c.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	settings := map[uint16]uint32{}
	var connWindowInc uint32
	var sawSettings bool
	for i := 0; i < 10 && (!sawSettings || connWindowInc == 0); i++ {
		var hdr [9]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("reading a frame header: %v", err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		stream := uint32(hdr[5]&0x7f)<<24 | uint32(hdr[6])<<16 | uint32(hdr[7])<<8 | uint32(hdr[8])
		payload := make([]byte, n)
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatal(err)
		}
		switch {
		case typ == 4 && flags&1 == 0: // SETTINGS, not an ACK
			sawSettings = true
			for j := 0; j+6 <= len(payload); j += 6 {
				id := uint16(payload[j])<<8 | uint16(payload[j+1])
				settings[id] = uint32(payload[j+2])<<24 | uint32(payload[j+3])<<16 | uint32(payload[j+4])<<8 | uint32(payload[j+5])
			}
		case typ == 8 && stream == 0 && n == 4: // WINDOW_UPDATE for the connection
			connWindowInc = (uint32(payload[0])&0x7f)<<24 | uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
		}
	}
	t.Logf("server SETTINGS %v, connection WINDOW_UPDATE +%d", settings, connWindowInc)
	for id, want := range map[uint16]uint32{3: 32, 4: 64 << 10, 5: 16 << 10} {
		if got, ok := settings[id]; !ok || got != want {
			t.Errorf("SETTINGS 0x%x = %d (sent %v), want %d", id, got, ok, want)
		}
	}
	if h := settings[6]; h < 64<<10 || h > 66<<10 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d, want about max_request_header_bytes (64 KiB)", h)
	}
	if connWindowInc+65535 != 1<<20 {
		t.Errorf("connection window 65535+%d, want 1 MiB", connWindowInc)
	}
}

// TestTLSSNIFallbackFromDefaultVhost: without [[tls.certificates]], the
// default_vhost's certificate is the fallback for unknown and missing SNI,
// whatever the order of the vhosts.
func TestTLSSNIFallbackFromDefaultVhost(t *testing.T) {
	t.Parallel()
	ca := tlsNewCA(t, "Fluxheim fallback CA")
	dir := tlsPKIDir(t)
	aCrt, aKey := ca.issue(t, "site-a", []string{"a.test"}, nil, false).writePair(t, dir, "a")
	dCrt, dKey := ca.issue(t, "site-default", []string{"default.test"}, nil, false).writePair(t, dir, "d")
	s := tlsStart(t, tlsConf{DefaultVhost: "d", Rest: `
[[vhosts]]
name = "a"
hosts = ["a.test"]
[vhosts.tls.certificate]
cert_path = "` + aCrt + `"
key_path = "` + aKey + `"
[vhosts.web]
root = "{{.Dir}}/www"

[[vhosts]]
name = "d"
hosts = ["default.test"]
[vhosts.tls.certificate]
cert_path = "` + dCrt + `"
key_path = "` + dKey + `"
[vhosts.web]
root = "{{.Dir}}/www"
`}, nil)
	for sni, want := range map[string]string{"a.test": "site-a", "default.test": "site-default", "other.test": "site-default", "": "site-default"} {
		if cn := tlsPeerCN(t, s.https, sni); cn != want {
			t.Errorf("SNI %q: certificate %q, want %q", sni, cn, want)
		}
	}
}
