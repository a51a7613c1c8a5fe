package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// respWriter wraps the net/http ResponseWriter for one request: it applies
// the response header policy right before the status line is written,
// records status and bytes for the access log, and keeps sendfile
// (ReadFrom), Flush and Hijack reachable.
type respWriter struct {
	http.ResponseWriter
	req         *http.Request
	policy      respPolicy
	status      int
	bytes       int64
	wroteHeader bool
	idHeader    string // response header carrying info.RequestID ("" = none)
	info        reqctx.Info
}

func (w *respWriter) reset(rw http.ResponseWriter, r *http.Request) {
	*w = respWriter{ResponseWriter: rw, req: r}
}

// WriteHeader applies the response policy once, before the first final
// status. 1xx informational responses pass through (101 is final).
func (w *respWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if code != http.StatusSwitchingProtocols && bodyUnread(w.req) {
		// The client announced a body nobody read (an error answered
		// before the action, a static file, a redirect, an upstream that
		// answered early). net/http would read the rest before sending
		// this header, and again after the handler, without any deadline:
		// a client that never sends it would hold the connection forever.
		// Close the connection instead, and make those reads fail at once.
		w.ResponseWriter.Header()["Connection"] = closeValue
		_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Unix(1, 0))
	}
	if w.idHeader != "" {
		w.ResponseWriter.Header()[w.idHeader] = []string{w.info.RequestID}
	}
	if w.policy != nil {
		w.policy.Apply(w.ResponseWriter.Header(), w.req, &w.info)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps net/http's sendfile path for static files.
func (w *respWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

func (w *respWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (WebSocket upgrades); the status is
// logged as 101.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.wroteHeader = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
