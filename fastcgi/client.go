package fastcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// Options configure a Client. Zero durations and sizes mean "none" unless
// stated otherwise.
type Options struct {
	// Network is "unix" (Addrs holds one socket path) or "tcp" (host:port
	// entries, used round robin).
	Network string
	Addrs   []string
	// AllowPrivate allows TCP connections to addresses IsPrivate reports
	// (checked on the resolved address). Unix sockets ignore it.
	AllowPrivate bool
	IsPrivate    func(netip.Addr) bool
	// ConnectTimeout bounds each dial (the request deadline always does).
	ConnectTimeout time.Duration

	// Keepalive keeps connections open between requests (FCGI_KEEP_CONN);
	// at most PoolMax connections per address are open at once (idle or
	// busy; default 8) and idle ones close after IdleTimeout (default 60 s).
	Keepalive   bool
	PoolMax     int
	IdleTimeout time.Duration

	// MaxRetries, RetryTimeout, RetryMethods, RetryInvalidResponse and
	// RetryStatuses are the retry policy; see Client.Do.
	MaxRetries           int
	RetryTimeout         time.Duration
	RetryMethods         []string
	RetryInvalidResponse bool
	RetryStatuses        []int

	// MaxHeaderBytes (default 64 KiB) bounds the response header section,
	// MaxBodyBytes (default 64 MiB) the response body.
	MaxHeaderBytes int
	MaxBodyBytes   int64
	// StderrKeepBytes is how much stderr a Response keeps (default 2 KiB);
	// MaxStderrBytes bounds the whole stderr stream (default MaxBodyBytes).
	StderrKeepBytes int
	MaxStderrBytes  int64
	// StderrFailurePatterns make a response whose stderr contains one of
	// them invalid.
	StderrFailurePatterns []string
}

// Request is one FastCGI responder request.
type Request struct {
	// Method is the HTTP method, for the retry policy.
	Method string
	// Params are the CGI variables.
	Params *Params
	// Body is FCGI_STDIN (nil: empty). GetBody returns a fresh copy for a
	// retry; when it is nil, a request whose body was (partly) sent is
	// never retried.
	Body    io.Reader
	GetBody func() (io.Reader, error)
	// AbortBody, when set, is called if the application answers before
	// the whole body was sent, to end a Body.Read that may be waiting on a
	// slow client (the caller then must not reuse the client connection).
	AbortBody func()
	// Deadline is the absolute end of the whole exchange, retries included
	// (required).
	Deadline time.Time
	// Ctx cancels the exchange (the client went away); may be nil.
	Ctx context.Context
}

