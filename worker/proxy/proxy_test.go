package proxy

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/headers"
)

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// echo answers with the request line, Host and body, and the headers in
// the response as X-Got-<name>.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	for k, vs := range r.Header {
		w.Header()["X-Got-"+k] = vs
	}
	fmt.Fprintf(w, "%s %s host=%s body=%s", r.Method, r.RequestURI, r.Host, body)
}

func TestForwardsMethodTargetBodyAndHost(t *testing.T) {
	up := newUpstream(t, echo)
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	for _, tc := range []struct{ method, target, body string }{
		{"GET", "/a/b%2Fc?x=1&y=%20z", ""},
		{"POST", "/submit?q", "payload=1"},
		{"PUT", "//double/slash?k=v", "put-body"},
		{"DELETE", "/res/7", ""},
	} {
		req, _ := http.NewRequest(tc.method, f.URL+tc.target, strings.NewReader(tc.body))
		req.Host = "app.example.org"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("%s %s host=app.example.org body=%s", tc.method, tc.target, tc.body)
		if resp.StatusCode != 200 || string(got) != want {
			t.Errorf("%s %s: %d %q, want %q", tc.method, tc.target, resp.StatusCode, got, want)
		}
	}
	_, info := f.last()
	if info.Upstream != up.addr() || info.UpstreamStatus != 200 {
		t.Errorf("info: upstream %q status %d", info.Upstream, info.UpstreamStatus)
	}
}

func get(t *testing.T, url string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

var spoofed = map[string]string{
	"X-Forwarded-For":   "6.6.6.6, 203.0.113.50",
	"X-Real-IP":         "6.6.6.6",
	"Forwarded":         "for=6.6.6.6",
	"X-Forwarded-Host":  "evil.example",
	"X-Forwarded-Proto": "https",
	"True-Client-IP":    "6.6.6.6",
}

func TestForwardingHeadersUntrustedPeer(t *testing.T) {
	up := newUpstream(t, echo)
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	resp := get(t, f.URL+"/", spoofed)
	h := resp.Header
	for k, want := range map[string]string{
		"X-Got-X-Forwarded-For":   "127.0.0.1",
		"X-Got-X-Real-Ip":         "127.0.0.1",
		"X-Got-X-Forwarded-Host":  strings.TrimPrefix(f.URL, "http://"),
		"X-Got-X-Forwarded-Proto": "http",
		"X-Got-Forwarded":         "",
		"X-Got-True-Client-Ip":    "",
	} {
		if got := strings.Join(h[k], ","); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestForwardingHeadersTrustedPeer(t *testing.T) {
	up := newUpstream(t, echo)
	for _, tc := range []struct {
		mode, wantXFF string
	}{
		{headers.XFFReplace, "203.0.113.50"},
		{headers.XFFAppend, "6.6.6.6, 203.0.113.50, 127.0.0.1"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			pol, err := headers.CompileRequest(headers.RequestPolicy{XForwardedFor: tc.mode, Forwarded: headers.Bool(true)}, tmpl.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f := newFront(t, mustNew(t, Options{Upstream: up.addr(), Request: pol}), trustedSet(t, "127.0.0.0/8"))
			resp := get(t, f.URL+"/", spoofed)
			h := resp.Header
			for k, want := range map[string]string{
				"X-Got-X-Forwarded-For": tc.wantXFF,
				"X-Got-X-Real-Ip":       "203.0.113.50",
				"X-Got-Forwarded":       `for=203.0.113.50;host="` + strings.TrimPrefix(f.URL, "http://") + `";proto=http`,
				"X-Got-True-Client-Ip":  "6.6.6.6", // kept from a trusted proxy
			} {
				if got := strings.Join(h[k], ","); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestHopByHopHeadersRemoved(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End-To-End", "1")
		echo(w, r)
	})
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	resp := get(t, f.URL+"/", map[string]string{
		"Connection":       "X-Custom, Keep-Alive, Upgrade",
		"X-Custom":         "1",
		"Keep-Alive":       "timeout=5",
		"Proxy-Connection": "keep-alive",
		"TE":               "trailers, deflate",
		"Upgrade":          "websocket",
		"Proxy":            "http://evil.example:8080",
		"Expect":           "100-continue",
		"X-Keep":           "yes",
	})
	h := resp.Header
	for _, k := range []string{"Connection", "X-Custom", "Keep-Alive", "Proxy-Connection", "Upgrade", "Proxy", "Expect"} {
		if v, ok := h["X-Got-"+http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("upstream received %s: %q", k, v)
		}
	}
	if got := h.Get("X-Got-Te"); got != "trailers" {
		t.Errorf("TE = %q, want trailers", got)
	}
	if h.Get("X-Got-X-Keep") != "yes" {
		t.Error("end-to-end request header lost")
	}
	if h.Get("X-Resp-Hop") != "" || h.Get("Keep-Alive") != "" || h.Get("X-End-To-End") != "1" {
		t.Errorf("response hop-by-hop handling wrong: %v", h)
	}
}

func TestKeepAliveReuse(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	client := f.Client()
	for i := 0; i < 100; i++ {
		resp, err := client.Get(f.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := up.conns.Load(); n > 2 {
		t.Fatalf("%d upstream connections for 100 sequential requests", n)
	}
	if up.hits.Load() != 100 {
		t.Fatalf("hits = %d", up.hits.Load())
	}
}

func TestRejectsConnectAndBadTarget(t *testing.T) {
	h := mustNew(t, Options{Upstream: "127.0.0.1:9"})
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"CONNECT", "/", 405},
		{"GET", "relative", 400},
		{"GET", "/a#frag", 400},
		{"GET", "/a b", 400},
		{"GET", "", 400},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Method = tc.method
		err := h.Serve(httptest.NewRecorder(), r, tc.target)
		if httperr.StatusOf(err) != tc.want {
			t.Errorf("%s %q: %v, want %d", tc.method, tc.target, err, tc.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, up := range []string{"", "example.org", "example.org:0", "example.org:99999", "user@host:80", ":80", "host:+80"} {
		if _, err := New(Options{Upstream: up}); err == nil {
			t.Errorf("New(%q) accepted", up)
		}
	}
	if _, err := New(Options{Upstream: "a:1", ReadTimeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
	h, err := New(Options{Upstream: "[::1]:8080"})
	if err != nil || h.opts.ReadTimeout != DefaultReadTimeout || h.opts.KeepalivePoolSize != DefaultKeepalivePoolSize {
		t.Fatalf("defaults: %v %+v", err, h.opts)
	}
}

var _ net.Conn = (*deadlineConn)(nil)
