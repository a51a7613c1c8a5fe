// Package upstreamtls turns a proxy block's upstream TLS keys into a
// tls.Config for the transport (Fluxheim's rules): SNI from upstream_sni
// or the upstream's host name; verification of the chain against
// upstream_ca_path (or the system roots) and of the host name against the
// SNI name or upstream_alternative_cn; optional client certificate
// (origin mTLS); ALPN per upstream_http_version. Key material arrives as
// bytes in the config snapshot (the master read the files).
package upstreamtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/fluxheim/fluxheim/shared/config"
)

// Config returns nil for a cleartext upstream.
func Config(p *config.Proxy) (*tls.Config, error) {
	if p.UpstreamTLS == nil || !*p.UpstreamTLS {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(p.Target())
	if err != nil {
		return nil, err
	}
	sni := p.UpstreamSNI
	if sni == "" {
		if _, err := netip.ParseAddr(host); err != nil {
			sni = host
		}
	}
	cfg := &tls.Config{ServerName: sni, MinVersion: tls.VersionTLS12}
	switch p.UpstreamHTTPVersion {
	case "http2":
		cfg.NextProtos = []string{"h2"}
	case "http1-and-http2":
		cfg.NextProtos = []string{"h2", "http/1.1"}
	default:
		cfg.NextProtos = []string{"http/1.1"}
	}
	var roots *x509.CertPool
	if len(p.UpstreamCAPEM) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(p.UpstreamCAPEM) {
			return nil, errors.New("upstream_ca_path: no certificate in the bundle")
		}
		cfg.RootCAs = roots
	}
	if len(p.UpstreamClientCertPEM) > 0 {
		pair, err := tls.X509KeyPair(p.UpstreamClientCertPEM, p.UpstreamClientKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("upstream client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	verifyCert := p.UpstreamVerifyCert == nil || *p.UpstreamVerifyCert
	verifyHost := p.UpstreamVerifyHostname == nil || *p.UpstreamVerifyHostname
	switch {
	case !verifyCert:
		cfg.InsecureSkipVerify = true // validated: needs verify_hostname = false too
	case !verifyHost || p.UpstreamAlternativeCN != "":
		// Verify the chain ourselves, then the name (SNI or the
		// alternative CN) unless hostname verification is off.
		cfg.InsecureSkipVerify = true
		alt := p.UpstreamAlternativeCN
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verify(cs, roots, verifyHost, sni, alt)
		}
	}
	return cfg, nil
}

func verify(cs tls.ConnectionState, roots *x509.CertPool, checkHost bool, names ...string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("upstream sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return err
	}
	if !checkHost {
		return nil
	}
	var last error
	for _, n := range names {
		if n == "" {
			continue
		}
		if last = leaf.VerifyHostname(n); last == nil {
			return nil
		}
	}
	if last == nil {
		last = errors.New("no name to verify the upstream certificate against")
	}
	return last
}
