package fastcgi

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies why an exchange with the FastCGI application failed. It
// decides whether a retry is safe and which status the caller answers.
type Kind uint8

const (
	// KindConnect: no connection could be opened (refused, no socket,
	// listen queue full, dial timeout, a private address refused). Nothing
	// reached the application.
	KindConnect Kind = iota + 1
	// KindStale: a pooled connection turned out closed before any response
	// byte arrived (the application closed it while it was idle).
	KindStale
	// KindTimeout: the request deadline passed.
	KindTimeout
	// KindTransport: an I/O error after the request was (partly) sent, or
	// the connection closed before FCGI_END_REQUEST (a truncated response).
	KindTransport
	// KindProtocol: malformed FastCGI records (version, type, request id,
	// lengths).
	KindProtocol
	// KindInvalidResponse: the CGI response is malformed (header syntax,
	// control bytes, bad Status) or stderr matched a failure pattern.
	KindInvalidResponse
	// KindTooLarge: the response header section, body or stderr exceeded
	// its bound.
	KindTooLarge
	// KindOverloaded: the application refused the request in
	// FCGI_END_REQUEST (overloaded, cannot multiplex, unknown role).
	KindOverloaded
	// KindCanceled: the caller's context was canceled (client gone).
	KindCanceled
)

var kindNames = map[Kind]string{
	KindConnect: "connect", KindStale: "stale connection", KindTimeout: "timeout",
	KindTransport: "transport", KindProtocol: "protocol", KindInvalidResponse: "invalid response",
	KindTooLarge: "too large", KindOverloaded: "overloaded", KindCanceled: "canceled",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is what Client.Do returns on failure.
type Error struct {
	Kind Kind
	// Addr is the address of the last attempt.
	Addr string
	// Sent reports whether any request byte reached the connection.
	Sent bool
	// Attempts is the number of exchanges tried (1 without retries).
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("fastcgi %s %s (attempts %d): %v", e.Addr, e.Kind, e.Attempts, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the failure was a deadline: the request deadline
// (KindTimeout) or a dial that timed out.
func (e *Error) Timeout() bool {
	if e.Kind == KindTimeout {
		return true
	}
	var t interface{ Timeout() bool }
	return e.Kind == KindConnect && (errors.Is(e.Err, context.DeadlineExceeded) || errors.As(e.Err, &t) && t.Timeout())
}

// KindOf returns the Kind of err (0 when err is not an *Error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func newError(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}
