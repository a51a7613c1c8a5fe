package integration

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// fndProxyServer starts fluxheim with the global [proxy] pointing at up
// (so every host without a vhost is proxied), plus the vhosts in more.
// serverKeys go into [server].
func fndProxyServer(t *testing.T, up *fndUpstream, serverKeys, more string) *fndServer {
	t.Helper()
	cfg := fndConfig(serverKeys, 1, `[proxy]
upstream = "{{.Vars.up}}"
connect_timeout_secs = 2
read_timeout_secs = 10
`+more)
	return fndStart(t, cfg, nil, map[string]any{"up": up.hostport()})
}

func TestFoundationProxyForwarding(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndProxyServer(t, up, "", "")

	r := fndDo(t, "POST", s.url+"/api/items?x=1&y=%20z&x=2", "proxy.test", "payload=1&b=2", "Content-Type: application/x-www-form-urlencoded", "X-Custom: kept")
	e := fndEchoedOf(t, r)
	if e.Method != "POST" || e.RequestURI != "/api/items?x=1&y=%20z&x=2" || e.Body != "payload=1&b=2" || e.Host != "proxy.test" {
		t.Errorf("upstream saw %s %s Host %q body %q", e.Method, e.RequestURI, e.Host, e.Body)
	}
	if e.Header.Get("X-Custom") != "kept" || e.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("end-to-end headers not forwarded: %v", e.Header)
	}
	if r.Header.Get("X-Upstream") != "echo" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("upstream response headers not returned: %v", r.Header)
	}

	// Methods and targets, through raw requests (sent byte for byte).
	for _, tc := range []struct {
		method, target, wantURI, body string
	}{
		{"GET", "/", "/", ""},
		{"GET", "/a%2Fb/c?q=%2F", "/a%2Fb/c?q=%2F", ""},
		{"GET", "/x/./y/../z", "/x/z", ""},
		{"DELETE", "/items/7", "/items/7", ""},
		{"PUT", "/items/7", "/items/7", "replacement"},
		{"PATCH", "/items/7?dry=1", "/items/7?dry=1", "patch"},
	} {
		raw := tc.method + " " + tc.target + " HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n"
		if tc.body != "" {
			raw += "Content-Length: " + strconv.Itoa(len(tc.body)) + "\r\n"
		}
		raw += "\r\n" + tc.body
		e := fndEchoedRaw(t, fndRaw(t, s.addr, tc.method, raw))
		if e.Method != tc.method || e.RequestURI != tc.wantURI || e.Body != tc.body {
			t.Errorf("%s %s: upstream saw %s %s body %q, want %s %s %q", tc.method, tc.target, e.Method, e.RequestURI, e.Body, tc.method, tc.wantURI, tc.body)
		}
	}

	// A chunked request body is streamed upstream intact.
	raw := "POST /chunked HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
	if e := fndEchoedRaw(t, fndRaw(t, s.addr, "POST", raw)); e.Body != "hello, world" || e.Method != "POST" {
		t.Errorf("chunked POST: upstream saw %s body %q", e.Method, e.Body)
	}

	// Requests with bodies keep the connection alive: three pipelined on
	// one connection, all answered, none with Connection: close.
	c := fndDial(t, s.addr, 10*time.Second)
	_, _ = io.WriteString(c, "POST /ka/1 HTTP/1.1\r\nHost: proxy.test\r\nContent-Length: 3\r\n\r\none"+
		"PUT /ka/2 HTTP/1.1\r\nHost: proxy.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"+
		"POST /ka/3 HTTP/1.1\r\nHost: proxy.test\r\nContent-Length: 5\r\n\r\nthree")
	br := bufio.NewReader(c)
	for i, want := range []string{"one", "two", "three"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive response %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		e := fndEchoedOf(t, fndResp{Status: resp.StatusCode, Header: resp.Header, Body: string(b)})
		if e.Body != want || resp.Close {
			t.Errorf("keep-alive request %d: upstream body %q, close %v; want %q and keep-alive", i+1, e.Body, resp.Close, want)
		}
	}
}

