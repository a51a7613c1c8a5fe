// Package headers implements Fluxheim's [headers.request] and
// [headers.response] policies (spec §2.9): the forwarding headers a proxy
// sends upstream (X-Forwarded-For, X-Real-IP, X-Forwarded-Host,
// X-Forwarded-Proto, Forwarded), the stripping of client-supplied copies of
// them, operator remove/add/append lists with templates, and the response
// security headers.
//
// Life cycle: the config package maps TOML onto RequestPolicy and
// ResponsePolicy (pointer fields: nil means "not set here"), overlays vhost
// and route policies on the global one with MergeRequest/MergeResponse, and
// compiles the result once with CompileRequest/CompileResponse, which
// applies the defaults, parses every template and validates names and
// counts, so every error surfaces at config time. Compiled policies are
// immutable and safe for concurrent use.
package headers

import (
	"maps"
	"net/textproto"
	"slices"
	"strings"
)

// X-Forwarded-For modes (RequestPolicy.XForwardedFor).
const (
	// XFFOff sends no X-Forwarded-For at all (client copies are dropped too).
	XFFOff = "off"
	// XFFReplace sends exactly one address: the client IP (the peer, or the
	// address restored from a trusted proxy's X-Forwarded-For). This is
	// nginx's "proxy_set_header X-Forwarded-For $remote_addr" with the
	// realip module. The default.
	XFFReplace = "replace"
	// XFFAppend sends the received chain followed by the direct peer
	// address: "<chain>, <peer>". The received chain is kept only when the
	// peer is a trusted proxy; otherwise the header is just "<peer>". This
	// is nginx's $proxy_add_x_forwarded_for without the realip rewrite of
	// $remote_addr, i.e. each proxy appends the address it received the
	// connection from.
	XFFAppend = "append"
)

// Caps (spec §3.1).
const (
	MaxMutationNames = 128 // names per remove / add / append list
	MaxAppendValues  = 32  // values per append name
)

// RequestPolicy is [headers.request] (also [vhosts.headers.request] and
// [vhosts.routes.headers.request]). A nil pointer or empty string means
// "not set"; CompileRequest then applies the default in brackets.
type RequestPolicy struct {
	Enabled                     *bool  // enabled [true]; false: no generated headers and no remove/add/append (stripping still follows StripInboundClientIPHeaders)
	StripInboundClientIPHeaders *bool  // strip_inbound_client_ip_headers [true]
	XForwardedFor               string // x_forwarded_for: off | replace | append [replace]
	XRealIP                     *bool  // x_real_ip [true]
	XForwardedHost              *bool  // x_forwarded_host [true]
	XForwardedProto             *bool  // x_forwarded_proto [true]
	Forwarded                   *bool  // forwarded (RFC 7239) [false]

	// Remove (alias unset) names headers to delete, ≤ 128. Host cannot be
	// removed.
	Remove []string
	// Add (alias set) sets headers, replacing received values, ≤ 128 names.
	// Values are templates (package tmpl). "host" rewrites the upstream
	// Host header. A value rendering empty removes the header.
	Add map[string]string
	// Append adds values after any received ones, ≤ 128 names, ≤ 32 values
	// each; {tls.*} variables are not allowed here.
	Append map[string][]string
}

// ResponsePolicy is [headers.response] (and its vhost/route overlays).
// String pointers: nil means "not set" (the default applies), a pointer to
// "" switches the header off.
type ResponsePolicy struct {
	Enabled                 *bool   // enabled [true]
	XContentTypeOptions     *string // x_content_type_options ["nosniff"]
	XFrameOptions           *string // x_frame_options ["DENY"]
	ReferrerPolicy          *string // referrer_policy ["no-referrer"]
	ContentSecurityPolicy   *string // content_security_policy [off]
	StrictTransportSecurity *string // strict_transport_security, raw value [off]; not with HSTS
	HSTS                    *HSTS   // [headers.response.hsts]; not with StrictTransportSecurity

	// Remove names headers to delete, ≤ 128. nil means the default
	// ["X-Powered-By"]; a non-nil list replaces it at the global level and
	// extends the inherited list in overlays (see MergeResponse).
	Remove []string
	// Add sets headers (templates allowed), ≤ 128 names. Add "server" to
	// change the banner; Remove "server" to drop it.
	Add map[string]string
	// Append adds values, ≤ 128 names, ≤ 32 values each.
	Append map[string][]string
}

// HSTS is [headers.response.hsts].
type HSTS struct {
	Enabled           *bool   // [true]
	MaxAgeSecs        *uint64 // [63072000]; must be > 0 when enabled
	IncludeSubdomains bool
	Preload           bool
}

// DefaultServer is the Server header value every response gets unless the
// policy removes or replaces it.
const DefaultServer = "fluxheim"

