package fastcgi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
)

func TestDoSendsParamsAndBody(t *testing.T) {
	var got *fcgitest.Request
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, r *fcgitest.Request) {
		got = r
		w.Stderr([]byte("notice"))
		w.Stdout([]byte("Status: 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello"))
	})
	c := newTestClient(t, srv, Options{})
	body := strings.Repeat("x", 200000) // several STDIN records
	resp, err := c.Do(withBody(get("POST", 5*time.Second), body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	if resp.Status != 201 || string(resp.Body) != "hello" || len(resp.Header["Set-Cookie"]) != 2 {
		t.Fatalf("response %d %v %q", resp.Status, resp.Header, resp.Body)
	}
	if string(resp.Stderr) != "notice" || resp.StderrBytes != 6 || resp.Attempts != 1 {
		t.Fatalf("stderr %q (%d), attempts %d", resp.Stderr, resp.StderrBytes, resp.Attempts)
	}
	if got.Role != 1 || got.KeepConn || got.ID != 1 || string(got.Stdin) != body || got.Params["REQUEST_METHOD"] != "POST" {
		t.Fatalf("application saw role %d keep %v id %d stdin %d bytes params %v", got.Role, got.KeepConn, got.ID, len(got.Stdin), got.Params)
	}
}

func TestDoBounds(t *testing.T) {
	big := strings.Repeat("b", 100)
	for _, tc := range []struct {
		name   string
		output func(w *fcgitest.Writer)
		opts   Options
		want   Kind
	}{
		{"header section too large", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: " + big + "\r\n\r\n")) }, Options{MaxHeaderBytes: 64}, KindTooLarge},
		{"header never ends", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: " + big)) }, Options{MaxHeaderBytes: 64}, KindTooLarge},
		{"body too large", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: 1\r\n\r\n" + big)) }, Options{MaxBodyBytes: 99}, KindTooLarge},
		{"stderr too large", func(w *fcgitest.Writer) { w.Stderr([]byte(big)); w.Stdout([]byte("X-A: 1\r\n\r\n")) }, Options{MaxStderrBytes: 99}, KindTooLarge},
		{"stderr failure pattern", func(w *fcgitest.Writer) {
			w.Stdout([]byte("X-A: 1\r\n\r\nok"))
			w.Stderr([]byte("PHP Fatal error: x"))
		}, Options{StderrFailurePatterns: []string{"Fatal error"}}, KindInvalidResponse},
		{"CR in a header", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: a\rInjected: 1\r\n\r\n")) }, Options{}, KindInvalidResponse},
		{"no output", func(w *fcgitest.Writer) {}, Options{}, KindInvalidResponse},
		{"closed before END_REQUEST", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: 1\r\n\r\npartial")); w.Close() }, Options{}, KindTransport},
		{"record for another request", func(w *fcgitest.Writer) { w.Record(6, 2, []byte("X-A: 1\r\n\r\n")) }, Options{}, KindProtocol},
		{"unknown record type", func(w *fcgitest.Writer) { w.Record(11, 1, make([]byte, 8)) }, Options{}, KindProtocol},
		{"bad version", func(w *fcgitest.Writer) { w.Raw([]byte{2, 6, 0, 1, 0, 0, 0, 0}) }, Options{}, KindProtocol},
		{"short END_REQUEST", func(w *fcgitest.Writer) { w.Stdout([]byte("X-A: 1\r\n\r\n")); w.Record(3, 1, []byte{0}) }, Options{}, KindProtocol},
		{"overloaded", func(w *fcgitest.Writer) { w.End(0, 2) }, Options{}, KindOverloaded},
		{"stdout after its end", func(w *fcgitest.Writer) {
			w.Stdout([]byte("X-A: 1\r\n\r\n"))
			w.Record(6, 1, nil)
			w.Record(6, 1, []byte("more"))
		}, Options{}, KindProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) { tc.output(w) })
			c := newTestClient(t, srv, tc.opts)
			resp, err := c.Do(get("GET", 5*time.Second))
			if err == nil {
				resp.Release()
				t.Fatalf("accepted: %d %v %q", resp.Status, resp.Header, resp.Body)
			}
			if KindOf(err) != tc.want {
				t.Fatalf("got %v, want kind %s", err, tc.want)
			}
		})
	}
}

func TestDoTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before srv.Close (cleanups run last-in first-out)
	c := newTestClient(t, srv, Options{})
	start := time.Now()
	_, err := c.Do(get("GET", 200*time.Millisecond))
	if KindOf(err) != KindTimeout || !err.(*Error).Timeout() {
		t.Fatalf("want a timeout, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline of 200ms took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := get("GET", 5*time.Second)
	req.Ctx = ctx
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := c.Do(req); KindOf(err) != KindCanceled {
		t.Fatalf("want canceled, got %v", err)
	}
}

func TestDoConnectFailure(t *testing.T) {
	c, err := New(Options{Network: "unix", Addrs: []string{t.TempDir() + "/missing.sock"}, MaxRetries: 2, RetryMethods: []string{"GET"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(get("GET", time.Second))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnect || e.Sent || e.Attempts != 3 {
		t.Fatalf("want a connect error after 3 attempts, got %v", err)
	}
}

// deadAddr returns a TCP address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestDoFailoverSafeMethodsOnly(t *testing.T) {
	srv := fcgitest.StartTCP(t, fcgitest.Respond("X-A: 1\r\n\r\nok"))
	dead := deadAddr(t)
	c := newTestClient(t, srv, Options{Addrs: []string{dead, srv.Addr}, RetryMethods: []string{"GET", "HEAD", "OPTIONS"}})
	for i := 0; i < 4; i++ {
		resp, err := c.Do(get("GET", 2*time.Second))
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		if resp.Addr != srv.Addr {
			t.Fatalf("answered by %s", resp.Addr)
		}
		resp.Release()
	}
	ok, failed := 0, 0
	for i := 0; i < 4; i++ {
		if resp, err := c.Do(get("POST", 2*time.Second)); err == nil {
			resp.Release()
			ok++
		} else if KindOf(err) == KindConnect {
			failed++
		}
	}
	// Round robin: every other POST starts at the dead address and is
	// not failed over.
	if ok == 0 || failed == 0 {
		t.Fatalf("POST: %d ok, %d connect failures; want both", ok, failed)
	}
}

func TestDoRefusesPrivateAddresses(t *testing.T) {
	srv := fcgitest.StartTCP(t, fcgitest.Respond("X-A: 1\r\n\r\n"))
	c, err := New(Options{Network: "tcp", Addrs: []string{srv.Addr}, IsPrivate: isLoopback})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(get("GET", time.Second)); KindOf(err) != KindConnect || !errors.Is(err, errPrivate) {
		t.Fatalf("want the private address refused, got %v", err)
	}
	if srv.Accepted() != 0 {
		t.Fatal("connected anyway")
	}
}

func TestDoRetryStatusesAndInvalid(t *testing.T) {
	var n atomic.Int32
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) {
		switch n.Add(1) {
		case 1:
			w.Stdout([]byte("Status: 503\r\n\r\n"))
		case 2:
			w.Stdout([]byte("Bad Header\r\n\r\n"))
		default:
			w.Stdout([]byte("X-A: 1\r\n\r\nfine"))
		}
	})
	c := newTestClient(t, srv, Options{MaxRetries: 2, RetryMethods: []string{"GET"}, RetryStatuses: []int{503}, RetryInvalidResponse: true})
	resp, err := c.Do(get("GET", 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	if string(resp.Body) != "fine" || resp.Attempts != 3 {
		t.Fatalf("body %q after %d attempts", resp.Body, resp.Attempts)
	}
	// POST is never retried; retries exhausted return the last response.
	n.Store(0)
	resp, err = c.Do(get("POST", 5*time.Second))
	if err != nil || resp.Status != 503 || resp.Attempts != 1 {
		t.Fatalf("POST: %v %+v", err, resp)
	}
	resp.Release()
	c2 := newTestClient(t, srv, Options{MaxRetries: 0, RetryMethods: []string{"GET"}, RetryStatuses: []int{503}})
	n.Store(0)
	resp, err = c2.Do(get("GET", 5*time.Second))
	if err != nil || resp.Status != 503 {
		t.Fatalf("no retries left: %v %+v", err, resp)
	}
	resp.Release()
}

func TestKeepaliveReusesAndCapsConnections(t *testing.T) {
	var mu sync.Mutex
	seen := map[bool]int{}
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, r *fcgitest.Request) {
		mu.Lock()
		seen[r.KeepConn]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		w.Stdout([]byte("X-A: 1\r\n\r\nok"))
	})
	c := newTestClient(t, srv, Options{Keepalive: true, PoolMax: 2})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(get("GET", 5*time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Release()
		}()
	}
	wg.Wait()
	if a := srv.Accepted(); a > 2 {
		t.Fatalf("%d connections for a pool of 2", a)
	}
	if seen[false] != 0 || seen[true] != 20 {
		t.Fatalf("FCGI_KEEP_CONN flags: %v", seen)
	}
	if c.Stats().Reused.Load() < 18 || c.Stats().Idle.Load() != srv.Accepted() {
		t.Fatalf("reused %d, idle %d", c.Stats().Reused.Load(), c.Stats().Idle.Load())
	}
}

func TestKeepaliveReplacesClosedConnections(t *testing.T) {
	// The application closes every connection after one request, as
	// php-fpm does when a child reaches pm.max_requests.
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) {
		w.Stdout([]byte("X-A: 1\r\n\r\nok"))
		w.End(0, 0)
		w.Close()
	})
	c := newTestClient(t, srv, Options{Keepalive: true, PoolMax: 1, RetryMethods: []string{"GET"}})
	for i := 0; i < 5; i++ {
		time.Sleep(10 * time.Millisecond)
		resp, err := c.Do(get("GET", 2*time.Second))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Release()
	}
	if c.Stats().Dead.Load() == 0 {
		t.Fatal("no closed idle connection was detected")
	}
}

func TestKeepaliveIdleTimeout(t *testing.T) {
	srv := fcgitest.StartUnix(t, fcgitest.Respond("X-A: 1\r\n\r\nok"))
	c := newTestClient(t, srv, Options{Keepalive: true, IdleTimeout: 50 * time.Millisecond})
	resp, err := c.Do(get("GET", time.Second))
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	deadline := time.Now().Add(2 * time.Second)
	for c.Stats().Idle.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle connection never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAnswerBeforeReadingBody(t *testing.T) {
	// The application answers as soon as it has the params and never
	// reads stdin: the client must not deadlock writing the body.
	srv := fcgitest.StartUnix(t, fcgitest.Respond("Status: 413\r\n\r\n"))
	c := newTestClient(t, srv, Options{Keepalive: true})
	resp, err := c.Do(withBody(get("POST", 5*time.Second), strings.Repeat("z", 8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	if resp.Status != 413 {
		t.Fatalf("status %d", resp.Status)
	}
}

func TestLargeResponse(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, many records
	srv := fcgitest.StartUnix(t, func(w *fcgitest.Writer, _ *fcgitest.Request) {
		w.Stdout(append([]byte("Content-Type: application/octet-stream\r\n\r\n"), body...))
	})
	c := newTestClient(t, srv, Options{})
	resp, err := c.Do(get("GET", 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Release()
	if !bytes.Equal(resp.Body, body) {
		t.Fatalf("body of %d bytes differs", len(resp.Body))
	}
}
