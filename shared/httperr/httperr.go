// Package httperr is the one error type request handlers return. A handler
// never writes an error page itself: it returns an *Error carrying the status,
// and the request pipeline (worker/server) renders it and logs it in one place.
//
// Once a handler has started writing a response, it must not return an *Error
// that expects a status line to be written; it returns ErrAbort instead, and
// the pipeline aborts the connection (panic(http.ErrAbortHandler)).
package httperr

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Source says who caused an error: the client, the upstream or ourselves.
type Source uint8

const (
	SourceInternal Source = iota
	SourceClient
	SourceUpstream
)

func (s Source) String() string {
	switch s {
	case SourceClient:
		return "client"
	case SourceUpstream:
		return "upstream"
	default:
		return "internal"
	}
}

// Error is an HTTP-status-carrying error. Header holds extra response headers
// (for example Allow on 405, Content-Range on 416); it may be nil.
type Error struct {
	Status int
	Source Source
	Err    error       // cause, for the error log; never shown to clients
	Header http.Header // extra headers for the rendered response
	// Close asks the pipeline to close the connection after the response
	// (HTTP/1): used for framing errors so no leftover bytes are parsed.
	Close bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s (%s): %v", e.Status, http.StatusText(e.Status), e.Source, e.Err)
	}
	return fmt.Sprintf("%d %s (%s)", e.Status, http.StatusText(e.Status), e.Source)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with the given status and source.
func New(status int, src Source, cause error) *Error {
	return &Error{Status: status, Source: src, Err: cause}
}

// Client is shorthand for a client-caused error (4xx).
func Client(status int, cause error) *Error { return New(status, SourceClient, cause) }

// Upstream is shorthand for an upstream-caused error (502, 504).
func Upstream(status int, cause error) *Error { return New(status, SourceUpstream, cause) }

// ErrAbort tells the pipeline the response has already started and the
// connection must be aborted rather than answered.
var ErrAbort = errors.New("httperr: abort connection")

// StatusOf returns the status an error maps to: the *Error's status, 500 for
// any other error, and 0 for nil.
func StatusOf(err error) int {
	if err == nil {
		return 0
	}
	var he *Error
	if errors.As(err, &he) {
		return he.Status
	}
	return http.StatusInternalServerError
}

// Write renders a minimal error response: status line, the extra headers,
// Content-Type text/plain and a one-line body naming the status. HEAD gets no
// body. It is the only place error bodies are produced.
func Write(w http.ResponseWriter, r *http.Request, status int, extra http.Header) {
	h := w.Header()
	for k, vs := range extra {
		h[k] = vs
	}
	body := strconv.Itoa(status) + " " + http.StatusText(status) + "\n"
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
