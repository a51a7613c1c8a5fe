// Package tlsserve builds a worker's downstream TLS configuration from
// [tls] and the material the master sent: SNI certificate selection (exact
// host, then one-label wildcard, then the default certificate), profiles,
// ALPN, client authentication, shared session-ticket keys and ACME
// TLS-ALPN-01 challenge certificates. Material can be replaced at run time
// (certificate reload, renewal, ticket-key rotation): new handshakes see
// the new state, open connections are untouched.
package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// ALPNProto is the ACME TLS-ALPN-01 protocol (RFC 8737).
const ALPNProto = "acme-tls/1"

// Server holds the current TLS state; its Config() is handed to
// http.Server once, and every handshake asks for the current state.
type Server struct {
	base *tls.Config // settings from [tls], without certificates
	// h2Only (alpn = "http2"): a client whose ALPN list lacks h2 is
	// refused; Go's server would otherwise ignore ALPN when the client
	// offers http/1.1 and serve it HTTP/1.1. Clients without ALPN are
	// served (HTTP/1.1, as with every TLS stack).
	h2Only bool
	state  atomic.Pointer[state]
	chall  atomic.Pointer[map[string]*tls.Certificate]
}

type state struct {
	cfg      *tls.Config // per-handshake config (certificates, tickets)
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // key: the part after "*."
	def      *tls.Certificate
}

// Intermediate profile: TLS 1.2 ECDHE AEAD suites (TLS 1.3 suites are
// always on in Go).
var intermediateSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// New builds the TLS server for a validated [tls] block and material.
func New(c *config.TLS, m *tlsmat.Material) (*Server, error) {
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Profile == "modern" || c.MinProtocol == "tls1.3" || c.MinProtocol == "VersionTLS13" {
		base.MinVersion = tls.VersionTLS13
	}
	base.CipherSuites = intermediateSuites
	if len(c.CipherSuites) > 0 {
		base.CipherSuites = nil
		for _, n := range c.CipherSuites {
			if id, tls13, ok := config.CipherSuiteID(n); ok && !tls13 {
				base.CipherSuites = append(base.CipherSuites, id)
			}
		}
	}
	if c.FIPSRequired() {
		base.CipherSuites = withoutChaCha(base.CipherSuites)
	}
	for _, n := range c.CurvePreferences {
		if id, ok := config.CurveID(n); ok {
			base.CurvePreferences = append(base.CurvePreferences, id)
		}
	}
	switch c.ALPN {
	case "http1":
		base.NextProtos = []string{"http/1.1"}
	case "http2":
		base.NextProtos = []string{"h2"}
	default:
		base.NextProtos = []string{"h2", "http/1.1"}
	}
	switch c.ClientAuth.Mode {
	case "optional":
		base.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		base.ClientAuth = tls.RequireAndVerifyClientCert
	}
	s := &Server{base: base, h2Only: c.ALPN == "http2"}
	empty := map[string]*tls.Certificate{}
	s.chall.Store(&empty)
	if err := s.Update(m); err != nil {
		return nil, err
	}
	return s, nil
}

func withoutChaCha(ids []uint16) []uint16 {
	var out []uint16
	for _, id := range ids {
		if id != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 && id != tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 {
			out = append(out, id)
		}
	}
	return out
}

// Update installs new material. On error the old state stays.
func (s *Server) Update(m *tlsmat.Material) error {
	st := &state{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	// A vhost's own certificate wins for its hosts over a global pair
	// whose names overlap (as nginx's server block does): vhost and ACME
	// certificates claim their names first.
	type parsed struct {
		crt   *tls.Certificate
		names []string
	}
	var vhostFirst, global []parsed
	for i, c := range m.Certs {
		if c.Pending {
			continue
		}
		crt, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return fmt.Errorf("certificate %s: %w", c.Source, err)
		}
		if i == 0 || st.def == nil {
			st.def = &crt
		}
		if strings.HasPrefix(c.Source, "vhosts[") || strings.HasPrefix(c.Source, "acme:") {
			vhostFirst = append(vhostFirst, parsed{&crt, c.Names})
		} else {
			global = append(global, parsed{&crt, c.Names})
		}
	}
	for _, p := range append(vhostFirst, global...) {
		crt := *p.crt
		for _, n := range p.names {
			n = strings.ToLower(n)
			if w, ok := strings.CutPrefix(n, "*."); ok {
				if st.wildcard[w] == nil {
					st.wildcard[w] = &crt
				}
			} else if st.exact[n] == nil {
				st.exact[n] = &crt
			}
		}
	}
	cfg := s.base.Clone()
	if len(m.ClientCAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(m.ClientCAPEM) {
			return errors.New("tls.client_auth.ca_path: no certificate in the bundle")
		}
		cfg.ClientCAs = pool
	}
	if len(m.TicketKeys) > 0 {
		cfg.SetSessionTicketKeys(m.TicketKeys)
	}
	cfg.GetCertificate = st.certificate
	st.cfg = cfg
	s.state.Store(st)
	return nil
}

// SetChallenges replaces the TLS-ALPN-01 challenge certificates.
func (s *Server) SetChallenges(certs map[string]tlsmat.Cert) error {
	m := make(map[string]*tls.Certificate, len(certs))
	for domain, c := range certs {
		crt, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return fmt.Errorf("acme-tls/1 certificate for %s: %w", domain, err)
		}
		m[strings.ToLower(domain)] = &crt
	}
	s.chall.Store(&m)
	return nil
}

// Config returns the tls.Config to give http.Server: every handshake gets
// the current state through GetConfigForClient.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion:         s.base.MinVersion,
		NextProtos:         s.base.NextProtos,
		GetConfigForClient: s.configForClient,
	}
}

func (s *Server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	h2 := false
	for _, p := range hello.SupportedProtos {
		if p == ALPNProto {
			return s.challengeConfig(hello)
		}
		h2 = h2 || p == "h2"
	}
	if s.h2Only && len(hello.SupportedProtos) > 0 && !h2 {
		return nil, fmt.Errorf("client offers ALPN %q without h2 (tls.alpn = \"http2\")", hello.SupportedProtos)
	}
	return s.state.Load().cfg, nil
}

// challengeConfig answers a TLS-ALPN-01 validation: only acme-tls/1, only
// the challenge certificate for that name.
func (s *Server) challengeConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	crt := (*s.chall.Load())[strings.ToLower(hello.ServerName)]
	if crt == nil {
		return nil, fmt.Errorf("no acme-tls/1 challenge for %q", hello.ServerName)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{ALPNProto}, Certificates: []tls.Certificate{*crt}}, nil
}

// certificate selects by SNI: exact, one-label wildcard, default.
func (st *state) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c := st.exact[name]; c != nil {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := st.wildcard[name[i+1:]]; c != nil {
			return c, nil
		}
	}
	if st.def == nil {
		return nil, errors.New("no certificate available (ACME issuance pending and no fallback)")
	}
	return st.def, nil
}
