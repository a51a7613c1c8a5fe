package tmpl

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// RedirectTemplate is a parsed redirect target ([vhosts.redirect] to, route
// redirect to). It is immutable and safe for concurrent use.
type RedirectTemplate struct {
	src      string
	segs     []segment
	usesHost bool
}

// ParseRedirect parses a redirect target template (spec §2.4):
//   - an absolute http:// or https:// URL (scheme case-insensitive);
//   - variables {uri}, {path}, {query} and {host} only;
//   - the authority is non-empty, made of literal text and {host}, and has
//     no '@' (no userinfo, so no "https://good@evil" tricks);
//   - {query} may only appear after the authority has ended (after a
//     literal '/', '?' or '#', or after {path}/{uri});
//   - no spaces, control bytes or '\' in the literal text.
func ParseRedirect(to string) (*RedirectTemplate, error) {
	segs, err := split(to)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 || segs[0].kind != kLiteral {
		return nil, fmt.Errorf("redirect %q: must start with http:// or https://", to)
	}
	lit := segs[0].arg
	var rest string
	switch {
	case len(lit) >= 7 && strings.EqualFold(lit[:7], "http://"):
		rest = lit[7:]
	case len(lit) >= 8 && strings.EqualFold(lit[:8], "https://"):
		rest = lit[8:]
	default:
		return nil, fmt.Errorf("redirect %q: must be an absolute http:// or https:// URL", to)
	}
	t := &RedirectTemplate{src: to}
	inAuth, authLen := true, 0
	endAuth := func() error {
		if inAuth && authLen == 0 {
			return fmt.Errorf("redirect %q: empty authority", to)
		}
		inAuth = false
		return nil
	}
	scanLiteral := func(s string) error {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c <= 0x20 || c == 0x7f || c == '\\' {
				return fmt.Errorf("redirect %q: byte 0x%02x not allowed", to, c)
			}
			if !inAuth {
				continue
			}
			switch c {
			case '/', '?', '#':
				if err := endAuth(); err != nil {
					return err
				}
			case '@':
				return fmt.Errorf("redirect %q: '@' not allowed in the authority", to)
			default:
				authLen++
			}
		}
		return nil
	}
	if err := scanLiteral(rest); err != nil {
		return nil, err
	}
	for i := 1; i < len(segs); i++ {
		sg := &segs[i]
		if sg.kind == kLiteral {
			if err := scanLiteral(sg.arg); err != nil {
				return nil, err
			}
			continue
		}
		switch sg.arg {
		case "host":
			sg.kind, t.usesHost = kHost, true
			if inAuth {
				authLen++
			}
		case "uri", "path":
			sg.kind = kURI
			if sg.arg == "path" {
				sg.kind = kPath
			}
			if err := endAuth(); err != nil {
				return nil, err
			}
		case "query":
			if inAuth {
				return nil, fmt.Errorf("redirect %q: {query} is only allowed after the authority", to)
			}
			sg.kind = kQuery
		default:
			return nil, fmt.Errorf("redirect %q: variable {%s} not allowed (only {uri}, {path}, {query}, {host})", to, sg.arg)
		}
		sg.arg = ""
	}
	if err := endAuth(); err != nil {
		return nil, err
	}
	t.segs = segs
	return t, nil
}

// String returns the template source.
func (t *RedirectTemplate) String() string { return t.src }

// UsesHost reports whether the target uses {host}.
func (t *RedirectTemplate) UsesHost() bool { return t.usesHost }

// Render returns the redirect target for r. {uri}, {path} and {query} come
// from the request target as the client sent it (see Target); {path} and
// {uri} always start with '/'. {host} is the normalised request host
// (reqctx Info.Host, else r.Host without port, lower-cased; IPv6 in
// brackets), never with a port. When the template uses {host} and the
// request has no safe host, Render returns "": the caller answers 400.
func (t *RedirectTemplate) Render(r *http.Request) string {
	var host string
	if t.usesHost {
		if host = redirectHost(r); host == "" {
			return ""
		}
	}
	uri, path, query := Target(r)
	n := 0
	for i := range t.segs {
		n += len(t.segs[i].arg)
	}
	buf := make([]byte, 0, n+len(uri)+len(host)+8)
	for i := range t.segs {
		sg := &t.segs[i]
		switch sg.kind {
		case kLiteral:
			buf = append(buf, sg.arg...)
		case kHost:
			buf = append(buf, host...)
		case kURI:
			buf = appendAbsPath(buf, uri)
		case kPath:
			buf = appendAbsPath(buf, path)
		case kQuery:
			buf = appendClean(buf, query)
		}
	}
	return string(buf)
}

func appendAbsPath(dst []byte, p string) []byte {
	if p == "" || p[0] != '/' {
		dst = append(dst, '/')
	}
	return appendClean(dst, p)
}

// redirectHost returns the request host fit for a URL authority, or "".
func redirectHost(r *http.Request) string {
	var h string
	if info := reqctx.Of(r); info != nil && info.Host != "" {
		h = info.Host
	} else {
		h = r.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		} else if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
			h = h[1 : len(h)-1]
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
	}
	if h == "" || len(h) > 255 {
		return ""
	}
	if strings.IndexByte(h, ':') >= 0 {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return ""
		}
		return "[" + a.String() + "]"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return ""
		}
	}
	return h
}
