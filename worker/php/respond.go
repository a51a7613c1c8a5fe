package php

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/fluxheim/fluxheim/fastcgi"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/httperr"
)

// responsePolicy is how a block filters php-fpm responses.
type responsePolicy struct {
	hide        map[string]bool // hide_response_headers, canonical
	ignoreCache bool
	intercept   map[int]bool
}

func newResponsePolicy(c *config.PHP) responsePolicy {
	p := responsePolicy{hide: map[string]bool{}, ignoreCache: c.IgnoreOriginCacheHeaders, intercept: map[int]bool{}}
	for _, h := range c.HideResponseHeaders {
		p.hide[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	for _, s := range c.InterceptErrorStatuses {
		p.intercept[s] = true
	}
	return p
}

// hopByHop are connection-level fields a CGI response must not carry
// (RFC 9110 §7.6.1); framing is ours (Content-Length from the body).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

// internal are directives to fluxheim, consumed and never forwarded.
var internal = map[string]bool{
	"X-Accel-Redirect": true, "X-Sendfile": true, "X-Accel-Expires": true,
	"X-Accel-Buffering": true, "X-Accel-Charset": true, "X-Accel-Limit-Rate": true,
}

var cacheHeaders = map[string]bool{"Cache-Control": true, "Expires": true, "Pragma": true}

// directives are the internal headers of one response.
type directives struct {
	accelRedirect, sendfile, expires string
	hasAccelRedirect, hasSendfile    bool
	contentLength                    string
}

// filterHeader copies resp's headers into dst minus hop-by-hop fields
// (and those named in Connection), hidden and, with
// ignore_origin_cache_headers, cache headers; it returns the internal
// directives. Two values of a single-valued directive are an invalid
// response.
func (p *responsePolicy) filterHeader(dst, src http.Header) (directives, error) {
	var d directives
	connTokens := map[string]bool{}
	for _, v := range src["Connection"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				connTokens[textproto.CanonicalMIMEHeaderKey(t)] = true
			}
		}
	}
	for name, values := range src {
		switch {
		case internal[name]:
			if len(values) != 1 {
				return d, invalid("%s sent %d times", name, len(values))
			}
			switch name {
			case "X-Accel-Redirect":
				d.accelRedirect, d.hasAccelRedirect = values[0], true
			case "X-Sendfile":
				d.sendfile, d.hasSendfile = values[0], true
			case "X-Accel-Expires":
				d.expires = values[0]
			}
			continue
		case name == "Content-Length":
			d.contentLength = values[0]
			continue
		case hopByHop[name] || connTokens[name] || p.hide[name]:
			continue
		case p.ignoreCache && cacheHeaders[name]:
			continue
		}
		dst[name] = values
	}
	return d, nil
}

// invalid is a php-fpm response fluxheim refuses to pass on (502).
func invalid(format string, args ...any) error {
	return httperr.Upstream(http.StatusBadGateway, errorf("invalid php-fpm response: "+format, args...))
}

// respond writes a php-fpm response: the filtered headers, X-Accel-Expires
// applied, X-Accel-Redirect / X-Sendfile served from the root, an
// intercepted status replaced, otherwise the buffered body with its exact
// Content-Length.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, resp *fastcgi.Response) error {
	if h.response.intercept[resp.Status] {
		return &httperr.Error{Status: resp.Status, Source: httperr.SourceUpstream, Err: errorf("intercepted status %d from php-fpm", resp.Status)}
	}
	filtered := make(http.Header, len(resp.Header))
	d, err := h.response.filterHeader(filtered, resp.Header)
	if err != nil {
		return h.fail(err)
	}
	hdr := w.Header()
	for k, v := range filtered {
		hdr[k] = v
	}
	if d.expires != "" {
		applyAccelExpires(hdr, d.expires)
	}
	if d.hasAccelRedirect || d.hasSendfile {
		return h.serveInternal(w, r, &d)
	}
	status := resp.Status
	noBody := status == http.StatusNoContent || status == http.StatusNotModified
	switch {
	case noBody:
	case r.Method == http.MethodHead:
		// php-fpm sends no body for HEAD: keep PHP's length, if valid.
		if _, err := strconv.ParseUint(d.contentLength, 10, 63); err == nil {
			hdr["Content-Length"] = []string{d.contentLength}
		}
	default:
		hdr["Content-Length"] = []string{strconv.Itoa(len(resp.Body))}
	}
	w.WriteHeader(status)
	if noBody || r.Method == http.MethodHead || len(resp.Body) == 0 {
		return nil
	}
	if _, err := w.Write(resp.Body); err != nil {
		return httperr.ErrAbort
	}
	return nil
}
