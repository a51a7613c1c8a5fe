package integration

// Shared helpers of the foundation tests (issue 2): a config skeleton that
// runs the real binary with one worker on a loopback port, an HTTP client
// that neither follows redirects nor decodes content, raw-response
// parsing, and an upstream that echoes what it received as JSON.
//
// Names start with "fnd" so they do not collide with other test files of
// this package.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/integration/harness"
)

// fndServer is a running fluxheim with its single listener "http".
type fndServer struct {
	*harness.Server
	t    *testing.T
	addr string
	url  string
}

// fndConfig assembles a config: [server] with the "http" listener and
// serverKeys (plain keys of [server], may be followed by [server.*]
// tables), then [server.process] for one worker with no pid file or
// control socket (workers overrides the count when > 0), then rest
// (top-level tables: [web], [proxy], [[vhosts]], [logging], ...).
func fndConfig(serverKeys string, workers int, rest string) string {
	if workers <= 0 {
		workers = 1
	}
	return fmt.Sprintf(`[server]
listen = ["{{listen "http"}}"]
%s

[server.process]
workers = %d
pid_file = ""
control_sock = ""
graceful_shutdown_timeout_seconds = 2
worker_shutdown_timeout_secs = 2

%s
`, serverKeys, workers, rest)
}

// fndStart starts the binary with cfg (see fndConfig) and files written
// into its directory; vars are available as {{.Vars.NAME}}.
func fndStart(t *testing.T, cfg string, files map[string]string, vars map[string]any) *fndServer {
	t.Helper()
	srv := harness.Start(t, harness.Options{Config: cfg, Files: files, Vars: vars, StopTimeout: 5 * time.Second})
	t.Cleanup(func() {
		// Stop first, so reports printed at exit are seen too (a binary
		// built with -race, via FLUXHEIM_BIN, reports races on stderr).
		srv.Stop()
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.Contains(srv.Logs(), bad) {
				t.Errorf("fluxheim printed %q:\n%s", bad, srv.Logs())
			}
		}
	})
	addr := srv.Addr("http")
	return &fndServer{Server: srv, t: t, addr: addr, url: "http://" + addr}
}

// path returns an absolute path below the server's directory.
func (s *fndServer) path(rel string) string { return filepath.Join(s.Dir(), filepath.FromSlash(rel)) }

// writeFile writes data below the server's directory (for binary content
// and files that must not be templated).
func (s *fndServer) writeFile(rel string, data []byte) {
	s.t.Helper()
	p := s.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// fndResp is a fully read response.
type fndResp struct {
	Status int
	Header http.Header
	Body   string
}

// fndClient never follows redirects, never adds or decodes
// Accept-Encoding, and uses a new connection per request.
func fndClient() *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			Proxy:              nil,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
	}
}

// fndDo sends one request. host "" keeps the URL's; headers are
// "Name: value". A transport error fails the test.
func fndDo(t *testing.T, method, url, host, body string, headers ...string) fndResp {
	t.Helper()
	r, err := fndTryDo(method, url, host, body, headers...)
	if err != nil {
		t.Fatalf("%s %s (Host %q): %v", method, url, host, err)
	}
	return r
}

func fndTryDo(method, url, host, body string, headers ...string) (fndResp, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return fndResp{}, err
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return fndResp{}, fmt.Errorf("header %q is not Name: value", h)
		}
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if host != "" {
		req.Host = host
	}
	resp, err := fndClient().Do(req)
	if err != nil {
		return fndResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fndResp{}, err
	}
	return fndResp{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

func fndGet(t *testing.T, url, host string, headers ...string) fndResp {
	t.Helper()
	return fndDo(t, http.MethodGet, url, host, "", headers...)
}

// fndRawResp is a raw exchange parsed as HTTP/1.1 responses.
type fndRawResp struct {
	Raw    string
	Status int // of the first response; 0 when nothing parseable came back
	Header http.Header
	Body   string // of the first response
	Close  bool   // the first response said Connection: close
}

// fndRaw sends raw bytes and parses the first response (method is the
// request method, for HEAD framing).
func fndRaw(t *testing.T, addr, method, raw string) fndRawResp {
	t.Helper()
	out := harness.RawRequest(t, addr, raw)
	res := fndRawResp{Raw: out}
	if out == "" {
		return res
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("unparseable response %q: %v", out, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res.Status, res.Header, res.Body, res.Close = resp.StatusCode, resp.Header, string(b), resp.Close
	return res
}

// fndStatusBody returns the standard body fluxheim writes for an error
// status ("404 Not Found\n").
func fndStatusBody(code int) string {
	return fmt.Sprintf("%d %s\n", code, http.StatusText(code))
}

// fndEchoed is what the echo upstream saw.
type fndEchoed struct {
	Method     string      `json:"method"`
	RequestURI string      `json:"request_uri"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
	Body       string      `json:"body"`
	BodyErr    string      `json:"body_err,omitempty"`
}

// fndUpstream is an upstream on loopback in the test process.
type fndUpstream struct {
	*httptest.Server
	hits atomic.Int64 // requests that reached the handler
	// seen receives a copy of each request (non-blocking; drops when full).
	seen chan fndEchoed
}

func (u *fndUpstream) hostport() string { return u.Listener.Addr().String() }

// fndHandler is a special upstream path; u.echo answers like the echo.
type fndHandler func(u *fndUpstream, w http.ResponseWriter, r *http.Request)

// fndEcho starts an upstream that answers every request with 200 and the
// JSON of fndEchoed; handlers in extra (by exact path) run instead.
func fndEcho(t *testing.T, extra map[string]fndHandler) *fndUpstream {
	t.Helper()
	u := &fndUpstream{seen: make(chan fndEchoed, 64)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		if h, ok := extra[r.URL.Path]; ok {
			h(u, w, r)
			return
		}
		u.echo(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// echo answers 200 with the JSON of what r carried.
func (u *fndUpstream) echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	e := fndEchoed{
		Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Query: r.URL.RawQuery,
		Host: r.Host, Header: r.Header, Body: string(b),
	}
	if err != nil {
		e.BodyErr = err.Error()
	}
	select {
	case u.seen <- e:
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Upstream", "echo")
	_ = json.NewEncoder(w).Encode(e)
}

// fndEchoedOf decodes an echo response body.
func fndEchoedOf(t *testing.T, r fndResp) fndEchoed {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200 from the echo upstream; body %q", r.Status, r.Body)
	}
	var e fndEchoed
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("not an echo response: %q (%v)", r.Body, err)
	}
	return e
}

// fndEchoedRaw decodes the echo body of a raw response.
func fndEchoedRaw(t *testing.T, r fndRawResp) fndEchoed {
	t.Helper()
	return fndEchoedOf(t, fndResp{Status: r.Status, Header: r.Header, Body: r.Body})
}

// fndWaitFor polls cond every 20 ms until it is true or timeout passes.
func fndWaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fndDial opens a raw connection with a deadline for the whole exchange.
func fndDial(t *testing.T, addr string, d time.Duration) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(d))
	t.Cleanup(func() { _ = c.Close() })
	return c
}
