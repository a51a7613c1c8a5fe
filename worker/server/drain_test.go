package server

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	cfg, err := config.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := BuildHandler(cfg, lg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, h, lg)
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.(*net.TCPListener)
}

// A drain that arrives before Serve started (a reload right after READY)
// still stops the listeners: Serve accepts nothing and returns.
func TestStopAcceptingBeforeServe(t *testing.T) {
	s := newTestServer(t)
	ln := listen(t)
	addr := ln.Addr().String()
	s.StopAccepting(nil)
	done := make(chan error, 1)
	go func() { done <- s.Serve([]Listener{{Key: "k", LN: ln}}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after StopAccepting: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve after StopAccepting did not return")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after StopAccepting")
	}
}

// When StopAccepting returns, this process no longer accepts on the shared
// socket: every new connection goes to the other holder (the next
// generation's worker).
func TestStopAcceptingHandsTheSocketOver(t *testing.T) {
	s := newTestServer(t)
	ln := listen(t)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	other, err := net.FileListener(f) // the "new worker": same socket, own fd
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() { _ = s.Serve([]Listener{{Key: "k", LN: ln}}) }()
	addr := ln.Addr().String()
	// Both accept; wait until the server answered once.
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never answered: %v", err)
		}
	}
	s.StopAccepting(nil)
	for i := 0; i < 50; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("dial %d after StopAccepting: %v", i, err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		b := make([]byte, 12)
		n, _ := c.Read(b)
		c.Close()
		if strings.HasPrefix(string(b[:n]), "HTTP/1.1") {
			t.Fatalf("connection %d after StopAccepting was served by the draining server", i)
		}
	}
}

// A keep-alive connection idle since long before the drain gets the quiet
// period from the drain's start: a request sent then is answered (with
// Connection: close), not cut off.
func TestDrainGivesIdleConnectionsTheQuietPeriod(t *testing.T) {
	s := newTestServer(t)
	ln := listen(t)
	go func() { _ = s.Serve([]Listener{{Key: "k", LN: ln}}) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() *http.Response {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(); r.Close {
		t.Fatal("Connection: close before the drain")
	}
	time.Sleep(IdleQuiet + 200*time.Millisecond) // idle longer than the quiet period
	drained := make(chan struct{})
	go func() {
		s.Drain(time.Now().Add(10*time.Second), nil)
		close(drained)
	}()
	time.Sleep(IdleQuiet / 2)
	r := get()
	if !r.Close {
		t.Fatal("response during the drain without Connection: close")
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last connection closed")
	}
}
