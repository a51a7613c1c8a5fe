package server

import (
	"net/http"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/headers"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// respPolicy is the response header policy the pipeline applies to every
// response of a scope, right before the status line.
type respPolicy interface {
	Apply(h http.Header, r *http.Request, info *reqctx.Info)
}

// compilePolicy compiles a scope's effective response header policy.
// captureNames are the regex route's group names (nil elsewhere).
func compilePolicy(h *config.Headers, captureNames []string) (any, error) {
	var p headers.ResponsePolicy
	if h != nil && h.Response != nil {
		p = responsePolicy(h.Response)
	}
	return headers.CompileResponse(p, captureOpts(captureNames))
}

func captureOpts(names []string) tmpl.ParseOptions {
	return tmpl.ParseOptions{Captures: names != nil, CaptureNames: names}
}

func responsePolicy(r *config.ResponseHeaders) headers.ResponsePolicy {
	return headers.ResponsePolicy{
		Enabled:                 r.Enabled,
		XContentTypeOptions:     r.XContentTypeOptions,
		XFrameOptions:           r.XFrameOptions,
		ReferrerPolicy:          r.ReferrerPolicy,
		ContentSecurityPolicy:   r.ContentSecurityPolicy,
		StrictTransportSecurity: r.StrictTransportSecurity,
		Remove:                  r.Remove,
		Add:                     r.Add,
		Append:                  r.Append,
	}
}

// requestPolicy compiles the effective [headers.request] policy for a
// proxy scope.
func requestPolicy(h *config.Headers, captureNames []string) (*headers.CompiledRequest, error) {
	var p headers.RequestPolicy
	if h != nil && h.Request != nil {
		q := h.Request
		p = headers.RequestPolicy{
			Enabled:                     q.Enabled,
			StripInboundClientIPHeaders: q.StripInboundClientIPHeaders,
			XForwardedFor:               q.XForwardedFor,
			XRealIP:                     q.XRealIP,
			XForwardedHost:              q.XForwardedHost,
			XForwardedProto:             q.XForwardedProto,
			Forwarded:                   q.Forwarded,
			Remove:                      q.Remove,
			Add:                         q.Add,
			Append:                      q.Append,
		}
	}
	return headers.CompileRequest(p, captureOpts(captureNames))
}

func tlsVersionName(v uint16) string { return tmpl.TLSVersionName(v) }
