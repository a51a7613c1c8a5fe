package acme

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPresenter stands in for the workers: it serves HTTP-01 answers on
// 127.0.0.1:httpPort and TLS-ALPN-01 certificates on 127.0.0.1:tlsPort,
// where Pebble validates.
type testPresenter struct {
	mu     sync.Mutex
	http01 map[string]string
	alpn   map[string]*tls.Certificate
	// silent makes Present succeed without publishing anything, so the
	// CA's validation fails.
	silent    atomic.Bool
	presented atomic.Int32
	cleaned   atomic.Int32
}

func newTestPresenter(t *testing.T, httpPort, tlsPort int) *testPresenter {
	t.Helper()
	p := &testPresenter{http01: map[string]string{}, alpn: map[string]*tls.Certificate{}}
	hl, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(p.serveHTTP01), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(hl)
	t.Cleanup(func() { srv.Close() })

	tl, err := tls.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)), &tls.Config{
		NextProtos:     []string{"acme-tls/1"},
		GetCertificate: p.getCertificate,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return p
}

func (p *testPresenter) serveHTTP01(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
	p.mu.Lock()
	keyAuth, found := p.http01[token]
	p.mu.Unlock()
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(keyAuth))
}

// getCertificate hands out a challenge certificate only to clients that
// offer acme-tls/1, as the workers must.
func (p *testPresenter) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !slices.Contains(hello.SupportedProtos, "acme-tls/1") {
		return nil, errors.New("not an acme-tls/1 client")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.alpn[hello.ServerName]; c != nil {
		return c, nil
	}
	return nil, errors.New("no challenge for " + hello.ServerName)
}

func (p *testPresenter) PresentHTTP01(token, keyAuth string) error {
	p.presented.Add(1)
	if p.silent.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.http01[token] = keyAuth
	return nil
}

func (p *testPresenter) CleanupHTTP01(token string) error {
	p.cleaned.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.http01, token)
	return nil
}

func (p *testPresenter) PresentTLSALPN01(domain string, cert tls.Certificate) error {
	p.presented.Add(1)
	if p.silent.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alpn[domain] = &cert
	return nil
}

func (p *testPresenter) CleanupTLSALPN01(domain string) error {
	p.cleaned.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.alpn, domain)
	return nil
}

// pending counts answers still published (all must be cleaned up).
func (p *testPresenter) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.http01) + len(p.alpn)
}
