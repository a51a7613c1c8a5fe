package headers

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// Canonical keys of the headers a client can use to claim an address,
// host or scheme. They are stripped from requests of untrusted peers (see
// CompiledRequest.Apply).
const (
	hXFF     = "X-Forwarded-For"
	hXRealIP = "X-Real-Ip"
	hFwd     = "Forwarded"
	hXFHost  = "X-Forwarded-Host"
	hXFProto = "X-Forwarded-Proto"
)

// ClientIPHeaders are the inbound headers strip_inbound_client_ip_headers
// removes (canonical form): Fluxheim's spoofable client-IP list plus
// X-Forwarded-Host and X-Forwarded-Proto.
var ClientIPHeaders = []string{
	hXFF, hXRealIP, hFwd, hXFHost, hXFProto,
	"Cf-Connecting-Ip", "True-Client-Ip", "X-Client-Ip", "X-Cluster-Client-Ip", "Fastly-Client-Ip",
}

type xffMode uint8

const (
	xffReplace xffMode = iota
	xffOff
	xffAppend
)

// CompiledRequest is a compiled request header policy. A nil
// *CompiledRequest behaves as DefaultRequest.
type CompiledRequest struct {
	enabled, strip                   bool
	xff                              xffMode
	realIP, fwdHost, fwdProto, fwded bool
	remove                           []string
	add                              []op
	host                             *tmpl.Template // add["host"]: upstream Host override
	app                              []op
}

var defaultRequest = mustCompileRequest(RequestPolicy{})

func mustCompileRequest(p RequestPolicy) *CompiledRequest {
	c, err := CompileRequest(p, tmpl.ParseOptions{})
	if err != nil {
		panic(err)
	}
	return c
}

// DefaultRequest returns the compiled default request policy: strip
// client-IP headers from untrusted peers, X-Forwarded-For replace,
// X-Real-IP, X-Forwarded-Host and X-Forwarded-Proto on, Forwarded off.
func DefaultRequest() *CompiledRequest { return defaultRequest }

// CompileRequest applies the defaults to p, validates it and parses its
// templates. opts says whether {route.regex.*} is allowed (regex routes).
// Errors name the key ("headers.request.add[\"x-a\"]: ...").
func CompileRequest(p RequestPolicy, opts tmpl.ParseOptions) (*CompiledRequest, error) {
	c := &CompiledRequest{
		enabled:  deref(p.Enabled, true),
		strip:    deref(p.StripInboundClientIPHeaders, true),
		realIP:   deref(p.XRealIP, true),
		fwdHost:  deref(p.XForwardedHost, true),
		fwdProto: deref(p.XForwardedProto, true),
		fwded:    deref(p.Forwarded, false),
	}
	switch p.XForwardedFor {
	case "", XFFReplace:
		c.xff = xffReplace
	case XFFOff:
		c.xff = xffOff
	case XFFAppend:
		c.xff = xffAppend
	default:
		return nil, fmt.Errorf("headers.request.x_forwarded_for: %q is not one of off, replace, append", p.XForwardedFor)
	}
	var err error
	if c.remove, err = compileRemove("headers.request.remove", p.Remove, false); err != nil {
		return nil, err
	}
	add, err := compileAdd("headers.request.add", p.Add, opts, true)
	if err != nil {
		return nil, err
	}
	for _, o := range add {
		if o.key != "Host" {
			c.add = append(c.add, o)
			continue
		}
		if o.static != nil {
			c.host = tmpl.MustParse(o.static[0], tmpl.ParseOptions{})
		} else {
			c.host = o.tmpls[0]
		}
	}
	if c.app, err = compileAppend("headers.request.append", p.Append, opts, false); err != nil {
		return nil, err
	}
	return c, nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// Apply sets the headers of out, the request about to be sent upstream,
// from in, the client's request as received, and info (may be nil: the peer
// is then parsed from in.RemoteAddr and nothing is trusted). out.Header must
// be a copy of in.Header that Apply may modify (httputil.ReverseProxy's
// clone, which may already lack the X-Forwarded-* and Forwarded headers).
//
// Order:
//  1. Inbound client-IP headers (ClientIPHeaders): dropped when
//     strip_inbound_client_ip_headers is on and the direct peer is not a
//     trusted proxy; otherwise the received values are kept (restored from
//     in if a proxy layer removed them).
//  2. If the policy is enabled, the generated headers replace whatever step 1
//     left: X-Forwarded-For per mode (see XFFReplace, XFFAppend, XFFOff),
//     X-Real-IP = client IP, X-Forwarded-Host = the Host the client sent,
//     X-Forwarded-Proto = the scheme of this hop, Forwarded (RFC 7239)
//     = for=<client>;host="<host>";proto=<scheme>.
//  3. remove, then add (an empty rendering deletes the header; "host" sets
//     out.Host), then append.
//
// Header values set from static configuration are shared, read-only
// slices: later code must replace, not modify, header value slices.
func (c *CompiledRequest) Apply(out, in *http.Request, info *reqctx.Info) {
	if c == nil {
		c = defaultRequest
	}
	h := out.Header
	peerTrusted := info != nil && info.PeerTrusted
	keep := !c.strip || peerTrusted
	for _, k := range ClientIPHeaders {
		if !keep {
			delete(h, k)
		} else if vs, ok := in.Header[k]; ok {
			h[k] = vs
		} else {
			delete(h, k)
		}
	}
	if !c.enabled {
		return
	}
	peer, client := addrs(in, info)
	var ipVals []string // shared by X-Forwarded-For (replace) and X-Real-IP
	if client.IsValid() && (c.realIP || c.xff == xffReplace) {
		ipVals = []string{client.String()}
	}
	switch c.xff {
	case xffOff:
		delete(h, hXFF)
	case xffReplace:
		setOrDelete(h, hXFF, ipVals)
	case xffAppend:
		last := peer
		if !last.IsValid() {
			last = client
		}
		var chain string
		if peerTrusted {
			chain = strings.Join(in.Header[hXFF], ", ")
		}
		switch {
		case !last.IsValid():
			if chain == "" {
				delete(h, hXFF)
			} else {
				h[hXFF] = []string{chain}
			}
		case chain == "":
			h[hXFF] = []string{last.String()}
		default:
			h[hXFF] = []string{chain + ", " + last.String()}
		}
	}
	if c.realIP {
		setOrDelete(h, hXRealIP, ipVals)
	}
	if c.fwdHost {
		if in.Host != "" {
			h[hXFHost] = []string{in.Host}
		} else {
			delete(h, hXFHost)
		}
	}
	scheme := tmpl.Scheme(in, info)
	if c.fwdProto {
		switch scheme {
		case "https":
			h[hXFProto] = protoHTTPS
		case "http":
			h[hXFProto] = protoHTTP
		default:
			h[hXFProto] = []string{scheme}
		}
	}
	if c.fwded && client.IsValid() {
		h[hFwd] = []string{forwardedValue(client, in.Host, scheme)}
	}
	c.mutate(out, in, info)
}

func (c *CompiledRequest) mutate(out, in *http.Request, info *reqctx.Info) {
	h := out.Header
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
		b := o.tmpls[0].Render(arr[:0], in, info)
		if len(b) == 0 {
			delete(h, o.key)
		} else {
			h[o.key] = []string{string(b)}
		}
	}
	if c.host != nil {
		if b := c.host.Render(arr[:0], in, info); len(b) > 0 {
			out.Host = string(b)
		}
	}
	for i := range c.app {
		h[c.app[i].key] = appendValues(h[c.app[i].key], &c.app[i], arr[:0], in, info)
	}
}

