// Package tmpl implements Fluxheim's header value templates
// ([headers.request.add], [headers.request.append], response add/append) and
// redirect target templates ([vhosts.redirect] to, route redirect to).
//
// A template is literal text with variables in braces:
//
//	{host} {remote_addr} {scheme} {uri} {path} {query} {request_id}
//	{tls.cipher} {tls.version} {tls.client_cert_sha256}
//	{tls.client_cert_serial} {tls.client_cert_organization}
//	{http.<header-name>} {route.regex.N} (N 0..15) {route.regex.<name>}
//
// Templates are parsed once at config time (Parse); an unknown variable,
// an unbalanced brace, an empty or blank value or a control byte (TAB
// included) in the literal text is a config error. Rendering never fails:
// a variable with no value renders empty, control bytes are stripped from
// every rendered variable, and regex captures are capped at MaxCaptureBytes.
package tmpl

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// Limits.
const (
	// MaxCaptures is the number of numbered capture variables:
	// {route.regex.0} .. {route.regex.15}.
	MaxCaptures = 16
	// MaxCaptureBytes caps one rendered capture value (cut on a UTF-8
	// boundary).
	MaxCaptureBytes = 1024
	// MaxTemplateBytes caps the template source.
	MaxTemplateBytes = 16 << 10
	// maxCaptureNameBytes caps a {route.regex.<name>} name.
	maxCaptureNameBytes = 64
)

// ParseOptions says which variables a template may use.
type ParseOptions struct {
	// Captures allows {route.regex.N} and {route.regex.<name>}. Set it only
	// for policies attached to a path_regex route.
	Captures bool
	// CaptureNames are the named groups of that route's regex;
	// {route.regex.<name>} must name one of them.
	CaptureNames []string
}

type kind uint8

const (
	kLiteral kind = iota
	kHost
	kRemoteAddr
	kScheme
	kURI
	kPath
	kQuery
	kRequestID
	kTLSCipher
	kTLSVersion
	kTLSCertSHA256
	kTLSCertSerial
	kTLSCertOrg
	kHeader       // arg: canonical header key
	kCaptureIndex // idx
	kCaptureName  // arg: group name
)

var simpleVars = map[string]kind{
	"host":                         kHost,
	"remote_addr":                  kRemoteAddr,
	"scheme":                       kScheme,
	"uri":                          kURI,
	"path":                         kPath,
	"query":                        kQuery,
	"request_id":                   kRequestID,
	"tls.cipher":                   kTLSCipher,
	"tls.version":                  kTLSVersion,
	"tls.client_cert_sha256":       kTLSCertSHA256,
	"tls.client_cert_serial":       kTLSCertSerial,
	"tls.client_cert_organization": kTLSCertOrg,
}

type segment struct {
	kind kind
	arg  string // literal text, header key or capture name
	idx  int    // capture index
}

// Template is a parsed header value template. It is immutable and safe for
// concurrent use.
type Template struct {
	src     string
	segs    []segment
	static  bool
	usesTLS bool
}

// Parse parses a header value template. Errors name the offending variable
// or byte.
func Parse(s string, opts ParseOptions) (*Template, error) {
	segs, err := split(s)
	if err != nil {
		return nil, err
	}
	t := &Template{src: s, static: true}
	for i := range segs {
		sg := &segs[i]
		if sg.kind == kLiteral {
			if err := checkLiteral(s, sg.arg); err != nil {
				return nil, err
			}
			continue
		}
		t.static = false
		if err := resolveVar(sg, opts); err != nil {
			return nil, fmt.Errorf("template %q: %w", s, err)
		}
		switch sg.kind {
		case kTLSCipher, kTLSVersion, kTLSCertSHA256, kTLSCertSerial, kTLSCertOrg:
			t.usesTLS = true
		}
	}
	if t.static && strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("template %q: empty value", s)
	}
	t.segs = segs
	return t, nil
}

