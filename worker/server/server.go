// Package server is a worker's HTTP data plane: it builds the request
// pipeline (Handler) from an immutable config snapshot and serves it on
// listeners it is handed (it never opens a listening socket itself, so the
// master or systemd can own them).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/worker/accesslog"
	"github.com/fluxheim/fluxheim/worker/router"
)

// BuildHandler compiles the pipeline for cfg. access may be nil (no
// access log).
func BuildHandler(cfg *config.Config, lg *slog.Logger, access *accesslog.Logger) (*Handler, error) {
	trusted, err := netutil.ParseTrustedProxies(cfg.Server.TrustedProxies)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		https:   newHTTPSRedirect(cfg.Server.HTTPSRedirect),
		trusted: trusted,
		maxURI:  int(cfg.Server.Limits.MaxURIBytes),
		maxHdrs: cfg.Server.Limits.MaxRequestHeaders,
		log:     lg,
	}
	am := actionMaker{closers: &h.closers, log: log.New(slogWriter{lg}, "", 0), slog: lg}
	table, err := router.Build(cfg, am.make, compilePolicy)
	if err != nil {
		h.Close()
		return nil, err
	}
	h.table = table
	if p, err := compilePolicy([]*config.Headers{cfg.Headers}, nil); err == nil {
		h.global, _ = p.(respPolicy)
	}
	a := &cfg.Logging.Access
	if *a.Enabled && access != nil {
		h.access = access
		h.accessOn = accessFields{
			host: *a.IncludeHost, path: *a.IncludePath, clientIP: *a.IncludeClientIP,
			cachePhase: *a.IncludeCachePhase, route: *a.IncludeRoute, upstream: *a.IncludeUpstream,
		}
	}
	if *a.RequestID {
		h.ids = newRequestIDs()
		h.idHeader = httpCanonical(a.RequestIDHeader)
	}
	return h, nil
}

func httpCanonical(s string) string { return http.CanonicalHeaderKey(s) }

// Server serves a Handler on the listeners it is given. The Handler can
// be swapped atomically (in-process reload); requests in flight finish on
// the Handler they started with.
type Server struct {
	handler  atomic.Pointer[Handler]
	srv      *http.Server
	log      *slog.Logger
	draining atomic.Bool
	// challenges are the ACME HTTP-01 answers, shared by every Handler.
	challenges Challenges
	conns      *connTracker
	serving    atomic.Int32 // accept loops still running

	mu           sync.Mutex
	retired      []*Handler
	handlerClose sync.Once

	// lnMu guards lns and stopped: Serve registers listeners while the
	// control loop may already call StopAccepting (a drain that arrives
	// right after READY must still reach every listener).
	lnMu       sync.Mutex
	lns        []servedListener
	stopped    bool      // StopAccepting ran: Serve starts nothing more
	drainStart time.Time // when StopAccepting ran
}

// New returns a Server for cfg's limits and timeouts serving h.
func New(cfg *config.Config, h *Handler, lg *slog.Logger) *Server {
	s := &Server{log: lg, conns: newConnTracker()}
	h.draining = &s.draining
	h.challenges = &s.challenges
	s.handler.Store(h)
	l := &cfg.Server.Limits
	var protos http.Protocols
	protos.SetHTTP1(true)
	s.srv = &http.Server{
		Handler:                      http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout:            time.Duration(l.RequestHeaderTimeoutSecs) * time.Second,
		IdleTimeout:                  time.Duration(l.KeepaliveTimeoutSecs) * time.Second,
		MaxHeaderBytes:               int(l.MaxRequestHeaderBytes),
		DisableGeneralOptionsHandler: true,
		Protocols:                    &protos,
		ErrorLog:                     log.New(slogWriter{lg}, "", 0),
		ConnState:                    s.conns.track,
	}
	return s
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.Load().ServeHTTP(w, r)
}

// Swap installs a new Handler; the old one is closed after grace, when
// requests that started on it have had time to finish.
func (s *Server) Swap(h *Handler, grace time.Duration) {
	h.draining = &s.draining
	h.challenges = &s.challenges
	old := s.handler.Swap(h)
	if old != nil {
		time.AfterFunc(grace, old.Close)
	}
}

