package upstreamtls

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluxheim/fluxheim/shared/config"
)

func ptr[T any](v T) *T { return &v }

// dial runs one HTTPS GET to srv with the built config.
func dial(t *testing.T, srv *httptest.Server, p *config.Proxy) error {
	t.Helper()
	cfg, err := Config(p)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get("https://" + strings.TrimPrefix(srv.URL, "https://") + "/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func caPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func proxyFor(srv *httptest.Server) *config.Proxy {
	return &config.Proxy{
		Upstream:               strings.TrimPrefix(srv.URL, "https://"),
		UpstreamTLS:            ptr(true),
		UpstreamVerifyCert:     ptr(true),
		UpstreamVerifyHostname: ptr(true),
		UpstreamHTTPVersion:    "http1",
		UpstreamCAPEM:          caPEM(srv),
	}
}

func TestVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	// httptest's certificate names example.com and 127.0.0.1.
	p := proxyFor(srv)
	p.UpstreamSNI = "example.com"
	if err := dial(t, srv, p); err != nil {
		t.Fatalf("valid chain and name: %v", err)
	}
	p.UpstreamSNI = "other.test"
	if err := dial(t, srv, p); err == nil {
		t.Fatal("wrong name accepted")
	}
	p.UpstreamAlternativeCN = "example.com"
	if err := dial(t, srv, p); err != nil {
		t.Fatalf("alternative CN: %v", err)
	}
	p = proxyFor(srv)
	p.UpstreamSNI = "example.com"
	p.UpstreamCAPEM = nil // system roots do not know httptest's CA
	if err := dial(t, srv, p); err == nil {
		t.Fatal("unknown CA accepted")
	}
	p.UpstreamVerifyCert, p.UpstreamVerifyHostname = ptr(false), ptr(false)
	if err := dial(t, srv, p); err != nil {
		t.Fatalf("verification off: %v", err)
	}
	p = proxyFor(srv)
	p.UpstreamSNI = "other.test"
	p.UpstreamVerifyHostname = ptr(false)
	if err := dial(t, srv, p); err != nil {
		t.Fatalf("hostname check off, chain on: %v", err)
	}
}

func TestClientCertificate(t *testing.T) {
	var sawCert bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		sawCert = len(r.TLS.PeerCertificates) > 0
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	p := proxyFor(srv)
	p.UpstreamSNI = "example.com"
	if err := dial(t, srv, p); err == nil {
		t.Fatal("server requiring a client certificate accepted none")
	}
	// Reuse httptest's own pair as the client certificate.
	cert := srv.TLS.Certificates[0]
	p.UpstreamClientCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	p.UpstreamClientKeyPEM = localhostKeyPEM(t, cert)
	if err := dial(t, srv, p); err != nil || !sawCert {
		t.Fatalf("mTLS: %v (cert seen %v)", err, sawCert)
	}
}

func TestCleartext(t *testing.T) {
	cfg, err := Config(&config.Proxy{Upstream: "a:1", UpstreamTLS: ptr(false)})
	if err != nil || cfg != nil {
		t.Fatalf("cleartext: %v %v", cfg, err)
	}
}
