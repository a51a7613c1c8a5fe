package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// call is the per-request state of Serve, pooled. It is the
// http.ResponseWriter handed to httputil.ReverseProxy, so the ErrorHandler
// can record the error for Serve and see whether the response started.
//
// in is a shallow copy of the client request whose URL points at url, the
// upstream target: ReverseProxy clones it into the outgoing request, so the
// Rewrite hook finds the target already set and needs no per-request
// closure or context value. Nothing retains in or url after ServeHTTP
// returns (the outgoing request is a deep-enough clone), which makes
// pooling safe.
type call struct {
	in   http.Request
	url  url.URL
	w    http.ResponseWriter
	info *reqctx.Info

	err      *httperr.Error
	wrote    bool // a final (non-1xx) status was written
	hijacked bool // the connection was taken over for a protocol switch
	abort    bool // an error happened after the response started
}

func (c *call) Header() http.Header { return c.w.Header() }

func (c *call) WriteHeader(code int) {
	if code >= 200 && !c.wrote {
		c.wrote = true
		if c.info != nil {
			c.info.UpstreamStatus = code
		}
	}
	c.w.WriteHeader(code)
}

func (c *call) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.w.Write(p)
}

// FlushError lets http.ResponseController flush without unwrapping.
func (c *call) FlushError() error {
	switch f := c.w.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.NewResponseController(c.w).Flush()
}

func (c *call) Flush() { _ = c.FlushError() }

// Hijack takes over the client connection for a 101 Switching Protocols.
// The server's read/write deadlines are cleared: the tunnel's lifetime is
// bounded by the request context instead (Options.ReadTimeout).
func (c *call) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	c.hijacked, c.wrote = true, true
	if c.info != nil {
		c.info.UpstreamStatus = http.StatusSwitchingProtocols
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, brw, nil
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (c *call) Unwrap() http.ResponseWriter { return c.w }
