package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	ioBufferSize          = 32 << 10 // transport read/write buffers, body copy buffers
	maxResponseHeaderSize = 64 << 10 // upstream response header cap (larger: 502)
	tcpKeepAlive          = 30 * time.Second
)

// newTransport builds the upstream transport: HTTP/1.1 (HTTP/2 when
// o.HTTP2), keep-alive pool of KeepalivePoolSize idle connections, no
// proxy from the environment, no transparent gzip, per-operation deadlines
// on the connection (deadlineConn), TLS when o.TLS is set.
func newTransport(o Options) *http.Transport {
	tr := newBaseTransport(o)
	if o.TLS != nil {
		tr.TLSClientConfig = o.TLS
		tr.TLSHandshakeTimeout = o.ConnectTimeout
	}
	if o.HTTP2 {
		var p http.Protocols
		p.SetHTTP1(!o.HTTP1Off)
		if o.TLS != nil {
			p.SetHTTP2(true)
		} else {
			p.SetUnencryptedHTTP2(true)
		}
		tr.Protocols = &p
		tr.TLSNextProto = nil
		tr.ForceAttemptHTTP2 = true
	}
	return tr
}

func newBaseTransport(o Options) *http.Transport {
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: tcpKeepAlive}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: c, read: o.ReadTimeout, send: o.SendTimeout}, nil
		},
		MaxIdleConns:        o.KeepalivePoolSize,
		MaxIdleConnsPerHost: o.KeepalivePoolSize,
		IdleConnTimeout:     o.IdleTimeout,
		// No ResponseHeaderTimeout: deadlineConn already bounds the wait
		// for the response header by ReadTimeout (the read deadline is
		// re-armed by the last request write), and the Transport's timer
		// would cost three allocations per request.
		ExpectContinueTimeout:  0, // Expect is not forwarded; bodies go out at once
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{}, // no HTTP/2
		MaxResponseHeaderBytes: maxResponseHeaderSize,
		ReadBufferSize:         ioBufferSize,
		WriteBufferSize:        ioBufferSize,
	}
}

// deadlineConn enforces the proxy's stall timeouts on an upstream
// connection, the way nginx's proxy_read_timeout and proxy_send_timeout
// work (between two successive operations, not for the whole exchange):
//   - every Write must complete within send (SendTimeout), and re-arms the
//     read deadline: the response clock starts when the request goes out;
//   - every Read must return within read (ReadTimeout).
//
// A timed-out operation fails with a net.Error whose Timeout() is true
// (504 before the response started, an aborted response after). The
// transport's background read on an idle pooled connection is a Read too,
// so idle connections are closed after ReadTimeout at the latest.
type deadlineConn struct {
	net.Conn
	read, send time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.read)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	now := time.Now()
	if err := c.Conn.SetWriteDeadline(now.Add(c.send)); err != nil {
		return 0, err
	}
	if err := c.Conn.SetReadDeadline(now.Add(c.read)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection when the underlying one can
// (WebSocket tunnels propagate EOF this way).
func (c *deadlineConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// bufferPool is the httputil.BufferPool for response body copies: 32 KiB
// buffers stored as array pointers, so Get and Put do not allocate.
type bufferPool struct{ p sync.Pool }

var bufPool = &bufferPool{}

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[ioBufferSize]byte); ok {
		return v[:]
	}
	return make([]byte, ioBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) >= ioBufferSize {
		b.p.Put((*[ioBufferSize]byte)(buf[:ioBufferSize]))
	}
}
