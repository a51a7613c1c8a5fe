package fastcgi

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi/fcgitest"
)

// newTestClient returns a Client for srv with opts (Network and Addrs
// filled in).
func newTestClient(t *testing.T, srv *fcgitest.Server, opts Options) *Client {
	t.Helper()
	opts.Network = srv.Network
	if opts.Addrs == nil {
		opts.Addrs = []string{srv.Addr}
	}
	opts.AllowPrivate = true
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// get builds a bodyless request with a deadline d from now.
func get(method string, d time.Duration) *Request {
	var p Params
	p.Add("REQUEST_METHOD", method)
	p.Add("SCRIPT_FILENAME", "/srv/index.php")
	return &Request{Method: method, Params: &p, Deadline: time.Now().Add(d), Ctx: context.Background()}
}

func withBody(r *Request, body string) *Request {
	r.Body = strings.NewReader(body)
	r.GetBody = func() (io.Reader, error) { return strings.NewReader(body), nil }
	return r
}

func isLoopback(a netip.Addr) bool { return a.IsLoopback() }
