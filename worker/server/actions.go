package server

import (
	_ "embed"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/features"
	"github.com/fluxheim/fluxheim/shared/tmpl"
	"github.com/fluxheim/fluxheim/worker/router"
)

// webServer is the static-file module (worker/static), linked in by the
// web build feature (module_web.go).
type webServer interface {
	Serve(w http.ResponseWriter, r *http.Request, path string) error
	Exists(path string) bool
	Close() error
}

// proxyServer is the reverse-proxy module (worker/proxy), linked in by the
// proxy build feature (module_proxy.go).
type proxyServer interface {
	Serve(w http.ResponseWriter, r *http.Request, target string) error
	Close()
}

// Module constructors; nil when the build left the module out. Config
// validation already refuses configs that need a missing module.
var (
	// newPHP builds the php-fpm action of a scope; web is the scope's
	// static handler (nil when the scope has no web block), for files PHP
	// declines.
	newPHP   func(s router.Spec, web webServer, lg *slog.Logger) (router.Action, error)
	newWeb   func(*config.Web) (webServer, error)
	newProxy func(p *config.Proxy, chain []*config.Headers, captureNames []string, errLog *log.Logger) (proxyServer, error)
)

// actionMaker builds router actions and remembers what must be closed.
type actionMaker struct {
	closers *[]func()
	log     *log.Logger  // for modules' own messages (ReverseProxy body copy errors)
	slog    *slog.Logger // the error log
}

func (m actionMaker) make(s router.Spec) (router.Action, error) {
	switch {
	case s.Demo:
		return demoAction{}, nil
	case s.PHP != nil:
		if newPHP == nil {
			return nil, fmt.Errorf("module %q is not built into this binary (build with FEATURES=%s)", "php-fpm", features.ProfileWith("php-fpm"))
		}
		var web webServer
		if s.Web != nil {
			var err error
			if web, err = m.web(s.Web); err != nil {
				return nil, err
			}
		}
		a, err := newPHP(s, web, m.slog)
		if err != nil {
			return nil, err
		}
		if c, ok := a.(interface{ Close() error }); ok {
			*m.closers = append(*m.closers, func() { _ = c.Close() })
		}
		return a, nil
	case s.Redirect != nil:
		t, err := tmpl.ParseRedirect(s.Redirect.To)
		if err != nil {
			return nil, err
		}
		return &redirectAction{to: t, status: s.Redirect.Status}, nil
	case s.Web != nil && s.Proxy != nil:
		web, err := m.web(s.Web)
		if err != nil {
			return nil, err
		}
		px, err := m.proxy(s.Proxy, s.Headers, s.CaptureNames)
		if err != nil {
			return nil, err
		}
		return &webProxyAction{web: web, proxy: px}, nil
	case s.Web != nil:
		web, err := m.web(s.Web)
		if err != nil {
			return nil, err
		}
		return webAction{web}, nil
	case s.Proxy != nil:
		px, err := m.proxy(s.Proxy, s.Headers, s.CaptureNames)
		if err != nil {
			return nil, err
		}
		return proxyAction{px}, nil
	}
	return nil, fmt.Errorf("vhost %q route %q: no action", s.Vhost, s.Route)
}

func (m actionMaker) web(c *config.Web) (webServer, error) {
	if newWeb == nil {
		return nil, fmt.Errorf("module %q is not built into this binary (build with FEATURES=%s)", "web", features.ProfileWith("web"))
	}
	w, err := newWeb(c)
	if err != nil {
		return nil, err
	}
	*m.closers = append(*m.closers, func() { _ = w.Close() })
	return w, nil
}

func (m actionMaker) proxy(c *config.Proxy, h []*config.Headers, names []string) (proxyServer, error) {
	if newProxy == nil {
		return nil, fmt.Errorf("module %q is not built into this binary (build with FEATURES=%s)", "proxy", features.ProfileWith("proxy"))
	}
	p, err := newProxy(c, h, names, m.log)
	if err != nil {
		return nil, err
	}
	*m.closers = append(*m.closers, p.Close)
	return p, nil
}

type webAction struct{ web webServer }

func (a webAction) Serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	return a.web.Serve(w, r, t.Path)
}

type proxyAction struct{ proxy proxyServer }

func (a proxyAction) Serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	return a.proxy.Serve(w, r, upstreamTarget(r, t))
}

// upstreamTarget is the request target sent upstream: the (rewritten)
// escaped path plus the original query.
func upstreamTarget(r *http.Request, t *router.Target) string {
	if r.URL.RawQuery == "" {
		return t.EscapedPath
	}
	return t.EscapedPath + "?" + r.URL.RawQuery
}

// webProxyAction serves existing files statically and everything else
// through the proxy (a vhost with both web and proxy).
type webProxyAction struct {
	web   webServer
	proxy proxyServer
}

func (a *webProxyAction) Serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && a.web.Exists(t.Path) {
		return a.web.Serve(w, r, t.Path)
	}
	return a.proxy.Serve(w, r, upstreamTarget(r, t))
}

type redirectAction struct {
	to     *tmpl.RedirectTemplate
	status int
}

func (a *redirectAction) Serve(w http.ResponseWriter, r *http.Request, _ *router.Target) error {
	loc := a.to.Render(r)
	if loc == "" {
		return &httpErrBadHost
	}
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Content-Length", "0")
	w.WriteHeader(a.status)
	return nil
}

//go:embed demo.html
var demoPage []byte

var demoLen = strconv.Itoa(len(demoPage))

// demoAction serves the built-in page of the embedded default config.
type demoAction struct{}

func (demoAction) Serve(w http.ResponseWriter, r *http.Request, t *router.Target) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed()
	}
	if t.Path != "/" && t.Path != "/index.html" {
		return &httpErrNotFound
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", demoLen)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(demoPage)
	}
	return nil
}