// appendValues appends o's rendered values to vs without writing into vs's
// backing array (it may be shared with the inbound request).
func appendValues(vs []string, o *op, buf []byte, r *http.Request, info *reqctx.Info) []string {
	vs = vs[:len(vs):len(vs)]
	if o.static != nil {
		return append(vs, o.static...)
	}
	for _, t := range o.tmpls {
		if b := t.Render(buf[:0], r, info); len(b) > 0 {
			vs = append(vs, string(b))
		}
	}
	return vs
}

func setOrDelete(h http.Header, k string, vs []string) {
	if vs == nil {
		delete(h, k)
	} else {
		h[k] = vs
	}
}

// addrs returns the direct peer and the client address (restored by the
// pipeline from trusted proxies) of in.
func addrs(in *http.Request, info *reqctx.Info) (peer, client netip.Addr) {
	if info != nil {
		peer, client = info.PeerAddr.Addr(), info.ClientIP
	}
	if !peer.IsValid() {
		if ap, ok := netutil.ParsePeer(in.RemoteAddr); ok {
			peer = ap.Addr()
		}
	}
	if !client.IsValid() {
		client = peer
	}
	return peer.Unmap(), client.Unmap()
}

// forwardedValue builds one RFC 7239 element: for=<ip>;host="<host>";
// proto=<scheme>. IPv6 nodes are quoted and bracketed (RFC 7239 §6); the
// host is always a quoted-string (it may carry a port).
func forwardedValue(client netip.Addr, host, scheme string) string {
	var b strings.Builder
	b.Grow(48 + len(host))
	b.WriteString("for=")
	if client.Is6() {
		b.WriteString(`"[`)
		b.WriteString(client.String())
		b.WriteString(`]"`)
	} else {
		b.WriteString(client.String())
	}
	if host != "" {
		b.WriteString(`;host="`)
		for i := 0; i < len(host); i++ {
			c := host[i]
			if c < 0x20 || c == 0x7f {
				continue
			}
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	b.WriteString(";proto=")
	b.WriteString(scheme)
	return b.String()
}
