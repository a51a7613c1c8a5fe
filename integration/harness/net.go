package harness

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago (the
// kernel picked it for a listener that is closed again before returning).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: FreePort: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("harness: FreePort: %v", err)
	}
	return port
}

// FreeAddr returns "127.0.0.1:PORT" for a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// WaitListening waits until every address accepts a TCP connection or the
// timeout passes; it returns the first address that did not.
func WaitListening(addrs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				return &NotListeningError{Addr: addr, Err: err}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// NotListeningError reports an address that never accepted a connection.
type NotListeningError struct {
	Addr string
	Err  error
}

func (e *NotListeningError) Error() string {
	return "nothing accepts connections on " + e.Addr + ": " + e.Err.Error()
}

func (e *NotListeningError) Unwrap() error { return e.Err }

// NewClient returns the client Get uses: no redirects followed, keep-alives off,
// 10 s timeout, and for https certificates are not verified (tests bring their
// own CAs where verification matters) with SNI set to serverName when not "".
func NewClient(serverName string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			ForceAttemptHTTP2: false,
			TLSClientConfig: &tls.Config{
				ServerName:         serverName,
				InsecureSkipVerify: true, //nolint:gosec // test client; see doc comment
			},
		},
	}
}

// Response is what Get returns.
type Response struct {
	Status int
	Header http.Header
	Body   string
	Proto  string
}

// TryGet is Get without failing the test: it returns transport errors.
// headers are "Name: value" strings; host, when not "", becomes the Host header
// (and the TLS server name).
func TryGet(url, host string, headers ...string) (*Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, errors.New("harness: header " + strconv.Quote(h) + " is not \"Name: value\"")
		}
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	serverName := ""
	if host != "" {
		req.Host = host
		serverName = host
		if h, _, err := net.SplitHostPort(host); err == nil {
			serverName = h
		}
	}
	client := NewClient(serverName)
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Proto: resp.Proto}, nil
}

// Get sends a GET to url with Host host ("" = from the URL) and extra headers
// ("Name: value"), without following redirects and without keep-alive, and
// returns status, headers and body. A transport error fails the test, so call it
// from the test's goroutine.
func Get(t testing.TB, url, host string, headers ...string) (int, http.Header, string) {
	t.Helper()
	resp, err := TryGet(url, host, headers...)
	if err != nil {
		t.Fatalf("harness: GET %s (Host %q): %v", url, host, err)
	}
	return resp.Status, resp.Header, resp.Body
}

// RawRequest connects to addr, writes raw as is, and returns everything read
// until the server closes the connection or stays silent for 2 s.
func RawRequest(t testing.TB, addr, raw string) string {
	t.Helper()
	out, err := RawRequestTimeout(addr, raw, 2*time.Second)
	if err != nil {
		t.Fatalf("harness: RawRequest %s: %v", addr, err)
	}
	return out
}

// RawRequestTimeout is RawRequest with a chosen silence period and no testing.TB.
// A connection reset after some bytes were read is not an error: servers reset
// connections they reject.
func RawRequestTimeout(addr, raw string, silence time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, raw); err != nil && !isReset(err) {
		return "", err
	}
	var out strings.Builder
	buf := make([]byte, 32<<10)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(silence)); err != nil {
			return out.String(), err
		}
		n, err := conn.Read(buf)
		out.Write(buf[:n])
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrDeadlineExceeded), isReset(err):
			return out.String(), nil
		default:
			return out.String(), err
		}
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
