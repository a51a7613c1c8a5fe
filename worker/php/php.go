// Package php is the php-fpm action of a vhost or route ([vhosts.php],
// [vhosts.routes.php]; Fluxheim spec §2.14, reliability.md §5).
//
// Contract with the request pipeline (worker/server):
//
//   - Serve gets the routed, decoded, cleaned path. It answers a PHP
//     response, a static file (through the scope's static handler), a 308,
//     a configured error page, or returns an *httperr.Error without having
//     written anything: 400/403/404 for paths, 413 for bodies, 503 when
//     max_in_flight is reached or php-fpm is overloaded, 502 when php-fpm
//     is down or answers something invalid or too large, 504 on the
//     deadline, 499 when the client went away. It returns httperr.ErrAbort
//     only if writing the response body failed.
//   - A script runs only if it is a regular file below the root, reached
//     without symlinks, with an allowed extension, outside
//     deny_path_prefixes; SCRIPT_FILENAME is built from that checked path,
//     and PATH_INFO is passed separately (CVE-2019-11043). PHP source is
//     never served as a file.
//   - php-fpm responses are read whole (fastcgi), their headers checked
//     strictly, hop-by-hop and internal (X-Accel-*) headers removed.
//
// A Handler is safe for concurrent use; Close releases its pool and roots.
package php

import (
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxheim/fluxheim/fastcgi"
	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/worker/static"
)

// Static is the static-file handler PHP declines existing non-PHP files
// to (worker/static's Handler).
type Static interface {
	Serve(w http.ResponseWriter, r *http.Request, path string) error
	Exists(path string) bool
}

// Deps are what a Handler needs besides its config block.
type Deps struct {
	// Vhost and Route name the scope (metrics, logs, managed pool name).
	Vhost, Route string
	// Web is the scope's static handler; nil: the Handler serves existing
	// non-PHP files below its root itself, with the [web] defaults.
	Web Static
	// Logger receives php-fpm stderr and failures; nil = slog.Default().
	Logger *slog.Logger
}

// Handler serves one PHP block.
type Handler struct {
	vhost, route string
	log          *slog.Logger
	metrics      *Metrics

	root            *scriptRoot
	localRoot       string // the checked root on this machine
	docRoot         string // DOCUMENT_ROOT: fpm_root or localRoot, cleaned
	index           string
	exts            map[string]bool
	deny            []string
	split           bool
	frontController bool

	static    Static          // declined files
	accel     *static.Handler // X-Accel-Redirect / X-Sendfile targets
	ownStatic *static.Handler // static when Deps.Web is nil
	pages     map[int]*errorPage

	stderrLog   bool
	stderrLevel slog.Level

	client   *fastcgi.Client
	slots    chan struct{}
	timeout  time.Duration
	body     bodyPolicy
	response responsePolicy
	cgi      cgiPolicy
}

// New builds the Handler of a defaulted, validated PHP block.
func New(c *config.PHP, d Deps) (*Handler, error) {
	root, err := config.ResolvePHPRoot(c.Root, c.ResolveRootSymlink)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		vhost: d.Vhost, route: d.Route, log: d.Logger, metrics: MetricsFor(d.Vhost),
		localRoot: root, docRoot: root, index: c.Index, exts: map[string]bool{},
		deny: c.DenyPathPrefixes, split: c.PathInfo != config.PHPPathInfoDisabled,
		frontController: c.TryFiles != config.PHPTryStrict,
		slots:           make(chan struct{}, *c.MaxInFlight),
		timeout:         exchangeTimeout(c),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("module", "php", "vhost", d.Vhost)
	if c.FPMRoot != "" {
		h.docRoot = filepath.Clean(c.FPMRoot)
	}
	for _, e := range c.AllowedExtensions {
		h.exts[lower(e)] = true
	}
	if err := h.build(c, d); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Handler) build(c *config.PHP, d Deps) error {
	var err error
	if h.root, err = openScriptRoot(h.localRoot); err != nil {
		return fmt.Errorf("php root: %w", err)
	}
	if h.accel, err = static.New(static.Options{Root: h.localRoot, DenyDotfiles: true, IndexFiles: []string{}}); err != nil {
		return fmt.Errorf("php root: %w", err)
	}
	h.static = d.Web
	if h.static == nil {
		if h.ownStatic, err = static.New(static.Options{Root: h.localRoot, DenyDotfiles: true, CacheControl: config.DefaultCacheControl, Precompressed: true}); err != nil {
			return fmt.Errorf("php root: %w", err)
		}
		h.static = h.ownStatic
	}
	if h.pages, err = newErrorPages(c.ErrorPages); err != nil {
		return err
	}
	if h.client, err = newClient(c, d); err != nil {
		return err
	}
	h.body = newBodyPolicy(c)
	h.response = newResponsePolicy(c)
	h.cgi = newCGIPolicy(c)
	h.stderrLog, h.stderrLevel = *c.StderrLog, stderrLevel(c.StderrLogLevel)
	return nil
}

// Close releases the keep-alive pool, the root and the static handlers the
// Handler owns. In-flight requests must have finished.
func (h *Handler) Close() error {
	if h.client != nil {
		h.client.Close()
	}
	if h.root != nil {
		h.root.close()
	}
	for _, s := range []*static.Handler{h.accel, h.ownStatic} {
		if s != nil {
			_ = s.Close()
		}
	}
	for _, p := range h.pages {
		_ = p.static.Close()
	}
	return nil
}

// docPath is a URL path below the root as php-fpm sees it.
func (h *Handler) docPath(urlPath string) string {
	return strings.TrimSuffix(h.docRoot, "/") + urlPath
}

// PoolStats exposes the keep-alive pool counters of the block.
func (h *Handler) PoolStats() *fastcgi.PoolStats { return h.client.Stats() }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