// MustParse is Parse that panics on error, for tests and built-in values.
func MustParse(s string, opts ParseOptions) *Template {
	t, err := Parse(s, opts)
	if err != nil {
		panic(err)
	}
	return t
}

// split cuts s into literal and variable segments; variable segments carry
// the raw name in arg and kind kHost as a placeholder until resolved.
func split(s string) ([]segment, error) {
	if s == "" {
		return nil, fmt.Errorf("template %q: empty value", s)
	}
	if len(s) > MaxTemplateBytes {
		return nil, fmt.Errorf("template of %d bytes: longer than %d", len(s), MaxTemplateBytes)
	}
	var segs []segment
	for i := 0; i < len(s); {
		switch s[i] {
		case '{':
			j := strings.IndexByte(s[i+1:], '}')
			if j < 0 {
				return nil, fmt.Errorf("template %q: unbalanced '{' at byte %d", s, i)
			}
			name := s[i+1 : i+1+j]
			if strings.IndexByte(name, '{') >= 0 {
				return nil, fmt.Errorf("template %q: unbalanced '{' at byte %d", s, i)
			}
			segs = append(segs, segment{kind: kHost, arg: name, idx: -1})
			i += j + 2
		case '}':
			return nil, fmt.Errorf("template %q: unbalanced '}' at byte %d", s, i)
		default:
			j := strings.IndexAny(s[i:], "{}")
			if j < 0 {
				j = len(s) - i
			}
			segs = append(segs, segment{kind: kLiteral, arg: s[i : i+j]})
			i += j
		}
	}
	return slices.Clip(segs), nil
}

func checkLiteral(src, lit string) error {
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("template %q: control byte 0x%02x not allowed", src, c)
		}
	}
	return nil
}

func resolveVar(sg *segment, opts ParseOptions) error {
	name := sg.arg
	if k, ok := simpleVars[name]; ok {
		sg.kind, sg.arg = k, ""
		return nil
	}
	if h, ok := strings.CutPrefix(name, "http."); ok {
		if !ValidHeaderName(h) {
			return fmt.Errorf("variable {%s}: %q is not a valid header name", name, h)
		}
		sg.kind, sg.arg = kHeader, textproto.CanonicalMIMEHeaderKey(h)
		return nil
	}
	if c, ok := strings.CutPrefix(name, "route.regex."); ok {
		if !opts.Captures {
			return fmt.Errorf("variable {%s}: regex captures are only available on path_regex routes", name)
		}
		if n, err := strconv.Atoi(c); err == nil && c[0] != '+' && c[0] != '-' {
			if n < 0 || n >= MaxCaptures {
				return fmt.Errorf("variable {%s}: capture index must be 0..%d", name, MaxCaptures-1)
			}
			sg.kind, sg.arg, sg.idx = kCaptureIndex, "", n
			return nil
		}
		if !validCaptureName(c) {
			return fmt.Errorf("variable {%s}: invalid capture name", name)
		}
		if !slices.Contains(opts.CaptureNames, c) {
			return fmt.Errorf("variable {%s}: the route regex has no group named %q", name, c)
		}
		sg.kind, sg.arg = kCaptureName, c
		return nil
	}
	return fmt.Errorf("unknown variable {%s}", name)
}

