// Package router selects the vhost and route for a request from tables
// built once per config snapshot. Lookups on exact hosts and on exact and
// prefix routes allocate nothing; regex routes allocate their submatch
// slice, and rewrites allocate the rewritten path.
//
// Host selection: exact host → one-label wildcard ("*.example.test" matches
// "a.example.test", not "a.b.example.test" nor "example.test") →
// default_vhost → the global [web]/[proxy] fallback. With strict host
// routing a missing or invalid Host is 400 and an unknown host 421.
//
// Route selection inside a vhost: exact path → longest prefix (a plain
// string prefix, as nginx's location) → first matching regex in config
// order → the fallback route (an explicit fallback = true route, or the
// vhost's own web/proxy/redirect action).
package router

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/hostname"
	"github.com/fluxheim/fluxheim/shared/rewrite"
)

// Action serves a routed request. Target is the path (decoded) the action
// works on after strip/rewrite; Action implementations must not keep it.
type Action interface {
	Serve(w http.ResponseWriter, r *http.Request, t *Target) error
}

// Target is what a route hands to its action.
type Target struct {
	// Path is the decoded, cleaned, rewritten path.
	Path string
	// EscapedPath is Path in its on-the-wire form (for forwarding).
	EscapedPath string
	// Captures are the regex route's submatch indexes into MatchedPath.
	Captures    []int
	MatchedPath string
}

// Spec describes one action for the ActionMaker: exactly one of Web, Proxy,
// Redirect and Demo is set, or both Web and Proxy (a vhost serving existing
// files statically and the rest through the proxy).
type Spec struct {
	Vhost, Route string
	Web          *config.Web
	Proxy        *config.Proxy
	Redirect     *config.Redirect
	// PHP is set for a php-fpm scope; Web may be set beside it (existing
	// non-PHP files are declined to the static handler).
	PHP *config.PHP
	// Headers is the header policy chain of this scope, outermost first:
	// global, vhost, route (nil entries allowed).
	Headers []*config.Headers
	// CaptureNames are the group names of a regex route (templates may use
	// {route.regex.*}); nil elsewhere.
	CaptureNames []string
	Demo         bool
}

// ActionMaker builds the action for a spec. It is called once per scope
// when a table is built.
type ActionMaker func(Spec) (Action, error)

// PolicyMaker compiles a scope's effective header policy into whatever the
// pipeline applies (stored in Vhost.Policy and Route.Policy).
type PolicyMaker func(chain []*config.Headers, captureNames []string) (any, error)

// Route is one compiled route.
type Route struct {
	Name   string
	Action Action
	// Policy is the compiled header policy (see PolicyMaker).
	Policy any
	// MaxBody is the effective request body limit in bytes.
	MaxBody int64
	// BodyIdle bounds each stalled request body read (proxy
	// downstream_read_timeout_secs); 0 = none.
	BodyIdle time.Duration
	// HTTPSRedirectExempt: [server.https_redirect] leaves this route alone.
	HTTPSRedirectExempt bool
	// Allow lists the route's methods ("" = any); Allow is the header value.
	methods []string
	Allow   string

	exact, prefix string
	re            *regexp.Regexp
	strip         string
	rewritePrefix string
	rewrite       *rewrite.Template
}

// AllowsMethod reports whether m may use the route.
func (r *Route) AllowsMethod(m string) bool {
	if r.methods == nil {
		return true
	}
	for _, x := range r.methods {
		if x == m {
			return true
		}
	}
	// HEAD is allowed wherever GET is.
	if m == http.MethodHead {
		for _, x := range r.methods {
			if x == http.MethodGet {
				return true
			}
		}
	}
	return false
}

// Vhost is one compiled vhost.
type Vhost struct {
	Name     string
	Policy   any
	MaxBody  int64
	exact    map[string]*Route
	prefixes []*Route // longest first
	regexes  []*Route
	fallback *Route
}

// Table is an immutable routing table for one config snapshot.
type Table struct {
	exact     map[string]*Vhost
	wildcards map[string]*Vhost // key: the part after "*."
	def       *Vhost
	strict    bool
}

// Outcome of host selection.
const (
	Found       = 0
	BadHost     = http.StatusBadRequest
	UnknownHost = http.StatusMisdirectedRequest
	NoVhost     = http.StatusNotFound
)