// Client sends requests to one FastCGI application (one address, or
// several used round robin). It is safe for concurrent use.
type Client struct {
	opts   Options
	dialer *dialer
	lim    limits
	pools  []*pool // per address, keep-alive only
	next   atomic.Uint32
	stats  PoolStats
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("fastcgi: no address")
	}
	if opts.Network != "unix" && opts.Network != "tcp" {
		return nil, fmt.Errorf("fastcgi: network %q, want unix or tcp", opts.Network)
	}
	if opts.Network == "unix" && len(opts.Addrs) != 1 {
		return nil, errors.New("fastcgi: a unix socket client has exactly one address")
	}
	setDefault(&opts.PoolMax, 8)
	setDefault(&opts.IdleTimeout, 60*time.Second)
	setDefault(&opts.MaxHeaderBytes, 64<<10)
	setDefault(&opts.MaxBodyBytes, 64<<20)
	setDefault(&opts.StderrKeepBytes, 2<<10)
	setDefault(&opts.MaxStderrBytes, opts.MaxBodyBytes)
	c := &Client{
		opts:   opts,
		dialer: newDialer(opts.Network, opts.ConnectTimeout, opts.AllowPrivate, opts.IsPrivate),
		lim: limits{
			maxHeader: opts.MaxHeaderBytes, maxBody: opts.MaxBodyBytes,
			stderrKeep: opts.StderrKeepBytes, stderrLimit: opts.MaxStderrBytes,
		},
	}
	for _, p := range opts.StderrFailurePatterns {
		c.lim.patterns = append(c.lim.patterns, []byte(p))
	}
	if opts.Keepalive {
		for _, a := range opts.Addrs {
			c.pools = append(c.pools, newPool(a, opts.PoolMax, opts.IdleTimeout, &c.stats))
		}
	}
	return c, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Stats returns the keep-alive pool counters (all zero without
// keep-alive).
func (c *Client) Stats() *PoolStats { return &c.stats }

// Close closes idle keep-alive connections; connections in use close when
// their request ends. The Client must not be used afterwards.
func (c *Client) Close() {
	for _, p := range c.pools {
		p.close()
	}
}

// Do sends req and returns the complete, validated response, or an
// *Error. The retry policy:
//
//   - only methods in RetryMethods are ever retried or failed over;
//   - a connect failure (nothing reached the application) fails over to the
//     next address, each address once, without counting as a retry; a kept
//     connection found closed before any response byte is replaced by a
//     fresh one once, also without counting;
//   - with retries left (MaxRetries) and within RetryTimeout, a retry
//     follows a connect failure, an invalid response (RetryInvalidResponse)
//     or a status in RetryStatuses (the last such response is returned
//     when retries run out);
//   - timeouts, transport errors after the request was sent, oversized
//     responses and cancellation are never retried, nor is a request whose
//     body was sent and cannot be replayed (GetBody nil).
//
// Every attempt shares req.Deadline. Nothing reaches the HTTP client before
// Do returns (responses are buffered), so a retry is never visible to it.
func (c *Client) Do(req *Request) (*Response, error) {
	if req.Ctx == nil {
		r := *req
		r.Ctx = context.Background()
		req = &r
	}
	start := time.Now()
	var retryEnd time.Time
	if c.opts.RetryTimeout > 0 {
		retryEnd = start.Add(c.opts.RetryTimeout)
	}
	mayRetry := slices.Contains(c.opts.RetryMethods, req.Method)
	n := len(c.opts.Addrs)
	first := int(c.next.Add(1)-1) % n
	failovers, retries, freshLeft := n-1, 0, 1
	body := req.Body
	var last *Response
	for attempt := 1; ; attempt++ {
		addr := c.opts.Addrs[(first+attempt-1)%n]
		resp, err := c.attempt(addr, req, body)
		if err == nil && (!mayRetry || !slices.Contains(c.opts.RetryStatuses, resp.Status)) {
			resp.Addr, resp.Attempts = addr, attempt
			if last != nil {
				last.Release()
			}
			return resp, nil
		}
		var e *Error
		if err != nil {
			e = err.(*Error)
			e.Addr, e.Attempts = addr, attempt
		} else { // a status worth retrying
			if last != nil {
				last.Release()
			}
			resp.Addr, resp.Attempts = addr, attempt
			last = resp
		}
		free, counted := false, false
		switch {
		case !mayRetry:
		case e == nil:
			counted = true
		case e.Kind == KindConnect && failovers > 0:
			failovers--
			free = true
		case e.Kind == KindStale && freshLeft > 0:
			freshLeft--
			free = true
		case e.Kind == KindConnect || e.Kind == KindStale:
			counted = true
		case e.Kind == KindInvalidResponse || e.Kind == KindProtocol:
			counted = c.opts.RetryInvalidResponse
		}
		now := time.Now()
		ok := (free || (counted && retries < c.opts.MaxRetries && (retryEnd.IsZero() || now.Before(retryEnd)))) &&
			now.Before(req.Deadline)
		if ok && e != nil && e.Sent && req.Body != nil {
			body, ok = c.replay(req)
		}
		if !ok {
			if e == nil {
				return last, nil
			}
			if last != nil {
				last.Release()
			}
			return nil, e
		}
		if counted {
			retries++
		}
	}
}

// replay returns a fresh copy of the request body for a retry.
func (c *Client) replay(req *Request) (io.Reader, bool) {
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	return b, err == nil
}

// attempt runs one exchange on addr: a kept connection or a new one.
func (c *Client) attempt(addr string, req *Request, body io.Reader) (*Response, error) {
	var p *pool
	var cn *conn
	if c.opts.Keepalive {
		p = c.pools[slices.Index(c.opts.Addrs, addr)]
		var err error
		if cn, err = p.get(req.Ctx, req.Deadline); err != nil {
			return nil, err
		}
	}
	if cn == nil {
		var err error
		if cn, err = c.dialer.dial(req.Ctx, addr, req.Deadline); err != nil {
			if p != nil {
				p.release()
			}
			return nil, err
		}
	}
	resp, reusable, err := exchange(cn, req, body, &c.lim, c.opts.Keepalive)
	switch {
	case p == nil:
		cn.close()
	case reusable:
		_ = cn.SetDeadline(time.Time{})
		p.put(cn)
	default:
		c.stats.Discarded.Add(1)
		p.discard(cn)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}
