package php

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/worker/reqctx"
	"github.com/fluxheim/fluxheim/worker/router"
)

// tree is the document root every test uses.
var tree = map[string]string{
	"index.php":                   "<?php front",
	"info.php":                    "<?php info",
	"style.css":                   "body{}",
	"sub/index.php":               "<?php sub",
	"plain/index.html":            "<p>plain</p>",
	"empty/.keep":                 "",
	"wp-content/uploads/evil.php": "<?php evil",
	"wp-content/uploads/cat.jpg":  "jpg",
	"upload/evil.jpg":             "<?php jpg",
	".hidden/x.php":               "<?php hidden",
	"template.phtml":              "<?php phtml",
	"dir.php/index.php":           "<?php dirphp",
	"files/report.pdf":            "%PDF",
}

// makeRoot writes tree (plus a symlinked script) into a temp directory.
func makeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range tree {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("info.php", filepath.Join(root, "link.php")); err != nil {
		t.Fatal(err)
	}
	return root
}

// echoParams answers with the params as JSON and the stdin length.
func echoParams(w *fcgitest.Writer, r *fcgitest.Request) {
	body, _ := json.Marshal(map[string]any{"params": r.Params, "stdin": string(r.Stdin)})
	w.Stdout([]byte("Content-Type: application/json\r\n\r\n"))
	w.Stdout(body)
}

type echoed struct {
	Params map[string]string `json:"params"`
	Stdin  string            `json:"stdin"`
}

// block returns a defaulted PHP block for root talking to srv.
func block(root string, srv *fcgitest.Server, edit func(*config.PHP)) *config.PHP {
	c := &config.PHP{Root: root}
	if srv != nil {
		if srv.Network == "unix" {
			c.FPM.Socket = srv.Addr
		} else {
			c.FPM.TCP, c.FPM.AllowPrivateTCPUpstreams = srv.Addr, true
		}
	} else {
		c.FPM.Socket = "/nonexistent/php.sock"
	}
	if edit != nil {
		edit(c)
	}
	return config.DefaultPHP(c)
}

func newHandler(t *testing.T, c *config.PHP) *Handler {
	t.Helper()
	h, err := New(c, Deps{Vhost: "test-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

type result struct {
	status int
	header http.Header
	body   string
	err    error
}

// do serves one request through h as the pipeline would: the routed path
// is the request path, with reqctx info for a client at 192.0.2.7.
func do(h *Handler, r *http.Request) result {
	info := &reqctx.Info{Scheme: "http", Host: "app.test", ClientIP: netip.MustParseAddr("192.0.2.7"), PeerAddr: netip.MustParseAddrPort("10.0.0.1:4321")}
	if r.TLS != nil {
		info.Scheme = "https"
	}
	r = r.WithContext(reqctx.With(r.Context(), info))
	rec := httptest.NewRecorder()
	p, _ := router.CleanPath(r.URL.Path)
	err := h.Serve(rec, r, &router.Target{Path: p, EscapedPath: r.URL.EscapedPath()})
	if err != nil {
		return result{status: httperr.StatusOf(err), err: err}
	}
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: string(b)}
}

func get(target string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	return r
}

func params(t *testing.T, res result) echoed {
	t.Helper()
	if res.status != 200 {
		t.Fatalf("status %d (%v) body %q", res.status, res.err, res.body)
	}
	var e echoed
	if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		t.Fatalf("body %q: %v", res.body, err)
	}
	return e
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
