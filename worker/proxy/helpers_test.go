package proxy

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/worker/reqctx"
)

// upstream is a test origin that counts requests and connections.
type upstream struct {
	*httptest.Server
	hits  atomic.Int64
	conns atomic.Int64
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) addr() string { return u.Listener.Addr().String() }

// frontEnd is the pipeline stand-in: it builds reqctx.Info the way the
// worker does (peer, trusted-proxy restoration), calls Serve and renders
// returned errors with httperr.Write (499 is only recorded).
type frontEnd struct {
	*httptest.Server
	mu       sync.Mutex
	lastErr  error
	lastInfo *reqctx.Info
	panicked atomic.Bool
}

func newFront(t testing.TB, h *Handler, trusted *netutil.TrustedSet) *frontEnd {
	t.Helper()
	f := &frontEnd{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, _ := netutil.ParsePeer(r.RemoteAddr)
		client, tr := netutil.ClientIP(ap.Addr(), r.Header["X-Forwarded-For"], trusted)
		info := &reqctx.Info{Start: time.Now(), PeerAddr: ap, ClientIP: client, PeerTrusted: tr, Scheme: "http", Host: r.Host}
		r = r.WithContext(reqctx.With(r.Context(), info))
		defer func() {
			if v := recover(); v != nil {
				f.panicked.Store(true)
				f.record(nil, info)
				panic(v)
			}
		}()
		err := h.Serve(w, r, r.RequestURI)
		f.record(err, info)
		if err != nil {
			var he *httperr.Error
			if !errors.As(err, &he) {
				httperr.Write(w, r, http.StatusInternalServerError, nil)
				return
			}
			if he.Status == 499 {
				return
			}
			httperr.Write(w, r, he.Status, he.Header)
		}
	}))
	f.Config.ErrorLog = quietLog()
	t.Cleanup(f.Close)
	t.Cleanup(h.Close)
	return f
}

func (f *frontEnd) record(err error, info *reqctx.Info) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastErr, f.lastInfo = err, info
}

func (f *frontEnd) last() (error, *reqctx.Info) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr, f.lastInfo
}

func mustNew(t testing.TB, o Options) *Handler {
	t.Helper()
	if o.ErrorLog == nil {
		o.ErrorLog = quietLog()
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func trustedSet(t testing.TB, entries ...string) *netutil.TrustedSet {
	t.Helper()
	s, err := netutil.ParseTrustedProxies(entries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
