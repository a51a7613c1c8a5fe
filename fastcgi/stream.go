package fastcgi

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// requestWriter writes the request side of an exchange and records
// whether any byte reached the connection.
type requestWriter struct {
	c    *conn
	sent atomic.Bool
}

func (w *requestWriter) write(b []byte) error {
	n, err := w.c.Conn.Write(b)
	if n > 0 {
		w.sent.Store(true)
	}
	return err
}

func (w *requestWriter) isSent() bool { return w.sent.Load() }

var chunkPool = sync.Pool{New: func() any { b := make([]byte, headerLen+chunkLen); return &b }}

// stream sends body as FCGI_STDIN records of chunkLen bytes (one write per
// record), then the empty record that ends the stream.
func (w *requestWriter) stream(body io.Reader) error {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	for {
		n, rerr := io.ReadFull(body, buf[headerLen:])
		if n > 0 {
			rec, pad := appendHeader(buf[:0], typeStdin, n)
			rec = append(rec[:headerLen+n], zeros[:pad]...)
			if err := w.write(rec); err != nil {
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return &bodyError{rerr}
		}
	}
	rec, _ := appendHeader(buf[:0], typeStdin, 0)
	return w.write(rec)
}

// bodyError is a failure reading the caller's request body (the client's
// upload), not a failure of the application.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// IsBodyError reports whether err came from reading the request body the
// caller supplied (for example a client that stopped sending).
func IsBodyError(err error) bool {
	var be *bodyError
	return errors.As(err, &be)
}

// reader reads the response records of one exchange.
type reader struct {
	c      *conn
	lim    *limits
	stderr *stderrSink
	got    int64 // bytes read from the connection

	out       []byte // stdout so far (backed by resp.out)
	hdrLen    int    // header section length once found, else 0
	stdoutEnd bool   // the empty FCGI_STDOUT record was seen
}

// read reads records up to FCGI_END_REQUEST.
func (r *reader) read() (*Response, error) {
	resp := &Response{out: getBuffer()}
	br := r.c.br
	for {
		h, err := readHeader(br)
		if err != nil {
			return resp, err
		}
		r.got += headerLen
		if h.id != requestID {
			return resp, newError(KindProtocol, "record for request id %d, want %d", h.id, requestID)
		}
		n, pad := int(h.length), int(h.padding)
		content, err := br.Peek(n)
		if err != nil {
			return resp, eofIsUnexpected(err)
		}
		switch h.typ {
		case typeStdout:
			err = r.stdout(resp, content)
		case typeStderr:
			if !r.stderr.write(content) {
				err = newError(KindTooLarge, "stderr exceeds %d bytes", r.lim.stderrLimit)
			}
		case typeEndRequest:
			end, perr := parseEndRequest(content)
			if perr != nil {
				return resp, perr
			}
			_, _ = br.Discard(n)
			if _, err := br.Discard(pad); err != nil {
				return resp, eofIsUnexpected(err)
			}
			r.got += int64(n + pad)
			return resp, r.finish(resp, end)
		default:
			err = newError(KindProtocol, "unexpected record type %d", h.typ)
		}
		if err != nil {
			return resp, err
		}
		_, _ = br.Discard(n)
		if _, err := br.Discard(pad); err != nil {
			return resp, eofIsUnexpected(err)
		}
		r.got += int64(n + pad)
	}
}

// stdout appends one FCGI_STDOUT record and enforces the header and body
// bounds as the data arrives.
func (r *reader) stdout(resp *Response, b []byte) error {
	if len(b) == 0 {
		r.stdoutEnd = true
		return nil
	}
	if r.stdoutEnd {
		return newError(KindProtocol, "FCGI_STDOUT data after the end of the stream")
	}
	prev := resp.out.Len()
	resp.out.Write(b)
	r.out = resp.out.Bytes()
	if r.hdrLen == 0 {
		end := headerEnd(r.out, prev-2)
		if end < 0 {
			if len(r.out) > r.lim.maxHeader {
				return newError(KindTooLarge, "response header section exceeds %d bytes", r.lim.maxHeader)
			}
			return nil
		}
		if end > r.lim.maxHeader {
			return newError(KindTooLarge, "response header section exceeds %d bytes", r.lim.maxHeader)
		}
		r.hdrLen = end
		status, hdr, err := parseHeader(r.out[:end])
		if err != nil {
			return err
		}
		resp.Status, resp.Header = status, hdr
	}
	if body := int64(len(r.out) - r.hdrLen); body > r.lim.maxBody {
		return newError(KindTooLarge, "response body exceeds %d bytes", r.lim.maxBody)
	}
	return nil
}

// finish checks the end of the exchange and completes resp.
func (r *reader) finish(resp *Response, end endRequest) error {
	switch end.protocolStatus {
	case statusRequestComplete:
	case statusCantMpxConn, statusOverloaded, statusUnknownRole:
		return newError(KindOverloaded, "application refused the request (protocol status %d)", end.protocolStatus)
	default:
		return newError(KindProtocol, "unknown protocol status %d", end.protocolStatus)
	}
	resp.AppStatus = end.appStatus
	resp.Stderr, resp.StderrBytes = r.stderr.kept, r.stderr.total
	if r.hdrLen == 0 {
		return newError(KindInvalidResponse, "no complete header section in %d bytes of output", len(r.out))
	}
	if p := r.stderr.matched; p != nil {
		return newError(KindInvalidResponse, "stderr matched failure pattern %q", p)
	}
	resp.Body = r.out[r.hdrLen:]
	return nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
