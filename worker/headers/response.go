package headers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// CompiledResponse is a compiled response header policy. A nil
// *CompiledResponse behaves as DefaultResponse.
type CompiledResponse struct {
	enabled bool
	set     []op // security headers and Server: static, pre-built
	remove  []string
	add     []op
	app     []op
	// hsts is sent on HTTPS responses only (RFC 6797 §7.2).
	hsts []string
}

var defaultResponse = func() *CompiledResponse {
	c, err := CompileResponse(ResponsePolicy{}, tmpl.ParseOptions{})
	if err != nil {
		panic(err)
	}
	return c
}()

// DefaultResponse returns the compiled default response policy:
// X-Content-Type-Options: nosniff, X-Frame-Options: DENY, Referrer-Policy:
// no-referrer, Server: fluxheim, X-Powered-By removed.
func DefaultResponse() *CompiledResponse { return defaultResponse }

// CompileResponse applies the defaults to p, validates it and parses its
// templates. Security header values are raw (not templates).
func CompileResponse(p ResponsePolicy, opts tmpl.ParseOptions) (*CompiledResponse, error) {
	c := &CompiledResponse{enabled: deref(p.Enabled, true)}
	if p.StrictTransportSecurity != nil && p.HSTS != nil {
		return nil, fmt.Errorf("headers.response: set strict_transport_security or [headers.response.hsts], not both")
	}
	hsts := p.StrictTransportSecurity
	if p.HSTS != nil && deref(p.HSTS.Enabled, true) {
		age := deref(p.HSTS.MaxAgeSecs, DefaultHSTSMaxAge)
		if age == 0 {
			return nil, fmt.Errorf("headers.response.hsts.max_age_secs: must be > 0")
		}
		v := "max-age=" + strconv.FormatUint(age, 10)
		if p.HSTS.IncludeSubdomains {
			v += "; includeSubDomains"
		}
		if p.HSTS.Preload {
			v += "; preload"
		}
		hsts = &v
	}
	for _, f := range []struct {
		field, key string
		val        *string
		def        string
	}{
		{"headers.response.content_security_policy", "Content-Security-Policy", p.ContentSecurityPolicy, ""},
		{"headers.response.x_content_type_options", "X-Content-Type-Options", p.XContentTypeOptions, "nosniff"},
		{"headers.response.x_frame_options", "X-Frame-Options", p.XFrameOptions, "DENY"},
		{"headers.response.referrer_policy", "Referrer-Policy", p.ReferrerPolicy, "no-referrer"},
	} {
		v := deref(f.val, f.def)
		if v == "" {
			continue
		}
		if err := checkRawValue(f.field, v); err != nil {
			return nil, err
		}
		c.set = append(c.set, op{key: f.key, static: []string{v}})
	}
	c.set = append(c.set, op{key: "Server", static: []string{DefaultServer}})
	if v := deref(hsts, ""); v != "" {
		if err := checkRawValue("headers.response.strict_transport_security", v); err != nil {
			return nil, err
		}
		c.hsts = []string{v}
	}
	remove := p.Remove
	if remove == nil {
		remove = defaultResponseRemove
	}
	var err error
	if c.remove, err = compileRemove("headers.response.remove", remove, true); err != nil {
		return nil, err
	}
	if c.add, err = compileAdd("headers.response.add", p.Add, opts, false); err != nil {
		return nil, err
	}
	if c.app, err = compileAppend("headers.response.append", p.Append, opts, true); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply applies the policy to h, the response headers about to be written,
// for request r (as received) and info (may be nil). The pipeline calls it
// for every response (static, proxy, redirect, error) right before
// WriteHeader. Order: security headers and Server: fluxheim (replacing any
// upstream values), then remove, add, append. Static values are pre-built
// slices shared between responses: later code must replace, not modify,
// header value slices. With only static values Apply does not allocate.
func (c *CompiledResponse) Apply(h http.Header, r *http.Request, info *reqctx.Info) {
	if c == nil {
		c = defaultResponse
	}
	if !c.enabled {
		return
	}
	for i := range c.set {
		h[c.set[i].key] = c.set[i].static
	}
	if c.hsts != nil && r != nil && r.TLS != nil {
		h["Strict-Transport-Security"] = c.hsts
	}
	for _, k := range c.remove {
		delete(h, k)
	}
	var arr [256]byte
	for i := range c.add {
		o := &c.add[i]
		if o.static != nil {
			h[o.key] = o.static
			continue
		}
		if b := o.tmpls[0].Render(arr[:0], r, info); len(b) > 0 {
			h[o.key] = []string{string(b)}
		} else {
			delete(h, o.key)
		}
	}
	for i := range c.app {
		h[c.app[i].key] = appendValues(h[c.app[i].key], &c.app[i], arr[:0], r, info)
	}
}
