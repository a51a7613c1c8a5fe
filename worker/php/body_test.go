package php

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
	"github.com/fluxheim/fluxheim/shared/config"
)

// chunked hides the length of a body (like Transfer-Encoding: chunked).
type chunked struct{ io.Reader }

func post(body string, knownLength bool) *http.Request {
	var rd io.Reader = strings.NewReader(body)
	if !knownLength {
		rd = chunked{rd}
	}
	r := httptest.NewRequest(http.MethodPost, "/info.php", rd)
	if !knownLength {
		r.ContentLength = -1
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestBodies(t *testing.T) {
	root := makeRoot(t)
	spool := t.TempDir()
	srv := fcgitest.StartUnix(t, echoParams)
	body := strings.Repeat("a=b&", 50000) // 200000 bytes
	streamed := newHandler(t, block(root, srv, nil))
	spooled := newHandler(t, block(root, srv, func(c *config.PHP) {
		th := config.ByteSize(1024)
		c.RequestBodySpoolThresholdBytes, c.RequestBodySpoolDir = &th, spool
	}))
	for _, tc := range []struct {
		name  string
		h     *Handler
		known bool
	}{
		{"known length streamed", streamed, true},
		{"chunked buffered in memory", streamed, false},
		{"known length spooled", spooled, true},
		{"chunked spooled", spooled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := params(t, do(tc.h, post(body, tc.known)))
			if e.Stdin != body || e.Params["CONTENT_LENGTH"] != "200000" {
				t.Fatalf("php-fpm got %d bytes, CONTENT_LENGTH %q", len(e.Stdin), e.Params["CONTENT_LENGTH"])
			}
		})
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Fatalf("spool files left behind: %v", ents)
	}
}

func TestBodyOffAndLimit(t *testing.T) {
	root := makeRoot(t)
	srv := fcgitest.StartUnix(t, echoParams)
	off := newHandler(t, block(root, srv, func(c *config.PHP) { c.PassRequestBody = new(bool) }))
	e := params(t, do(off, post("secret=1", true)))
	if e.Stdin != "" || e.Params["CONTENT_LENGTH"] != "0" {
		t.Fatalf("pass_request_body = false sent %q (CONTENT_LENGTH %q)", e.Stdin, e.Params["CONTENT_LENGTH"])
	}
	limited := newHandler(t, block(root, srv, func(c *config.PHP) { n := config.ByteSize(10); c.MaxRequestBodyBytes = &n }))
	for _, known := range []bool{true, false} {
		if res := do(limited, post(strings.Repeat("x", 11), known)); res.status != 413 {
			t.Fatalf("known length %v: %d %v", known, res.status, res.err)
		}
	}
	if res := do(limited, post(strings.Repeat("x", 10), false)); res.status != 200 {
		t.Fatalf("at the limit: %d %v", res.status, res.err)
	}
}