// DefaultHSTSMaxAge is the HSTS max-age when [headers.response.hsts] does
// not set one (two years).
const DefaultHSTSMaxAge = 63072000

// defaultResponseRemove is the Remove list when none is configured.
var defaultResponseRemove = []string{"X-Powered-By"}

// Bool returns a pointer to v, for filling policy structs.
func Bool(v bool) *bool { return &v }

// String returns a pointer to v, for filling policy structs.
func String(v string) *string { return &v }

// MergeRequest overlays over (a vhost or route policy) on base (the global
// or vhost policy) and returns the result; neither input is modified.
//   - Scalars set in over (non-nil / non-empty) win.
//   - Remove lists are concatenated (duplicates dropped); a name removed by
//     over also drops base's Add and Append entries for that name, so an
//     overlay can cancel an inherited header.
//   - Add maps are united; over's value wins for the same name
//     (case-insensitive).
//   - Append lists are extended per name: base's values, then over's.
func MergeRequest(base, over RequestPolicy) RequestPolicy {
	out := base
	setPtr(&out.Enabled, over.Enabled)
	setPtr(&out.StripInboundClientIPHeaders, over.StripInboundClientIPHeaders)
	if over.XForwardedFor != "" {
		out.XForwardedFor = over.XForwardedFor
	}
	setPtr(&out.XRealIP, over.XRealIP)
	setPtr(&out.XForwardedHost, over.XForwardedHost)
	setPtr(&out.XForwardedProto, over.XForwardedProto)
	setPtr(&out.Forwarded, over.Forwarded)
	out.Remove, out.Add, out.Append = mergeMutations(base.Remove, base.Add, base.Append, over.Remove, over.Add, over.Append)
	return out
}

// MergeResponse overlays over on base like MergeRequest. Remove starts from
// base's effective list (the default ["X-Powered-By"] when base has none),
// so an overlay's Remove never loses the inherited strip. Setting
// StrictTransportSecurity in over clears an inherited HSTS and vice versa.
func MergeResponse(base, over ResponsePolicy) ResponsePolicy {
	out := base
	setPtr(&out.Enabled, over.Enabled)
	setPtr(&out.XContentTypeOptions, over.XContentTypeOptions)
	setPtr(&out.XFrameOptions, over.XFrameOptions)
	setPtr(&out.ReferrerPolicy, over.ReferrerPolicy)
	setPtr(&out.ContentSecurityPolicy, over.ContentSecurityPolicy)
	if over.StrictTransportSecurity != nil {
		out.StrictTransportSecurity, out.HSTS = over.StrictTransportSecurity, nil
	}
	if over.HSTS != nil {
		h := *over.HSTS
		out.HSTS, out.StrictTransportSecurity = &h, nil
	}
	baseRemove := base.Remove
	if baseRemove == nil {
		baseRemove = defaultResponseRemove
	}
	out.Remove, out.Add, out.Append = mergeMutations(baseRemove, base.Add, base.Append, over.Remove, over.Add, over.Append)
	return out
}

func setPtr[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

func mergeMutations(bRemove []string, bAdd map[string]string, bAppend map[string][]string,
	oRemove []string, oAdd map[string]string, oAppend map[string][]string,
) ([]string, map[string]string, map[string][]string) {
	var remove []string
	if bRemove != nil || oRemove != nil {
		remove = make([]string, 0, len(bRemove)+len(oRemove))
		seen := map[string]bool{}
		for _, n := range slices.Concat(bRemove, oRemove) {
			if k := canon(n); !seen[k] {
				seen[k] = true
				remove = append(remove, n)
			}
		}
	}
	dropped := map[string]bool{}
	for _, n := range oRemove {
		dropped[canon(n)] = true
	}
	var add map[string]string
	if bAdd != nil || oAdd != nil {
		add = make(map[string]string, len(bAdd)+len(oAdd))
		for n, v := range bAdd {
			if !dropped[canon(n)] {
				add[n] = v
			}
		}
		for n, v := range oAdd {
			for k := range add {
				if strings.EqualFold(k, n) {
					delete(add, k)
				}
			}
			add[n] = v
		}
	}
	var app map[string][]string
	if bAppend != nil || oAppend != nil {
		app = make(map[string][]string, len(bAppend)+len(oAppend))
		for n, vs := range bAppend {
			if !dropped[canon(n)] {
				app[n] = slices.Clone(vs)
			}
		}
		for n, vs := range oAppend {
			key := n
			for k := range app {
				if strings.EqualFold(k, n) {
					key = k
				}
			}
			app[key] = append(app[key], vs...)
		}
	}
	return remove, add, app
}

func canon(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// sortedKeys returns m's keys in a stable order, so compiled policies apply
// operations deterministically.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
