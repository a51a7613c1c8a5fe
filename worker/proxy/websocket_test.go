package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// rawUpgradeEcho is a tiny hand-written WebSocket-ish origin: for a request
// carrying Upgrade: websocket it answers 101 and then echoes every byte on
// the raw connection; otherwise it answers 200 listing the Connection and
// Upgrade headers it received.
func rawUpgradeEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
					io.Copy(c, br) // echo
					return
				}
				body := fmt.Sprintf("connection=%q upgrade=%q", req.Header.Get("Connection"), req.Header.Get("Upgrade"))
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			}(c)
		}
	}()
	return ln.Addr().String()
}

// handshake sends a WebSocket opening handshake to addr over a raw
// connection and returns the connection and the parsed response.
func handshake(t *testing.T, addr string, extra string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", wsKey, extra)
	br := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

func TestWebSocketUpgradeEndToEnd(t *testing.T) {
	up := rawUpgradeEcho(t)
	f := newFront(t, mustNew(t, Options{Upstream: up, WebSocket: true}), nil)
	c, br, resp := handshake(t, f.Listener.Addr().String(), "")
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Accept") == "" {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", "second frame"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: %q %v", msg, buf, err)
		}
	}
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, info := f.last(); info != nil {
			if info.UpstreamStatus != 101 {
				t.Fatalf("UpstreamStatus %d", info.UpstreamStatus)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Serve did not return after the tunnel closed")
}

func TestWebSocketDisabledStripsUpgrade(t *testing.T) {
	up := rawUpgradeEcho(t)
	f := newFront(t, mustNew(t, Options{Upstream: up, WebSocket: false}), nil)
	_, _, resp := handshake(t, f.Listener.Addr().String(), "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `connection="" upgrade=""` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestWebSocketInvalidHandshakeIsPlain(t *testing.T) {
	up := rawUpgradeEcho(t)
	f := newFront(t, mustNew(t, Options{Upstream: up, WebSocket: true}), nil)
	// A second Sec-WebSocket-Key makes the handshake invalid.
	_, _, resp := handshake(t, f.Listener.Addr().String(), "Sec-WebSocket-Key: "+wsKey+"\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `connection="" upgrade=""` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestUnrequestedSwitchIs502(t *testing.T) {
	// The origin switches protocols although the proxy stripped the upgrade.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		time.Sleep(time.Second)
	}()
	f := newFront(t, mustNew(t, Options{Upstream: ln.Addr().String()}), nil)
	_, _, resp := handshake(t, f.Listener.Addr().String(), "")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestWebSocketLifetimeCappedByReadTimeout(t *testing.T) {
	up := rawUpgradeEcho(t)
	f := newFront(t, mustNew(t, Options{Upstream: up, WebSocket: true, ReadTimeout: 300 * time.Millisecond}), nil)
	c, br, resp := handshake(t, f.Listener.Addr().String(), "")
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	start := time.Now()
	// Keep the tunnel busy: idle timeouts must not be what ends it.
	buf := make([]byte, 4)
	for {
		if _, err := io.WriteString(c, "ping"); err != nil {
			break
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("tunnel outlived its lifetime cap")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("tunnel closed after %v, before the cap", d)
	}
}

func TestIsWebSocketUpgrade(t *testing.T) {
	base := func() *http.Request {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "WebSocket")
		r.Header.Set("Sec-WebSocket-Key", wsKey)
		r.Header.Set("Sec-WebSocket-Version", "13")
		return r
	}
	if !isWebSocketUpgrade(base()) {
		t.Fatal("valid handshake rejected")
	}
	for name, mutate := range map[string]func(*http.Request){
		"post":        func(r *http.Request) { r.Method = "POST" },
		"http2":       func(r *http.Request) { r.ProtoMajor = 2 },
		"no conn":     func(r *http.Request) { r.Header.Set("Connection", "keep-alive") },
		"h2c":         func(r *http.Request) { r.Header.Set("Upgrade", "h2c") },
		"no key":      func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") },
		"short key":   func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "abc") },
		"bad key":     func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ!=") },
		"two keys":    func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", wsKey) },
		"version 8":   func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") },
		"no version":  func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") },
		"two version": func(r *http.Request) { r.Header.Add("Sec-WebSocket-Version", "13") },
	} {
		r := base()
		mutate(r)
		if isWebSocketUpgrade(r) {
			t.Errorf("%s: accepted", name)
		}
	}
}