func TestFoundationProxyForwardedHeadersUntrustedPeer(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndProxyServer(t, up, "", "")
	r := fndGet(t, s.url+"/whoami", "proxy.test:8080",
		"X-Forwarded-For: 6.6.6.6",
		"X-Real-IP: 6.6.6.7",
		"Forwarded: for=6.6.6.8",
		"X-Forwarded-Host: evil.test",
		"X-Forwarded-Proto: https",
		"True-Client-IP: 6.6.6.9",
		"CF-Connecting-IP: 6.6.6.10",
	)
	e := fndEchoedOf(t, r)
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-Host":  "proxy.test:8080",
		"X-Forwarded-Proto": "http",
	}
	for k, v := range want {
		if got := e.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want exactly %q", k, got, v)
		}
	}
	for _, k := range []string{"Forwarded", "True-Client-Ip", "Cf-Connecting-Ip"} {
		if got := e.Header.Values(k); len(got) != 0 {
			t.Errorf("client-sent %s reached the upstream: %q", k, got)
		}
	}
	if e.Host != "proxy.test:8080" {
		t.Errorf("upstream Host %q, want the client's", e.Host)
	}
}

func TestFoundationProxyForwardedHeadersTrustedPeer(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndProxyServer(t, up, `trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]`, `
[logging.access]
path = "{{.Dir}}/access.log"
`)
	for _, tc := range []struct {
		xff    []string
		client string
	}{
		// recursive: trusted hops from the right are skipped
		{[]string{"203.0.113.7"}, "203.0.113.7"},
		{[]string{"203.0.113.7, 10.1.1.1"}, "203.0.113.7"},
		{[]string{"198.51.100.1, 203.0.113.7, 10.2.2.2"}, "203.0.113.7"},
		// several header lines are one list
		{[]string{"198.51.100.1", "203.0.113.7", "10.3.3.3"}, "203.0.113.7"},
		// every hop trusted: the left-most
		{[]string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		// IPv6 client
		{[]string{"2001:db8::1, 10.1.1.1"}, "2001:db8::1"},
		// no header: the peer
		{nil, "127.0.0.1"},
	} {
		var hdr []string
		for _, v := range tc.xff {
			hdr = append(hdr, "X-Forwarded-For: "+v)
		}
		e := fndEchoedOf(t, fndGet(t, s.url+"/trusted", "proxy.test", hdr...))
		if got := e.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != tc.client {
			t.Errorf("XFF %q: upstream X-Forwarded-For %q, want %q (x_forwarded_for = replace)", tc.xff, got, tc.client)
		}
		if got := e.Header.Get("X-Real-Ip"); got != tc.client {
			t.Errorf("XFF %q: upstream X-Real-IP %q, want %q", tc.xff, got, tc.client)
		}
	}
	// A malformed element stops the walk: nothing to its left is believed.
	e := fndEchoedOf(t, fndGet(t, s.url+"/trusted", "proxy.test", "X-Forwarded-For: 203.0.113.7, not-an-ip, 10.1.1.1"))
	if got := e.Header.Get("X-Real-Ip"); got == "203.0.113.7" {
		t.Errorf("malformed XFF element: client %q was believed past the garbage", got)
	}
}

func TestFoundationProxyHopByHopHeaders(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndProxyServer(t, up, "", "")
	raw := "GET /hop HTTP/1.1\r\n" +
		"Host: proxy.test\r\n" +
		"Connection: close, X-Foo, X-Bar\r\n" +
		"X-Foo: listed-in-connection\r\n" +
		"X-Bar: also-listed\r\n" +
		"Keep-Alive: timeout=5, max=100\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"TE: gzip\r\n" +
		"Trailer: X-Trailer\r\n" +
		"Upgrade: h2c\r\n" +
		"Proxy: http://evil.test:3128\r\n" +
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n" +
		"Expect: 100-continue\r\n" +
		"X-End-To-End: kept\r\n" +
		"\r\n"
	r := fndRaw(t, s.addr, "GET", raw)
	e := fndEchoedRaw(t, r)
	for _, k := range []string{"Connection", "X-Foo", "X-Bar", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Proxy", "Proxy-Authorization", "Expect"} {
		if v, ok := e.Header[k]; ok {
			t.Errorf("hop-by-hop %s reached the upstream: %q", k, v)
		}
	}
	if e.Header.Get("X-End-To-End") != "kept" {
		t.Errorf("X-End-To-End not forwarded: %v", e.Header)
	}
	// TE: trailers is the one TE value that may be forwarded; it must not
	// smuggle anything else.
	raw = "GET /hop HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\nTE: trailers\r\n\r\n"
	e = fndEchoedRaw(t, fndRaw(t, s.addr, "GET", raw))
	if v := e.Header.Values("Te"); len(v) > 1 || (len(v) == 1 && v[0] != "trailers") {
		t.Errorf("TE: trailers forwarded as %q", v)
	}
}

func TestFoundationProxyRequestID(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndProxyServer(t, up, "", "")
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := fndGet(t, s.url+"/id", "proxy.test", "X-Request-Id: client-chosen-id")
		e := fndEchoedOf(t, r)
		id := r.Header.Get("X-Request-Id")
		if id == "" || id == "client-chosen-id" {
			t.Fatalf("response X-Request-Id %q, want a server-generated id", id)
		}
		if got := e.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != id {
			t.Errorf("upstream X-Request-Id %q, want exactly the returned id %q", got, id)
		}
		if ids[id] {
			t.Errorf("request id %q reused", id)
		}
		ids[id] = true
	}
	// Error responses carry an id too.
	if r := fndGet(t, s.url+"/../x", "proxy.test"); r.Header.Get("X-Request-Id") == "" {
		t.Errorf("error response %d without X-Request-Id", r.Status)
	}
}

