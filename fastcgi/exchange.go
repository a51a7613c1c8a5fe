package fastcgi

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// limits are the bounds of one exchange.
type limits struct {
	maxHeader   int   // header section bytes, blank line included
	maxBody     int64 // body bytes after the header section
	stderrKeep  int   // stderr bytes kept for the log
	stderrLimit int64 // stderr bytes accepted in total
	patterns    [][]byte
}

var errUnread = errors.New("application answered before reading the whole request body")

var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// exchange runs req on c: it writes FCGI_BEGIN_REQUEST, the params and
// the body (concurrently with reading, so an application answering before
// it has read its input cannot deadlock us), reads the records up to
// FCGI_END_REQUEST and checks every bound while reading. reusable reports
// whether c may serve another request (keep-alive only). The returned
// error is an *Error; its Sent field is meaningful.
func exchange(c *conn, req *Request, body io.Reader, lim *limits, keep bool) (resp *Response, reusable bool, err error) {
	if err := c.SetDeadline(req.Deadline); err != nil {
		return nil, false, &Error{Kind: KindTransport, Err: err}
	}
	ctx := req.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		// A cancellation racing with the end of the exchange may still set
		// its past deadline: such a connection is not reused.
		if !stop() {
			reusable = false
		}
	}()

	hp := headPool.Get().(*[]byte)
	head := appendBeginRequest((*hp)[:0], keep)
	head = appendStream(head, typeParams, req.Params.Bytes())
	w := &requestWriter{c: c}
	var wdone chan error
	if body == nil {
		head = appendRecord(head, typeStdin, nil)
		err := w.write(head)
		*hp = head
		headPool.Put(hp)
		if err != nil {
			return nil, false, classify(ctx, c, w.isSent(), 0, err)
		}
	} else {
		wdone = make(chan error, 1)
		go func() {
			err := w.write(head)
			*hp = head
			headPool.Put(hp)
			if err == nil {
				err = w.stream(body)
			}
			if IsBodyError(err) {
				// The client's upload failed: stop waiting for php-fpm.
				_ = c.Conn.Close()
			}
			wdone <- err
		}()
	}
	r := reader{c: c, lim: lim, stderr: newStderrSink(lim.stderrKeep, lim.stderrLimit, lim.patterns)}
	resp, rerr := r.read()
	var werr error
	if wdone != nil {
		select {
		case werr = <-wdone:
		default:
			// The application answered without reading all of its input:
			// the connection cannot be reused; closing it ends the writer,
			// and AbortBody ends a read of the caller's body in progress.
			_ = c.Conn.Close()
			if req.AbortBody != nil {
				req.AbortBody()
			}
			werr = errors.Join(errUnread, <-wdone)
		}
	}
	if rerr != nil {
		if resp != nil {
			resp.Release()
		}
		if IsBodyError(werr) {
			return nil, false, &Error{Kind: KindTransport, Sent: w.isSent(), Err: werr}
		}
		return nil, false, classify(ctx, c, w.isSent(), r.got, rerr)
	}
	writeOK := werr == nil
	return resp, keep && writeOK && c.br.Buffered() == 0, nil
}

// classify turns an I/O or protocol error into an *Error of the right
// kind: canceled (the caller's context), timeout, stale (a reused
// connection that failed before any response byte) or transport.
func classify(ctx context.Context, c *conn, sent bool, got int64, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		e.Sent = sent
		return e
	}
	k := KindTransport
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		k = KindCanceled
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		k = KindTimeout
	case c.reused && got == 0:
		k = KindStale
	case errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF // closed before FCGI_END_REQUEST
	}
	return &Error{Kind: k, Sent: sent, Err: err}
}
