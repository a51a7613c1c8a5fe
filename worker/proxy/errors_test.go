package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
)

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectRefusedIs502(t *testing.T) {
	f := newFront(t, mustNew(t, Options{Upstream: closedAddr(t)}), nil)
	resp := get(t, f.URL+"/", nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
	err, info := f.last()
	var he *httperr.Error
	if !errors.As(err, &he) || he.Source != httperr.SourceUpstream || info.UpstreamStatus != 0 {
		t.Fatalf("err %v, upstream status %d", err, info.UpstreamStatus)
	}
}

func TestSlowHeadersIs504(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	defer close(release)
	f := newFront(t, mustNew(t, Options{Upstream: up.addr(), ReadTimeout: 200 * time.Millisecond}), nil)
	start := time.Now()
	resp := get(t, f.URL+"/", nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

// fetchAborted GETs url and requires a transport-level failure: an EOF
// before the header (the response was still buffered when the handler
// aborted) or an unexpected EOF inside the body. A complete response is a
// failure of the test.
func fetchAborted(t *testing.T, url string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("clean response %d %q; want an aborted connection", resp.StatusCode, body)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: the failure must come after the header", resp.StatusCode)
		}
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Fatalf("err %v; want EOF or unexpected EOF", err)
	}
}

func TestUpstreamClosesMidBodyAbortsClient(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			conn, brw, _ := http.NewResponseController(w).Hijack()
			if chunked {
				brw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n")
			} else {
				brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
			}
			brw.Flush()
			conn.Close()
		})
		f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
		fetchAborted(t, f.URL+"/")
		if !f.panicked.Load() {
			t.Errorf("chunked=%v: handler did not abort", chunked)
		}
	}
}

func TestBodyStallPastReadTimeoutAborts(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	f := newFront(t, mustNew(t, Options{Upstream: up.addr(), ReadTimeout: 200 * time.Millisecond}), nil)
	start := time.Now()
	fetchAborted(t, f.URL+"/")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stall detected after %v", d)
	}
}

// killOnce returns an upstream that answers /ok normally and hijacks and
// closes the connection the first time /kill is requested, after reading
// the request: the classic "keep-alive connection died" case.
func killOnce(t *testing.T) (*upstream, func() int64) {
	var killHits atomic.Int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/kill" {
			if killHits.Add(1) == 1 {
				conn, _, _ := http.NewResponseController(w).Hijack()
				conn.Close()
				return
			}
		}
		io.WriteString(w, "ok")
	})
	return up, killHits.Load
}

func TestPostWithBodyIsNotRetried(t *testing.T) {
	up, killHits := killOnce(t)
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	get(t, f.URL+"/ok", nil) // leaves an idle keep-alive connection upstream
	time.Sleep(20 * time.Millisecond)
	resp, err := http.Post(f.URL+"/kill", "text/plain", strings.NewReader("order=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || killHits() != 1 {
		t.Fatalf("status %d, upstream saw the POST %d times; want 502 and 1", resp.StatusCode, killHits())
	}
}

// TestIdempotentGetIsRetried is the control for the test above: the same
// failure on a reused connection is retried for a bodyless GET.
func TestIdempotentGetIsRetried(t *testing.T) {
	up, killHits := killOnce(t)
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	get(t, f.URL+"/ok", nil)
	time.Sleep(20 * time.Millisecond)
	resp := get(t, f.URL+"/kill", nil)
	if resp.StatusCode != 200 || killHits() != 2 {
		t.Fatalf("status %d, hits %d; want 200 after one retry", resp.StatusCode, killHits())
	}
}

func TestClientGoneIs499(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	f := newFront(t, mustNew(t, Options{Upstream: up.addr()}), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.URL+"/", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request succeeded")
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err, _ := f.last(); err != nil {
			if httperr.StatusOf(err) != 499 {
				t.Fatalf("err %v, want 499", err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Serve did not return")
}

func TestMalformedUpstreamResponseIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	f := newFront(t, mustNew(t, Options{Upstream: ln.Addr().String()}), nil)
	if resp := get(t, f.URL+"/", nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestClassify(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if s := classify(context.DeadlineExceeded, r).Status; s != 504 {
		t.Errorf("deadline: %d", s)
	}
	if s := classify(&net.OpError{Op: "dial", Err: errors.New("connection refused")}, r).Status; s != 502 {
		t.Errorf("refused: %d", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s := classify(context.Canceled, r.WithContext(ctx)).Status; s != 499 {
		t.Errorf("client gone: %d", s)
	}
}
