package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/httperr"
	"github.com/fluxheim/fluxheim/shared/netutil"
	"github.com/fluxheim/fluxheim/worker/accesslog"
	"github.com/fluxheim/fluxheim/worker/reqctx"
	"github.com/fluxheim/fluxheim/worker/router"
)

// Handler is the request pipeline for one config snapshot (DESIGN.md §6):
// limits → client address → vhost → route → method → body limit →
// action → response header policy → access log. It is immutable; a
// reload builds a new Handler.
type Handler struct {
	table    *router.Table
	trusted  *netutil.TrustedSet
	maxURI   int
	maxHdrs  int
	log      *slog.Logger
	access   *accesslog.Logger // nil = access log off
	accessOn accessFields
	ids      *requestIDs // nil = request ids off
	idHeader string
	global   respPolicy // response policy when no vhost matched
	closers  []func()
	// draining is the Server's flag: while set, responses carry
	// Connection: close.
	draining *atomic.Bool
	// challenges are the ACME HTTP-01 answers (nil = none).
	challenges *Challenges
	https      *httpsRedirect
}

type accessFields struct {
	host, path, clientIP, cachePhase, route, upstream bool
}

var closeValue = []string{"close"}

var writerPool = sync.Pool{New: func() any { return new(respWriter) }}

var entryPool = sync.Pool{New: func() any { return new(accesslog.Entry) }}

// ServeHTTP runs the pipeline.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := writerPool.Get().(*respWriter)
	w.reset(rw, r)
	w.policy = h.global
	if h.draining != nil && h.draining.Load() {
		rw.Header()["Connection"] = closeValue
	}
	info := &w.info
	info.Start = time.Now()
	defer h.finish(w, r)

	if ap, ok := netutil.ParsePeer(r.RemoteAddr); ok {
		info.PeerAddr = ap
		info.ClientIP, info.PeerTrusted = netutil.ClientIP(ap.Addr(), r.Header["X-Forwarded-For"], h.trusted)
	}
	info.Scheme = "http"
	if r.TLS != nil {
		info.Scheme = "https"
	}
	// The header limits look at the request as the client sent it:
	// measure it before the request id header is added.
	nHdrs, hdrBytes := headerCount(r)
	if h.ids != nil {
		// The id goes back to the client and, replacing whatever the
		// client sent, upstream.
		info.RequestID = h.ids.next()
		r.Header[h.idHeader] = []string{info.RequestID}
		w.idHeader = h.idHeader
	}

	if len(r.RequestURI) > h.maxURI {
		h.fail(w, r, &httperr.Error{Status: http.StatusRequestURITooLong, Source: httperr.SourceClient, Close: true})
		return
	}
	if nHdrs > h.maxHdrs || hdrBytes > maxHeaderBytes(r) {
		h.fail(w, r, &httperr.Error{Status: http.StatusRequestHeaderFieldsTooLarge, Source: httperr.SourceClient, Close: true})
		return
	}
	if r.ProtoMajor == 2 && h2ConnectionSpecific(r.Header) {
		// RFC 9113 §8.2.2: such a request is malformed; it never reaches
		// an upstream.
		h.fail(w, r, httperr.Client(http.StatusBadRequest, errH2ConnectionHeader))
		return
	}
	if h.serveACMEChallenge(w, r) {
		return
	}
	v, host, st := h.table.Vhost(r.Host)
	info.Host = host
	if st != router.Found {
		h.fail(w, r, &httperr.Error{Status: st, Source: httperr.SourceClient})
		return
	}
	info.Vhost = v.Name
	if p, ok := v.Policy.(respPolicy); ok {
		w.policy = p
	}
	path, ok := router.CleanPath(r.URL.Path)
	if !ok {
		h.fail(w, r, &httperr.Error{Status: http.StatusBadRequest, Source: httperr.SourceClient, Close: true})
		return
	}
	escaped := r.URL.EscapedPath()
	if path != r.URL.Path {
		escaped = router.EscapePath(path)
	}
	var tgt router.Target
	route := v.Match(path, escaped, &tgt)
	if route == nil {
		if h.redirectHTTPS(w, r, nil) {
			return
		}
		h.fail(w, r, httperr.Client(http.StatusNotFound, nil))
		return
	}
	info.Route = route.Name
	if p, ok := route.Policy.(respPolicy); ok {
		w.policy = p
	}
	if h.redirectHTTPS(w, r, route) {
		return
	}
	if !route.AllowsMethod(r.Method) {
		e := httperr.Client(http.StatusMethodNotAllowed, nil)
		e.Header = http.Header{"Allow": {route.Allow}}
		h.fail(w, r, e)
		return
	}
	if tgt.Captures != nil {
		info.Captures, info.CaptureNames = captureStrings(tgt), route.CaptureNames()
	}
	var guard *bodyGuard
	if r.ContentLength > route.MaxBody {
		h.fail(w, r, &httperr.Error{Status: http.StatusRequestEntityTooLarge, Source: httperr.SourceClient, Close: true})
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		guard = &bodyGuard{rc: r.Body, limit: route.MaxBody, idle: route.BodyIdle}
		if guard.idle > 0 {
			guard.rc2 = http.NewResponseController(rw)
		}
		r.Body = guard
	}
	r = r.WithContext(reqctx.With(r.Context(), info))
	w.req = r
	err := route.Action.Serve(w, r, &tgt)
	if err != nil && guard != nil && !w.wroteHeader {
		switch {
		case guard.tooLarge:
			err = &httperr.Error{Status: http.StatusRequestEntityTooLarge, Source: httperr.SourceClient, Close: true}
		case guard.timedOut:
			err = &httperr.Error{Status: http.StatusRequestTimeout, Source: httperr.SourceClient, Close: true}
		case guard.broken && !clientGone(err):
			// The client's body was malformed (bad chunk framing) or cut
			// off: the client's fault, not the upstream's (nginx: 400).
			err = &httperr.Error{Status: http.StatusBadRequest, Source: httperr.SourceClient, Err: err, Close: true}
		}
	}
	if err != nil {
		h.fail(w, r, err)
	}
}

