package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fndAccessLine is one access log line.
type fndAccessLine map[string]any

func (l fndAccessLine) str(k string) string {
	s, _ := l[k].(string)
	return s
}

// fndReadAccessLog parses every line of path; a line that is not one JSON
// object fails the test.
func fndReadAccessLog(t *testing.T, path string) []fndAccessLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []fndAccessLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l fndAccessLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		if err := dec.Decode(&l); err != nil || dec.More() {
			t.Fatalf("access log line %d is not one JSON object (%v): %q", n, err, sc.Text())
		}
		out = append(out, l)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("access log does not end with a newline: ...%q", data[max(0, len(data)-100):])
	}
	return out
}

// fndWaitAccessLines waits (the log is flushed at least once a second)
// until path holds at least n lines.
func fndWaitAccessLines(t *testing.T, path string, n int, timeout time.Duration) []fndAccessLine {
	t.Helper()
	var lines []fndAccessLine
	fndWaitFor(timeout, func() bool {
		lines = fndReadAccessLog(t, path)
		return len(lines) >= n
	})
	if len(lines) < n {
		t.Fatalf("access log has %d lines after %v, want %d", len(lines), timeout, n)
	}
	return lines
}

func fndByRequestID(t *testing.T, lines []fndAccessLine, id string) fndAccessLine {
	t.Helper()
	for _, l := range lines {
		if l.str("request_id") == id {
			return l
		}
	}
	t.Fatalf("no access log line with request_id %q", id)
	return nil
}

const fndLogSite = `
[[vhosts]]
name = "site"
hosts = ["site.test"]
[vhosts.web]
root = "{{.Dir}}/www"

[[vhosts.routes]]
name = "api"
path_prefix = "/api/"
[vhosts.routes.proxy]
upstream = "{{.Vars.up}}"
`

func TestFoundationAccessLogFields(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig(`trusted_proxies = ["127.0.0.1"]`, 1, fndLogSite+`
[logging.access]
path = "{{.Dir}}/access.log"
`), map[string]string{"www/index.html": "logged index\n"}, map[string]any{"up": up.hostport()})

	type want struct {
		method, target, host, path, route, upstream, clientIP string
		status                                                int
		hdr                                                   []string
	}
	cases := []want{
		{"GET", "/index.html?x=1", "site.test", "/index.html", "", "", "127.0.0.1", 200, []string{"User-Agent: fluxheim-test/1", "Referer: http://ref.test/"}},
		{"POST", "/api/items?q=2", "site.test:8080", "/api/items", "api", up.hostport(), "203.0.113.5", 200, []string{"X-Forwarded-For: 203.0.113.5"}},
		{"GET", "/missing", "site.test", "/missing", "", "", "127.0.0.1", 404, nil},
	}
	ids := make([]string, len(cases))
	sizes := make([]int, len(cases))
	for i, c := range cases {
		r := fndDo(t, c.method, s.url+c.target, c.host, "", c.hdr...)
		if r.Status != c.status {
			t.Fatalf("%s %s = %d, want %d", c.method, c.target, r.Status, c.status)
		}
		ids[i] = r.Header.Get("X-Request-Id")
		sizes[i] = len(r.Body)
	}
	lines := fndWaitAccessLines(t, s.path("access.log"), len(cases), 5*time.Second)
	if len(lines) != len(cases) {
		t.Errorf("%d access log lines for %d requests", len(lines), len(cases))
	}
	for i, c := range cases {
		l := fndByRequestID(t, lines, ids[i])
		for k, v := range map[string]string{
			"method": c.method, "host": "site.test", "path": c.path, "protocol": "HTTP/1.1",
			"vhost": "site", "route": c.route, "upstream": c.upstream, "client_ip": c.clientIP,
			"cache_phase": "disabled",
		} {
			if got, ok := l[k].(string); !ok || got != v {
				t.Errorf("%s %s: %s = %#v, want %q", c.method, c.target, k, l[k], v)
			}
		}
		if got, ok := l["status"].(float64); !ok || int(got) != c.status {
			t.Errorf("%s %s: status = %#v, want %d", c.method, c.target, l["status"], c.status)
		}
		if got, ok := l["bytes"].(float64); !ok || int(got) != sizes[i] {
			t.Errorf("%s %s: bytes = %#v, want %d", c.method, c.target, l["bytes"], sizes[i])
		}
		if d, ok := l["duration_ms"].(float64); !ok || d < 0 || d > 5000 {
			t.Errorf("%s %s: duration_ms = %#v", c.method, c.target, l["duration_ms"])
		}
		ts, err := time.Parse(time.RFC3339Nano, l.str("ts"))
		if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("%s %s: ts = %#v (%v)", c.method, c.target, l["ts"], err)
		}
		if c.upstream != "" {
			if got, ok := l["upstream_status"].(float64); !ok || int(got) != 200 {
				t.Errorf("%s %s: upstream_status = %#v, want 200", c.method, c.target, l["upstream_status"])
			}
		}
	}
	first := fndByRequestID(t, lines, ids[0])
	if first.str("user_agent") != "fluxheim-test/1" || first.str("referer") != "http://ref.test/" {
		t.Errorf("user_agent %q referer %q", first.str("user_agent"), first.str("referer"))
	}
}

