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

// compilePolicy compiles a scope's response header policy: the chain
// (global, vhost, route) merged with headers.MergeResponse. captureNames
// are the regex route's group names (nil elsewhere).
func compilePolicy(chain []*config.Headers, captureNames []string) (any, error) {
	var p headers.ResponsePolicy
	for _, h := range chain {
		if h != nil && h.Response != nil {
			p = headers.MergeResponse(p, responsePolicy(h.Response))
		}
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
		HSTS:                    hstsPolicy(r.HSTS),
		Remove:                  append(r.Remove, r.Unset...),
		Add:                     joinMaps(r.Add, r.Set),
		Append:                  r.Append,
	}
}

// joinMaps joins a table and its alias (add/set); validation has refused
// the same header in both.
func joinMaps(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// requestPolicy compiles the [headers.request] policy chain of a proxy
// scope (global, vhost, route) merged with headers.MergeRequest.
func requestPolicy(chain []*config.Headers, captureNames []string) (*headers.CompiledRequest, error) {
	var p headers.RequestPolicy
	for _, h := range chain {
		if h == nil || h.Request == nil {
			continue
		}
		q := h.Request
		p = headers.MergeRequest(p, headers.RequestPolicy{
			Enabled:                     q.Enabled,
			StripInboundClientIPHeaders: q.StripInboundClientIPHeaders,
			XForwardedFor:               q.XForwardedFor,
			XRealIP:                     q.XRealIP,
			XForwardedHost:              q.XForwardedHost,
			XForwardedProto:             q.XForwardedProto,
			Forwarded:                   q.Forwarded,
			Remove:                      append(q.Remove, q.Unset...),
			Add:                         joinMaps(q.Add, q.Set),
			Append:                      q.Append,
		})
	}
	return headers.CompileRequest(p, captureOpts(captureNames))
}

func tlsVersionName(v uint16) string { return tmpl.TLSVersionName(v) }

func hstsPolicy(h *config.HSTS) *headers.HSTS {
	if h == nil {
		return nil
	}
	return &headers.HSTS{Enabled: h.Enabled, MaxAgeSecs: h.MaxAgeSecs, IncludeSubdomains: h.IncludeSubdomains, Preload: h.Preload}
}