// CaptureNames returns the regex route's group names (nil otherwise).
func (r *Route) CaptureNames() []string {
	if r.re == nil {
		return nil
	}
	return r.re.SubexpNames()
}

// Vhost selects the vhost for a Host header value. It returns a status
// (Found, BadHost, UnknownHost or NoVhost) when no vhost serves it. The
// normalised host is returned for logging and templates.
func (t *Table) Vhost(host string) (*Vhost, string, int) {
	h, err := hostname.Normalise(host)
	if err != nil {
		if t.strict {
			return nil, "", BadHost
		}
		return t.orDefault(""), "", t.defStatus()
	}
	if v := t.exact[h]; v != nil {
		return v, h, Found
	}
	if i := strings.IndexByte(h, '.'); i > 0 && len(t.wildcards) > 0 {
		if v := t.wildcards[h[i+1:]]; v != nil {
			return v, h, Found
		}
	}
	if t.strict {
		return nil, h, UnknownHost
	}
	return t.orDefault(h), h, t.defStatus()
}

func (t *Table) orDefault(string) *Vhost { return t.def }

func (t *Table) defStatus() int {
	if t.def == nil {
		return NoVhost
	}
	return Found
}

// Match selects the route for a cleaned, decoded path and fills tgt.
// It returns nil when no route matches.
func (v *Vhost) Match(path, escaped string, tgt *Target) *Route {
	r := v.exact[path]
	if r == nil {
		for _, p := range v.prefixes {
			if strings.HasPrefix(path, p.prefix) {
				r = p
				break
			}
		}
	}
	if r == nil {
		for _, x := range v.regexes {
			if idx := x.re.FindStringSubmatchIndex(path); idx != nil {
				tgt.Captures, tgt.MatchedPath = idx, path
				r = x
				break
			}
		}
	}
	if r == nil {
		r = v.fallback
	}
	if r == nil {
		return nil
	}
	tgt.Path, tgt.EscapedPath = path, escaped
	r.rewriteTarget(tgt)
	return r
}

// rewriteTarget applies strip_prefix, rewrite_prefix and rewrite_template.
func (r *Route) rewriteTarget(t *Target) {
	switch {
	case r.rewrite != nil && t.Captures != nil:
		p := string(r.rewrite.Render(nil, t.MatchedPath, t.Captures))
		t.Path, t.EscapedPath = p, EscapePath(p)
	case r.strip != "":
		p := strings.TrimPrefix(t.Path, r.strip)
		e, ok := strings.CutPrefix(t.EscapedPath, r.strip)
		if !ok {
			e = EscapePath(p)
		}
		if r.rewritePrefix != "" {
			p = joinPath(r.rewritePrefix, p)
			e = joinPath(r.rewritePrefix, e)
		}
		if p == "" || p[0] != '/' {
			p, e = "/"+p, "/"+e
		}
		t.Path, t.EscapedPath = p, e
	}
}

func joinPath(prefix, rest string) string {
	if strings.HasSuffix(prefix, "/") && strings.HasPrefix(rest, "/") {
		return prefix + rest[1:]
	}
	if !strings.HasSuffix(prefix, "/") && rest != "" && !strings.HasPrefix(rest, "/") {
		return prefix + "/" + rest
	}
	return prefix + rest
}

// Build compiles the routing table of a validated config, calling mk for
// every action.
func Build(c *config.Config, mk ActionMaker, pol PolicyMaker) (*Table, error) {
	b := builder{mk: mk, pol: pol}
	t := &Table{exact: map[string]*Vhost{}, wildcards: map[string]*Vhost{}, strict: c.Server.HostRouting.Strict}
	serverMax := int64(c.Server.Limits.MaxRequestBodyBytes)
	byName := map[string]*Vhost{}
	for i := range c.Vhosts {
		vc := &c.Vhosts[i]
		v, err := b.vhost(vc, c.Headers, serverMax)
		if err != nil {
			return nil, err
		}
		byName[vc.Name] = v
		for _, h := range vc.Hosts {
			if w, ok := strings.CutPrefix(h, "*."); ok {
				t.wildcards[w] = v
			} else {
				t.exact[h] = v
			}
		}
	}
	switch {
	case c.Server.DefaultVhost != "":
		t.def = byName[c.Server.DefaultVhost]
	case c.Web != nil || c.Proxy != nil || c.Demo:
		v := &Vhost{Name: "", MaxBody: serverMax, exact: map[string]*Route{}}
		chain := []*config.Headers{c.Headers}
		var err error
		if v.Policy, err = pol(chain, nil); err != nil {
			return nil, err
		}
		spec := Spec{Web: c.Web, Proxy: c.Proxy, Headers: chain, Demo: c.Demo && c.Web == nil && c.Proxy == nil}
		if v.fallback, err = b.route(spec, &config.Route{}, serverMax); err != nil {
			return nil, err
		}
		t.def = v
	}
	return t, nil
}