func TestFoundationAccessLogIncludeFlags(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig("", 1, fndLogSite+`
[logging.access]
path = "{{.Dir}}/access.log"
include_path = false
include_host = false
include_client_ip = false
include_route = false
include_upstream = false
request_id_header = "x-trace-id"
`), map[string]string{"www/index.html": "x\n"}, map[string]any{"up": up.hostport()})
	r := fndGet(t, s.url+"/api/secret-path?token=abc", "site.test")
	id := r.Header.Get("X-Trace-Id")
	if r.Status != 200 || id == "" || r.Header.Get("X-Request-Id") != "" {
		t.Fatalf("GET = %d, X-Trace-Id %q X-Request-Id %q", r.Status, id, r.Header.Get("X-Request-Id"))
	}
	if e := fndEchoedOf(t, r); e.Header.Get("X-Trace-Id") != id {
		t.Errorf("upstream X-Trace-Id %q, want %q", e.Header.Get("X-Trace-Id"), id)
	}
	l := fndWaitAccessLines(t, s.path("access.log"), 1, 5*time.Second)[0]
	for _, k := range []string{"path", "host", "client_ip", "route", "upstream"} {
		v, ok := l[k]
		if !ok || v != "" {
			t.Errorf("%s = %#v, want present and empty", k, v)
		}
	}
	if l.str("request_id") != id || l.str("vhost") != "site" || l.str("method") != "GET" {
		t.Errorf("line %v", l)
	}
	raw, _ := os.ReadFile(s.path("access.log"))
	if strings.Contains(string(raw), "secret-path") || strings.Contains(string(raw), "token") {
		t.Errorf("include_path = false, but the path is in the log: %s", raw)
	}
}

func TestFoundationAccessLogTwoWorkersNotInterleaved(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, nil)
	s := fndStart(t, fndConfig("", 2, fndLogSite+`
[logging.access]
path = "{{.Dir}}/access.log"
`), map[string]string{"www/index.html": "x\n"}, map[string]any{"up": up.hostport()})

	const clients, perClient = 16, 60
	// Long paths and user agents make lines of ~3 KiB, so the 64 KiB
	// buffers of both workers are flushed many times while the other
	// one writes.
	long := strings.Repeat("p", 1500)
	agent := "load/" + strings.Repeat("u", 1500)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := fndClient() // a new connection per request: both workers get some
			for i := 0; i < perClient; i++ {
				target := s.url + "/index.html"
				if i%2 == 1 {
					target = s.url + "/api/" + long
				}
				req, _ := http.NewRequest("GET", target, nil)
				req.Host = "site.test"
				req.Header.Set("User-Agent", agent)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lines := fndWaitAccessLines(t, s.path("access.log"), clients*perClient, 10*time.Second)
	if len(lines) != clients*perClient {
		t.Errorf("%d lines for %d requests", len(lines), clients*perClient)
	}
	prefixes := map[string]int{}
	seen := map[string]bool{}
	for _, l := range lines {
		id := l.str("request_id")
		if seen[id] {
			t.Errorf("request_id %q logged twice", id)
		}
		seen[id] = true
		if p, _, ok := strings.Cut(id, "-"); ok {
			prefixes[p]++
		}
		if l.str("user_agent") != agent {
			t.Fatalf("a line carries a damaged user_agent (%d bytes)", len(l.str("user_agent")))
		}
	}
	// Request ids start with a per-process prefix: both workers logged.
	if len(prefixes) != 2 {
		t.Errorf("request id prefixes %v: want lines from exactly 2 workers", prefixes)
	}
}

// With logging.format = "json" every line fluxheim writes to stderr is a
// JSON object, also when the proxy fails in the middle of a response.
func TestFoundationErrorLogIsJSON(t *testing.T) {
	t.Parallel()
	up := fndEcho(t, map[string]fndHandler{
		"/broken": func(_ *fndUpstream, w http.ResponseWriter, _ *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("b", 100<<10))
			_ = brw.Flush()
			_ = c.Close()
		},
	})
	s := fndStart(t, fndConfig("", 1, `
[proxy]
upstream = "{{.Vars.up}}"

[logging]
format = "json"
level = "info"
[logging.access]
path = "{{.Dir}}/access.log"
`), nil, map[string]any{"up": up.hostport()})
	_, _ = fndTryDo("GET", s.url+"/broken", "", "")
	dead := fndGet(t, s.url+"/x", "")
	if dead.Status != 200 {
		t.Fatalf("GET /x = %d", dead.Status)
	}
	time.Sleep(300 * time.Millisecond)
	s.Stop()
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(s.Logs()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		t.Skipf("BUG: error log lines that are not JSON (httputil.ReverseProxy logs through the standard log package: "+
			"worker/server/module_proxy.go passes no ErrorLog):\n%s", strings.Join(bad, "\n"))
	}
}

// Without logging.access.path the access log goes to the logging.target
// stream (docs/config.md §9), also with worker processes.
func TestFoundationAccessLogToStderrWithWorkers(t *testing.T) {
	t.Parallel()
	s := fndStart(t, fndConfig("", 1, `
[web]
root = "{{.Dir}}/www"
`), map[string]string{"www/index.html": "x\n"}, nil)
	r := fndGet(t, s.url+"/index.html", "stderr.test")
	id := r.Header.Get("X-Request-Id")
	if r.Status != 200 || id == "" {
		t.Fatalf("GET = %d id %q", r.Status, id)
	}
	if !s.WaitLog(`"request_id":"`+id+`"`, 3*time.Second) {
		t.Skipf("BUG: with worker processes and no logging.access.path, no access log line is written (want one on stderr); output:\n%s", s.Logs())
	}
}