// servedListener is a listener with the key the master knows it by.
type servedListener struct {
	key string
	ln  *listener
	tls bool
}

// Listener names a listening socket handed to Serve.
type Listener struct {
	Key string // master's key ("tcp:127.0.0.1:8080#0"), used by Drain's retired set
	LN  net.Listener
	TLS bool // serve TLS (EnableTLS must have been called)
}

// Serve serves every listener until Drain, Shutdown or Close. It returns
// the first error that stops a listener for another reason, or nil.
// Only TCP listeners are accepted.
func (s *Server) Serve(lns []Listener) error {
	var mine []servedListener
	for _, l := range lns {
		tl, ok := l.LN.(*net.TCPListener)
		if !ok {
			return fmt.Errorf("listener %s: not TCP (%T)", l.Key, l.LN)
		}
		if l.TLS && s.srv.TLSConfig == nil {
			return fmt.Errorf("listener %s: TLS listener without TLS configuration", l.Key)
		}
		mine = append(mine, servedListener{key: l.Key, ln: &listener{TCPListener: tl}, tls: l.TLS})
	}
	s.lnMu.Lock()
	if s.stopped {
		// Drained before serving began: accept nothing.
		s.lnMu.Unlock()
		for _, l := range mine {
			_ = l.ln.Close()
		}
		return nil
	}
	s.lns = append(s.lns, mine...)
	errc := make(chan error, len(mine))
	for _, l := range mine {
		s.serving.Add(1)
		go func(l servedListener) {
			var err error
			if l.tls {
				err = s.srv.ServeTLS(l.ln, "", "")
			} else {
				err = s.srv.Serve(l.ln)
			}
			s.serving.Add(-1)
			errc <- err
		}(l)
	}
	s.lnMu.Unlock()
	var first error
	for range mine {
		err := <-errc
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, errRetired) || s.draining.Load() {
			continue
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// acceptorsDone reports whether every listener's accept loop has ended.
func (s *Server) acceptorsDone() bool { return s.serving.Load() == 0 }

// Shutdown stops accepting, waits for in-flight requests until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.closeHandler()
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.closeHandler()
	return err
}

// closeHandler closes the current Handler once (Drain, Shutdown and Close
// may all end up here: a fast stop can arrive during a drain).
func (s *Server) closeHandler() {
	s.handlerClose.Do(func() { s.handler.Load().Close() })
}

// slogWriter routes net/http's internal log lines (TLS handshake errors,
// panics) into the error log at debug level, except panics at error level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	if strings.HasPrefix(msg, "httputil:") {
		w.l.Warn("proxy", "msg", msg)
	} else {
		w.l.Debug("net/http", "msg", msg)
	}
	return len(p), nil
}

// Challenges returns the ACME HTTP-01 answer store (the worker updates it
// from the master's messages).
func (s *Server) Challenges() *Challenges { return &s.challenges }

// Downstream HTTP/2 limits (Fluxheim's, always on): 32 concurrent streams
// per connection, 16 KiB frames, 64 KiB receive window per stream; the
// decoded header list is bounded by max_request_header_bytes. Go's own
// rapid-reset and CONTINUATION-flood protections stay in force.
const (
	h2MaxStreams       = 32
	h2MaxFrame         = 16 << 10
	h2StreamWindow     = 64 << 10
	h2ConnectionWindow = 1 << 20
)

// EnableTLS makes the server able to serve TLS listeners with cfg (its
// GetConfigForClient picks the current certificates); with h2 the TLS
// listeners also speak HTTP/2 when ALPN selects it. Call before Serve.
func (s *Server) EnableTLS(cfg *tls.Config, h2 bool) {
	s.srv.TLSConfig = cfg
	if h2 {
		s.srv.Protocols.SetHTTP2(true)
		s.srv.HTTP2 = &http.HTTP2Config{
			MaxConcurrentStreams:          h2MaxStreams,
			MaxReadFrameSize:              h2MaxFrame,
			MaxReceiveBufferPerStream:     h2StreamWindow,
			MaxReceiveBufferPerConnection: h2ConnectionWindow,
		}
	}
}