func validCaptureName(s string) bool {
	if s == "" || len(s) > maxCaptureNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// ValidHeaderName reports whether s is a non-empty RFC 9110 token.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// Static returns the value and true when the template has no variables.
func (t *Template) Static() (string, bool) {
	if t.static {
		return t.src, true
	}
	return "", false
}

// UsesTLS reports whether the template uses a {tls.*} variable.
func (t *Template) UsesTLS() bool { return t.usesTLS }

// Render appends the rendered value to dst and returns it. r is the client
// request as received (not the rewritten upstream request); info may be nil.
// Variables:
//   - {host}: the Host the client sent (r.Host), port included;
//   - {remote_addr}: info.ClientIP (the restored client address), else the
//     peer from r.RemoteAddr, without port;
//   - {scheme}: info.Scheme, else "https" when r.TLS is set, else "http";
//   - {uri}, {path}, {query}: the request target as the client sent it
//     (r.RequestURI), its path and its raw query (no '?');
//   - {request_id}: info.RequestID;
//   - {tls.*}: from r.TLS, empty without TLS; the client certificate
//     variables are empty unless the certificate was verified;
//   - {http.<name>}: the first value of that request header ({http.host} is
//     r.Host);
//   - {route.regex.*}: info.Captures, capped at MaxCaptureBytes.
//
// Control bytes are removed from every variable's value.
func (t *Template) Render(dst []byte, r *http.Request, info *reqctx.Info) []byte {
	for i := range t.segs {
		sg := &t.segs[i]
		switch sg.kind {
		case kLiteral:
			dst = append(dst, sg.arg...)
		case kHost:
			dst = appendClean(dst, r.Host)
		case kRemoteAddr:
			dst = appendRemoteAddr(dst, r, info)
		case kScheme:
			dst = append(dst, Scheme(r, info)...)
		case kURI:
			uri, _, _ := Target(r)
			dst = appendClean(dst, uri)
		case kPath:
			_, p, _ := Target(r)
			dst = appendClean(dst, p)
		case kQuery:
			_, _, q := Target(r)
			dst = appendClean(dst, q)
		case kRequestID:
			if info != nil {
				dst = appendClean(dst, info.RequestID)
			}
		case kHeader:
			if sg.arg == "Host" {
				dst = appendClean(dst, r.Host)
			} else if vs := r.Header[sg.arg]; len(vs) > 0 {
				dst = appendClean(dst, vs[0])
			}
		case kCaptureIndex:
			if info != nil && sg.idx < len(info.Captures) {
				dst = appendCapped(dst, info.Captures[sg.idx])
			}
		case kCaptureName:
			if info != nil {
				for j, n := range info.CaptureNames {
					if n == sg.arg && j < len(info.Captures) {
						dst = appendCapped(dst, info.Captures[j])
						break
					}
				}
			}
		default:
			dst = appendTLS(dst, sg.kind, r)
		}
	}
	return dst
}

// Scheme is info.Scheme, or "https"/"http" from r.TLS when it is unset.
func Scheme(r *http.Request, info *reqctx.Info) string {
	if info != nil && info.Scheme != "" {
		return info.Scheme
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Target returns the request target as the client sent it, its path and
// its raw query (without '?'). It slices r.RequestURI without allocating
// for origin-form targets; other forms (absolute-form, requests built in
// code) fall back to r.URL.
func Target(r *http.Request) (uri, path, query string) {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u, u[:i], u[i+1:]
		}
		return u, u, ""
	}
	if r.URL == nil {
		return "", "", ""
	}
	path, query = r.URL.EscapedPath(), r.URL.RawQuery
	if path == "" {
		path = "/"
	}
	uri = path
	if query != "" || r.URL.ForceQuery {
		uri = path + "?" + query
	}
	return uri, path, query
}

// appendClean appends s without control bytes (0x00-0x1f, 0x7f).
func appendClean(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			dst = append(dst, s[start:i]...)
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

func appendCapped(dst []byte, s string) []byte {
	if len(s) > MaxCaptureBytes {
		n := MaxCaptureBytes
		for n > MaxCaptureBytes-utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return appendClean(dst, s)
}

func appendRemoteAddr(dst []byte, r *http.Request, info *reqctx.Info) []byte {
	if info != nil {
		if info.ClientIP.IsValid() {
			return info.ClientIP.AppendTo(dst)
		}
		if info.PeerAddr.IsValid() {
			return info.PeerAddr.Addr().AppendTo(dst)
		}
	}
	if ap, ok := netutil.ParsePeer(r.RemoteAddr); ok {
		return ap.Addr().AppendTo(dst)
	}
	return dst
}