func TestFoundationProxyResponseHeaderPolicy(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, map[string]fndHandler{
		"/powered": func(_ *fndUpstream, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Server", "upstream-httpd/1.0")
			w.Header().Set("X-Powered-By", "PHP/8.2")
			w.Header().Set("X-App", "yes")
			_, _ = io.WriteString(w, "powered")
		},
	})
	s := fndProxyServer(t, up, "", "")
	r := fndGet(t, s.url+"/powered", "proxy.test")
	if r.Status != 200 || r.Body != "powered" {
		t.Fatalf("GET /powered = %d %q", r.Status, r.Body)
	}
	if got := r.Header.Values("Server"); len(got) != 1 || got[0] != "fluxheim" {
		t.Errorf("Server = %q, want exactly fluxheim", got)
	}
	if got := r.Header.Values("X-Powered-By"); len(got) != 0 {
		t.Errorf("X-Powered-By = %q, want it removed", got)
	}
	for k, v := range map[string]string{"X-App": "yes", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if r.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, r.Header.Get(k), v)
		}
	}
}

func TestFoundationProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	dead := harness.FreeAddr(t) // nothing listens here
	s := fndProxyServer(t, up, "", `
[[vhosts]]
name = "down"
hosts = ["down.test"]
[vhosts.proxy]
upstream = "`+dead+`"
`)
	for _, m := range []string{"GET", "POST"} {
		start := time.Now()
		r := fndDo(t, m, s.url+"/x", "down.test", "body")
		if r.Status != 502 || r.Body != fndStatusBody(502) {
			t.Errorf("%s to a dead upstream = %d %q, want 502", m, r.Status, r.Body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("a refused connect took %v", d)
		}
	}
	// The live upstream still works.
	fndEchoedOf(t, fndGet(t, s.url+"/x", "proxy.test"))
}

func TestFoundationProxyUpstreamTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	up := fndEcho(t, map[string]fndHandler{
		"/slow": func(_ *fndUpstream, w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(4 * time.Second):
			case <-r.Context().Done():
			case <-release:
			}
			_, _ = io.WriteString(w, "too late")
		},
		"/slowbody": func(_ *fndUpstream, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "first part;")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(4 * time.Second):
			case <-r.Context().Done():
			case <-release:
			}
		},
	})
	s := fndProxyServer(t, up, "", `
[[vhosts]]
name = "slow"
hosts = ["slow.test"]
[vhosts.proxy]
read_timeout_secs = 1
`)
	start := time.Now()
	r := fndGet(t, s.url+"/slow", "slow.test")
	d := time.Since(start)
	if r.Status != 504 || r.Body != fndStatusBody(504) {
		t.Errorf("slow upstream = %d %q, want 504", r.Status, r.Body)
	}
	if d < 900*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("504 after %v, want about read_timeout_secs = 1", d)
	}
	// A stall in the middle of the body: the client sees a broken response.
	start = time.Now()
	_, err := fndTryDo("GET", s.url+"/slowbody", "slow.test", "")
	if err == nil {
		t.Errorf("a body that stalls past read_timeout_secs ended cleanly")
	}
	if d := time.Since(start); d > 3500*time.Millisecond {
		t.Errorf("stalled body cut after %v, want about 1 s", d)
	}
}