// fail turns a handler error into the response (the one place error
// responses are produced) and logs upstream and internal failures.
func (h *Handler) fail(w *respWriter, r *http.Request, err error) {
	if errors.Is(err, httperr.ErrAbort) || w.wroteHeader {
		if !errors.Is(err, httperr.ErrAbort) {
			h.log.Warn("response failed after headers were sent", "err", err, "path", r.URL.Path, "request_id", w.info.RequestID)
		}
		w.status = statusOr(w.status, http.StatusBadGateway)
		panic(http.ErrAbortHandler)
	}
	var he *httperr.Error
	if !errors.As(err, &he) {
		he = httperr.New(http.StatusInternalServerError, httperr.SourceInternal, err)
	}
	if he.Source != httperr.SourceClient || he.Status >= 500 {
		h.log.Warn("request failed", "status", he.Status, "source", he.Source.String(), "err", he.Err, "vhost", w.info.Vhost, "path", r.URL.Path, "request_id", w.info.RequestID)
	}
	if he.Status == 499 { // client gone: nothing to write
		w.status = 499
		return
	}
	if he.Close {
		w.Header().Set("Connection", "close")
	}
	httperr.Write(w, r, he.Status, he.Header)
}

// clientGone reports whether err says the client went away (499).
func clientGone(err error) bool {
	var he *httperr.Error
	return errors.As(err, &he) && he.Status == 499
}

func statusOr(s, def int) int {
	if s == 0 {
		return def
	}
	return s
}

// finish writes the access log line and returns the writer to the pool.
// It runs even when the handler aborts the connection.
func (h *Handler) finish(w *respWriter, r *http.Request) {
	if h.access != nil {
		h.logAccess(w, r)
	}
	*w = respWriter{}
	writerPool.Put(w)
}

