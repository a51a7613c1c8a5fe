package server

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

var errBodyTooLarge = errors.New("request body exceeds the configured limit")

// bodyGuard wraps a request body: it enforces the body limit while
// reading (chunked bodies have no Content-Length to check up front) and
// a per-read idle deadline (proxy downstream_read_timeout_secs) against
// slow uploads. It records what ended the read, so the pipeline can answer
// 413, 408 or 400 (a malformed or truncated body) instead of the upstream
// error.
type bodyGuard struct {
	rc       io.ReadCloser
	rc2      *http.ResponseController
	read     int64
	limit    int64
	idle     time.Duration
	tooLarge bool
	timedOut bool
	// broken: reading the client's body failed for another reason
	// (malformed chunked framing, connection closed mid-body).
	broken bool
	done   bool
	// eof: the whole body was read. Set by the goroutine reading the body
	// (the proxy transport's), read by the handler's: atomic.
	eof atomic.Bool
}

func (b *bodyGuard) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, errBodyTooLarge
	}
	if b.idle > 0 && b.rc2 != nil {
		_ = b.rc2.SetReadDeadline(time.Now().Add(b.idle))
	}
	// Read at most one byte past the limit to detect the overflow.
	if rem := b.limit - b.read + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		b.tooLarge = true
		return n - int(b.read-b.limit), errBodyTooLarge
	}
	if err != nil {
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			b.timedOut = true
		case err == io.EOF:
			b.eof.Store(true)
		default:
			b.broken = true
		}
		b.finish()
	}
	return n, err
}

// finish clears the read deadline so net/http's own keep-alive deadlines
// apply again.
func (b *bodyGuard) finish() {
	if !b.done && b.idle > 0 && b.rc2 != nil {
		b.done = true
		_ = b.rc2.SetReadDeadline(time.Time{})
	}
}

func (b *bodyGuard) Close() error {
	b.finish()
	return b.rc.Close()
}

// bodyUnread reports whether r announced a body that has not been read to
// its end: nobody has read it through a bodyGuard. HTTP/2 requests never
// count: net/http's HTTP/2 server does not read an unread body before
// the header or after the handler (it resets the stream), and its body is
// never http.NoBody, not even for a GET that ended its stream, while
// "Connection: close" on an HTTP/2 response makes it send GOAWAY and end
// the whole connection after every such request.
func bodyUnread(r *http.Request) bool {
	if r == nil || r.Body == nil || r.Body == http.NoBody || r.ProtoMajor >= 2 {
		return false
	}
	g, ok := r.Body.(*bodyGuard)
	return !ok || !g.eof.Load()
}
