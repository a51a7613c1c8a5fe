// Package reqctx holds the per-request facts the pipeline works out once
// (client address after trusted-proxy restoration, scheme, request id, the
// selected vhost and route, regex captures) and every later phase reads:
// header templates, proxy, static, access log.
package reqctx

import (
	"context"
	"net/http"
	"net/netip"
	"time"
)

// Info is created by the pipeline for each request and stored in the
// request's context. Handlers may set the fields marked "set by handlers".
type Info struct {
	Start time.Time

	// PeerAddr is the direct TCP peer (IPv4-mapped IPv6 unmapped).
	PeerAddr netip.AddrPort
	// ClientIP is the client address: the peer, or, when the peer is a
	// trusted proxy, the right-most untrusted X-Forwarded-For hop.
	ClientIP netip.Addr
	// PeerTrusted reports whether the direct peer is in server.trusted_proxies.
	PeerTrusted bool
	// Scheme is "http" or "https" as seen by this server.
	Scheme string
	// Host is the normalised request host (lower case, no port); may be empty.
	Host string
	// RequestID is the request id ("" when request ids are off).
	RequestID string
	// Vhost and Route name the selected vhost and route ("" if none).
	Vhost, Route string
	// Captures holds regex route captures: index 0 the whole match.
	Captures []string
	// CaptureNames holds the regex's subexpression names, parallel to Captures.
	CaptureNames []string

	// Set by handlers.
	Upstream        string // upstream authority the proxy used
	UpstreamStatus  int
	UpstreamRetries int
}

type ctxKey struct{}

// With returns a context carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// From returns the request's Info, or nil when the request did not pass
// through the pipeline (unit tests may call handlers directly).
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(ctxKey{}).(*Info)
	return info
}

// Of is From(r.Context()).
func Of(r *http.Request) *Info { return From(r.Context()) }