func (h *Handler) logAccess(w *respWriter, r *http.Request) {
	info := &w.info
	e := entryPool.Get().(*accesslog.Entry)
	e.Begin()
	e.Time("ts", info.Start)
	if info.RequestID != "" {
		e.Str("request_id", info.RequestID)
	}
	e.Str("client_ip", h.field(h.accessOn.clientIP, addrString(info.ClientIP)))
	e.Str("method", r.Method)
	e.Str("host", h.field(h.accessOn.host, info.Host))
	e.Str("path", h.field(h.accessOn.path, r.URL.Path))
	e.Str("protocol", r.Proto)
	e.Int("status", int64(statusOr(w.status, http.StatusOK)))
	e.Int("bytes", w.bytes)
	e.Float("duration_ms", float64(time.Since(info.Start).Microseconds())/1000)
	e.Str("vhost", info.Vhost)
	e.Str("route", h.field(h.accessOn.route, info.Route))
	e.Str("upstream", h.field(h.accessOn.upstream, info.Upstream))
	if info.UpstreamStatus != 0 {
		e.Int("upstream_status", int64(info.UpstreamStatus))
	}
	e.Str("cache_phase", h.field(h.accessOn.cachePhase, "disabled"))
	e.Str("user_agent", r.Header.Get("User-Agent"))
	e.Str("referer", r.Header.Get("Referer"))
	if r.TLS != nil {
		e.Str("tls_version", tlsVersionName(r.TLS.Version))
	}
	h.access.Write(e.End())
	entryPool.Put(e)
}

func (h *Handler) field(on bool, v string) string {
	if on {
		return v
	}
	return ""
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// headerCount counts the header field lines the client sent, Host
// included (net/http moves it out of r.Header), each Cookie crumb of an
// HTTP/2 request counting as one (as in Fluxheim: net/http joins them into
// one value). size is the HTTP/1 size of the request line and header
// section as parsed (names, values without surrounding whitespace, CRLFs):
// never more than what was received.
func headerCount(r *http.Request) (n, size int) {
	h2 := r.ProtoMajor == 2
	size = len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + 2
	if r.Host != "" {
		n++
		size += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		n += len(vs)
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
		if h2 && k == "Cookie" && len(vs) == 1 {
			n += strings.Count(vs[0], "; ")
		}
	}
	return n, size
}

// maxHeaderBytes is max_request_header_bytes, the MaxHeaderBytes the
// http.Server serving r was given. net/http enforces it only roughly (it
// allows 4 KiB of read-ahead on top), so the pipeline checks the parsed
// size against it exactly. No limit when r was not served by an
// http.Server (tests calling ServeHTTP directly).
func maxHeaderBytes(r *http.Request) int {
	if s, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return int(^uint(0) >> 1)
}

func captureStrings(t router.Target) []string {
	out := make([]string, len(t.Captures)/2)
	for i := range out {
		if a, b := t.Captures[2*i], t.Captures[2*i+1]; a >= 0 {
			out[i] = t.MatchedPath[a:b]
		}
	}
	return out
}

// Close releases upstream pools and file caches of the snapshot.
func (h *Handler) Close() {
	for _, c := range h.closers {
		c()
	}
}

var _ = config.DefaultListen

var errH2ConnectionHeader = errors.New("HTTP/2 request with a connection-specific header field")

// h2ConnectionSpecific reports connection-specific fields an HTTP/2
// request must not carry (RFC 9113 §8.2.2): Connection, Keep-Alive,
// Proxy-Connection, Transfer-Encoding, Upgrade, and TE other than
// "trailers".
func h2ConnectionSpecific(hd http.Header) bool {
	for _, k := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
		if _, ok := hd[k]; ok {
			return true
		}
	}
	if te, ok := hd["Te"]; ok {
		return len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "trailers")
	}
	return false
}