type builder struct {
	mk  ActionMaker
	pol PolicyMaker
}

// route builds the action, policy and limits shared by every kind of route.
func (b *builder) route(spec Spec, rc *config.Route, vhostMax int64) (*Route, error) {
	r := &Route{Name: rc.Name, MaxBody: vhostMax, HTTPSRedirectExempt: rc.HTTPSRedirectExempt}
	if rc.MaxRequestBodyBytes != nil {
		r.MaxBody = int64(*rc.MaxRequestBodyBytes)
	}
	if spec.Proxy != nil && spec.Proxy.DownstreamReadTimeoutSecs != nil {
		r.BodyIdle = time.Duration(*spec.Proxy.DownstreamReadTimeoutSecs) * time.Second
	}
	var err error
	if r.Action, err = b.mk(spec); err != nil {
		return nil, err
	}
	if r.Policy, err = b.pol(spec.Headers, spec.CaptureNames); err != nil {
		return nil, err
	}
	return r, nil
}

func (b *builder) vhost(vc *config.Vhost, global *config.Headers, serverMax int64) (*Vhost, error) {
	v := &Vhost{Name: vc.Name, MaxBody: serverMax, exact: map[string]*Route{}}
	vchain := []*config.Headers{global, vc.Headers}
	if vc.MaxRequestBodyBytes != nil {
		v.MaxBody = int64(*vc.MaxRequestBodyBytes)
	}
	var err error
	if v.Policy, err = b.pol(vchain, nil); err != nil {
		return nil, err
	}
	for i := range vc.Routes {
		rc := &vc.Routes[i]
		spec := Spec{Vhost: vc.Name, Route: rc.Name, Web: rc.Web, Proxy: rc.Proxy, Redirect: rc.Redirect, PHP: rc.PHP,
			Headers: []*config.Headers{global, vc.Headers, rc.Headers}}
		var re *regexp.Regexp
		if rc.PathRegex != "" {
			if re, err = regexp.Compile(rc.PathRegex); err != nil {
				return nil, err
			}
			spec.CaptureNames = re.SubexpNames()
		}
		r, err := b.route(spec, rc, v.MaxBody)
		if err != nil {
			return nil, err
		}
		if len(rc.Methods) > 0 {
			r.methods = rc.Methods
			r.Allow = strings.Join(rc.Methods, ", ")
		}
		if rc.StripPrefix.Set {
			r.strip = rc.StripPrefix.Prefix
			if r.strip == "" {
				r.strip = rc.PathPrefix
			}
			r.rewritePrefix = rc.RewritePrefix
		}
		switch {
		case rc.PathExact != "":
			r.exact = rc.PathExact
			v.exact[r.exact] = r
		case rc.PathPrefix != "":
			r.prefix = rc.PathPrefix
			v.prefixes = append(v.prefixes, r)
		case rc.PathRegex != "":
			r.re = re
			if rc.RewriteTemplate != "" {
				if r.rewrite, err = rewrite.Parse(rc.RewriteTemplate, r.re.SubexpNames()); err != nil {
					return nil, err
				}
			}
			v.regexes = append(v.regexes, r)
		case rc.Fallback:
			v.fallback = r
		}
	}
	sort.SliceStable(v.prefixes, func(i, j int) bool { return len(v.prefixes[i].prefix) > len(v.prefixes[j].prefix) })
	if v.fallback == nil {
		spec := Spec{Vhost: vc.Name, Web: vc.Web, Proxy: vc.Proxy, PHP: vc.PHP, Headers: vchain}
		if vc.Redirect != nil && *vc.Redirect.Enabled {
			spec = Spec{Vhost: vc.Name, Redirect: vc.Redirect, Headers: vchain}
		}
		if spec.Web != nil || spec.Proxy != nil || spec.Redirect != nil || spec.PHP != nil {
			if v.fallback, err = b.route(spec, &config.Route{}, v.MaxBody); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}