func TestFoundationProxyUpstreamClosesMidBody(t *testing.T) {
	t.Parallel()
	hijackWrite := func(resp string) fndHandler {
		return func(_ *fndUpstream, w http.ResponseWriter, _ *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = brw.WriteString(resp)
			_ = brw.Flush()
			time.Sleep(50 * time.Millisecond)
			_ = c.Close()
		}
	}
	up := fndEcho(t, map[string]fndHandler{
		"/short-cl": hijackWrite("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("a", 1000)),
		"/short-chunked": hijackWrite("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"a\r\n0123456789\r\n"),
		"/short-chunked-big": hijackWrite("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"10000\r\n" + strings.Repeat("c", 0x10000) + "\r\n"),
		"/short-cl-big": hijackWrite("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat("b", 100<<10)),
		"/no-response":  hijackWrite(""),
	})
	s := fndProxyServer(t, up, "", "")
	for _, tc := range []struct {
		path string
		// headersSent: enough body went through that the response header
		// must have reached the client before the upstream broke off.
		headersSent bool
	}{
		{"/short-cl", false},
		{"/short-chunked", false},
		{"/short-cl-big", true},
		{"/short-chunked-big", true},
	} {
		resp, err := fndClient().Do(mustReq(t, "GET", s.url+tc.path, "proxy.test"))
		if err != nil {
			// Nothing but a closed connection: broken, not clean.
			if tc.headersSent {
				t.Errorf("GET %s: %v; 100 KiB of body were relayed, the 200 header should have arrived", tc.path, err)
			}
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status %d, want the upstream's 200", tc.path, resp.StatusCode)
		}
		if err == nil {
			t.Errorf("GET %s: body of %d bytes ended cleanly; a truncated upstream body must break the client response", tc.path, len(b))
		}
	}
	// Closed before any response: 502.
	if r := fndGet(t, s.url+"/no-response", "proxy.test"); r.Status != 502 || r.Body != fndStatusBody(502) {
		t.Errorf("upstream closed without answering: %d %q, want 502", r.Status, r.Body)
	}
}

func mustReq(t *testing.T, method, url, host string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return req
}

func TestFoundationProxyNoRetryOfPOST(t *testing.T) {
	t.Parallel()
	var posts, gets atomic.Int64
	up := fndEcho(t, map[string]fndHandler{
		"/fail": func(_ *fndUpstream, w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				posts.Add(1)
			} else {
				gets.Add(1)
			}
			_, _ = io.ReadAll(r.Body)
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close() // no response at all
			}
		},
	})
	s := fndProxyServer(t, up, "", "")
	// Warm the keep-alive pool so the POST may go out on a reused connection.
	for i := 0; i < 3; i++ {
		fndEchoedOf(t, fndGet(t, s.url+"/warm", "proxy.test"))
	}
	r := fndDo(t, "POST", s.url+"/fail", "proxy.test", "do-not-send-twice")
	if r.Status != 502 {
		t.Errorf("POST to an upstream that drops the connection = %d, want 502", r.Status)
	}
	time.Sleep(200 * time.Millisecond)
	if n := posts.Load(); n != 1 {
		t.Errorf("upstream saw the POST %d times, want exactly 1 (a request whose body was sent is never retried)", n)
	}
}

// fndWSAccept is the Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func fndWSAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// fndWSUpstream answers a WebSocket upgrade by hand and echoes each text
// frame back with an "echo:" prefix; a plain request gets the JSON echo.
func fndWSUpstream(u *fndUpstream, w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		u.echo(w, r)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + fndWSAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
	_ = brw.Flush()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		op, payload, err := fndWSRead(brw.Reader)
		if err != nil || op == 8 {
			return
		}
		_, _ = c.Write(fndWSFrame(op, append([]byte("echo:"), payload...), false))
	}
}

// fndWSFrame builds one final frame (payload < 126 bytes), masked when
// sent by a client.
func fndWSFrame(op byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | op, byte(len(payload))}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// fndWSRead reads one frame (payload < 64 KiB).
func fndWSRead(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0f
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err = io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	} else if n == 127 {
		return 0, nil, errors.New("frame too large")
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err = io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return op, payload, nil
}

const fndWSKey = "dGhlIHNhbXBsZSBub25jZQ=="

func fndWSHandshake(host string) string {
	return "GET /ws?room=1 HTTP/1.1\r\nHost: " + host + "\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: " + fndWSKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

func TestFoundationProxyWebSocket(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, map[string]fndHandler{"/ws": fndWSUpstream})
	s := fndProxyServer(t, up, "", `
[[vhosts]]
name = "ws"
hosts = ["ws.test"]
[vhosts.proxy]
websocket = true
`)
	c := fndDial(t, s.addr, 10*time.Second)
	if _, err := io.WriteString(c, fndWSHandshake("ws.test")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-Websocket-Accept") != fndWSAccept(fndWSKey) {
		t.Fatalf("handshake = %d %v, want 101 with Upgrade: websocket and the accept key", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", "second message", strings.Repeat("x", 100)} {
		if _, err := c.Write(fndWSFrame(1, []byte(msg), true)); err != nil {
			t.Fatal(err)
		}
		op, payload, err := fndWSRead(br)
		if err != nil {
			t.Fatalf("reading the echo of %q: %v", msg, err)
		}
		if op != 1 || string(payload) != "echo:"+msg {
			t.Errorf("echo = op %d %q, want text %q", op, payload, "echo:"+msg)
		}
	}
	_, _ = c.Write(fndWSFrame(8, nil, true))
}

func TestFoundationProxyWebSocketDisabled(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, map[string]fndHandler{"/ws": fndWSUpstream})
	s := fndProxyServer(t, up, "", "") // websocket defaults to false
	c := fndDial(t, s.addr, 10*time.Second)
	if _, err := io.WriteString(c, fndWSHandshake("proxy.test")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		t.Fatalf("upgrade with websocket = false: status %d, want the upstream's plain 200; body %q", resp.StatusCode, b)
	}
	e := fndEchoedOf(t, fndResp{Status: resp.StatusCode, Header: resp.Header, Body: string(b)})
	if v, ok := e.Header["Upgrade"]; ok {
		t.Errorf("Upgrade reached the upstream with websocket = false: %q", v)
	}
	if v := e.Header.Get("Connection"); strings.Contains(strings.ToLower(v), "upgrade") {
		t.Errorf("Connection: upgrade reached the upstream: %q", v)
	}
	if e.RequestURI != "/ws?room=1" {
		t.Errorf("upstream saw %q", e.RequestURI)
	}
}
