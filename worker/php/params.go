package php

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fluxheim/fluxheim/fastcgi"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// cgiPolicy is how a block builds its CGI variables.
type cgiPolicy struct {
	passHeaders bool
	serverPort  string // "" = from Host, else 443/80
	// extra are [vhosts.php.params], sent last; the names they set are
	// not sent by fluxheim (the config overrides them).
	extra     [][2]string
	overrides map[string]bool
}

func newCGIPolicy(c *config.PHP) cgiPolicy {
	p := cgiPolicy{passHeaders: *c.PassRequestHeaders, overrides: map[string]bool{}}
	if c.ServerPort != nil {
		p.serverPort = strconv.Itoa(*c.ServerPort)
	}
	for k, v := range c.Params {
		p.extra = append(p.extra, [2]string{k, v})
		p.overrides[k] = true
	}
	return p
}

// skippedHeaders are request headers never sent as HTTP_* variables:
// Proxy (HTTPoxy, CVE-2016-5385), hop-by-hop fields, and the fields
// CONTENT_TYPE and CONTENT_LENGTH carry.
var skippedHeaders = map[string]bool{
	"Proxy": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Type": true, "Content-Length": true, "Host": true,
}

// request holds what the CGI variables of one request are made of.
type request struct {
	r             *http.Request
	info          *reqctx.Info
	script        string
	pathInfo      string
	contentLength int64
}

// buildParams writes the CGI variables (RFC 3875 §4.1, plus what PHP and
// nginx's fastcgi_params add) into p. Every variable is set explicitly;
// none is derived by php-fpm from another.
func (h *Handler) buildParams(p *fastcgi.Params, q *request) {
	r, pol := q.r, &h.cgi
	add := func(name, value string) {
		if !pol.overrides[name] {
			p.Add(name, value)
		}
	}
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "fluxheim")
	add("SERVER_PROTOCOL", r.Proto)
	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", requestURI(r))
	add("QUERY_STRING", r.URL.RawQuery)
	add("DOCUMENT_ROOT", h.docRoot)
	add("DOCUMENT_URI", q.script+q.pathInfo)
	add("SCRIPT_NAME", q.script)
	p.Add("SCRIPT_FILENAME", h.docPath(q.script)) // never overridable
	if q.pathInfo != "" {
		add("PATH_INFO", q.pathInfo)
		add("PATH_TRANSLATED", h.docPath(q.pathInfo))
	}
	scheme := "http"
	if q.info != nil && q.info.Scheme != "" {
		scheme = q.info.Scheme
	} else if r.TLS != nil {
		scheme = "https"
	}
	add("REQUEST_SCHEME", scheme)
	if scheme == "https" {
		p.Add("HTTPS", "on")
	}
	h.addAddresses(add, q, scheme)
	add("REDIRECT_STATUS", "200")
	if ct := r.Header.Get("Content-Type"); ct != "" {
		add("CONTENT_TYPE", ct)
	}
	p.Add("CONTENT_LENGTH", strconv.FormatInt(q.contentLength, 10))
	if pol.passHeaders {
		if r.Host != "" {
			p.Add("HTTP_HOST", r.Host)
		}
		for name, values := range r.Header {
			if skippedHeaders[name] || len(values) == 0 {
				continue
			}
			key, ok := paramName(name)
			if !ok {
				continue
			}
			sep := ", "
			if name == "Cookie" {
				sep = "; " // several Cookie lines form one cookie header
			}
			p.Add(key, strings.Join(values, sep))
		}
	}
	for _, kv := range pol.extra {
		p.Add(kv[0], kv[1])
	}
}

// addAddresses sets REMOTE_*, SERVER_ADDR, SERVER_PORT and SERVER_NAME.
func (h *Handler) addAddresses(add func(string, string), q *request, scheme string) {
	r := q.r
	var client netip.Addr
	var peer netip.AddrPort
	if q.info != nil {
		client, peer = q.info.ClientIP, q.info.PeerAddr
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		client, peer = ap.Addr().Unmap(), ap
	}
	if client.IsValid() {
		add("REMOTE_ADDR", client.String())
		if client == peer.Addr() {
			add("REMOTE_PORT", strconv.Itoa(int(peer.Port())))
		}
	}
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			local = ap.Addr().Unmap().String()
			add("SERVER_ADDR", local)
		}
	}
	port := h.cgi.serverPort
	if port == "" {
		if _, p, err := net.SplitHostPort(r.Host); err == nil && p != "" {
			port = p
		} else if scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	add("SERVER_PORT", port)
	name := ""
	if q.info != nil {
		name = q.info.Host
	}
	if name == "" {
		name = local
	}
	add("SERVER_NAME", name)
}

// requestURI is the request target as the client sent it, in origin form.
func requestURI(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// paramNames caches header name → variable name for up to maxCachedNames
// distinct headers (clients choose header names: the cache must not grow
// without bound).
var (
	paramNames  sync.Map
	cachedNames atomic.Int64
)

const maxCachedNames = 1024

// paramName maps a header name to its CGI variable. Names with anything
// but letters, digits and '-' are not passed: "X_Real_IP" and "X-Real-IP"
// would both become HTTP_X_REAL_IP, so the first could spoof the second.
func paramName(name string) (string, bool) {
	if v, ok := paramNames.Load(name); ok {
		return v.(string), true
	}
	b := make([]byte, 0, len(name)+5)
	b = append(b, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b = append(b, c)
		case c == '-':
			b = append(b, '_')
		default:
			return "", false
		}
	}
	s := string(b)
	if cachedNames.Add(1) <= maxCachedNames {
		paramNames.Store(name, s)
	}
	return s, true
}
