package server

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
	"github.com/fluxheim/fluxheim/worker/router"
)

// ACMEChallengePrefix is where HTTP-01 answers are served.
const ACMEChallengePrefix = "/.well-known/acme-challenge/"

// Challenges holds the HTTP-01 answers the master pushed; it outlives
// handler swaps. The zero value serves nothing.
type Challenges struct {
	http01 atomic.Pointer[map[string]string]
}

// Set replaces the answers.
func (c *Challenges) Set(ch *tlsmat.Challenges) {
	m := map[string]string{}
	if ch != nil {
		for k, v := range ch.HTTP01 {
			m[k] = v
		}
	}
	c.http01.Store(&m)
}

func (c *Challenges) lookup(token string) (string, bool) {
	m := c.http01.Load()
	if m == nil {
		return "", false
	}
	v, ok := (*m)[token]
	return v, ok
}

// serveACMEChallenge answers /.well-known/acme-challenge/<token> for a
// token the master published; other paths (and unknown tokens) go on to
// the routes. It runs before redirects and routes.
func (h *Handler) serveACMEChallenge(w http.ResponseWriter, r *http.Request) bool {
	if h.challenges == nil || !strings.HasPrefix(r.URL.Path, ACMEChallengePrefix) {
		return false
	}
	token := r.URL.Path[len(ACMEChallengePrefix):]
	if token == "" || strings.ContainsAny(token, "/.") {
		return false
	}
	keyAuth, ok := h.challenges.lookup(token)
	if !ok {
		return false
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain")
	hd.Set("Content-Length", strconv.Itoa(len(keyAuth)))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(keyAuth))
	}
	return true
}

// httpsRedirect is the compiled [server.https_redirect].
type httpsRedirect struct {
	status int
	port   string // ":8443" or ""
}

func newHTTPSRedirect(c *config.HTTPSRedirect) *httpsRedirect {
	if c == nil || !c.Enabled {
		return nil
	}
	r := &httpsRedirect{status: c.Status}
	if c.TargetPort != 0 && c.TargetPort != 443 {
		r.port = ":" + strconv.Itoa(c.TargetPort)
	}
	return r
}

// redirectHTTPS sends a cleartext request to https unless its route is
// exempt or it asks for an ACME HTTP-01 path (tokens the master did not
// publish go on to the routes, e.g. a webroot an external ACME client
// writes to: validation must not be sent elsewhere). It needs a safe
// host: a request without one gets 400.
func (h *Handler) redirectHTTPS(w *respWriter, r *http.Request, route *router.Route) bool {
	if h.https == nil || r.TLS != nil || (route != nil && route.HTTPSRedirectExempt) || isACMEChallengePath(r.URL.Path) {
		return false
	}
	host := w.info.Host
	if host == "" {
		h.fail(w, r, &httpErrBadHost)
		return true
	}
	loc := "https://" + host + h.https.port + r.URL.RequestURI()
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(h.https.status)
	return true
}

// isACMEChallengePath: the path, dot segments resolved as the routes see
// it, is below /.well-known/acme-challenge/ (so "/.well-known/acme-challenge/../x"
// is not exempt from the redirect).
func isACMEChallengePath(p string) bool {
	if !strings.HasPrefix(p, ACMEChallengePrefix) {
		return false
	}
	c, ok := router.CleanPath(p)
	return ok && strings.HasPrefix(c, ACMEChallengePrefix)
}
