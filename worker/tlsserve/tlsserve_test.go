package tlsserve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/fluxheim/fluxheim/shared/config"
	"github.com/fluxheim/fluxheim/shared/tlsmat"
)

// selfSigned makes a PEM certificate and key for names.
func selfSigned(t testing.TB, names ...string) tlsmat.Cert {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return tlsmat.Cert{
		Names:   names,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
		Source:  names[0],
	}
}

func tlsConfig() *config.TLS {
	c, err := config.Parse("/etc/t.toml", []byte("[tls]\nenabled = true\n"))
	if err != nil {
		panic(err)
	}
	return c.TLS
}

// servedName dials a real TLS listener with SNI sni and returns the
// CommonName of the certificate the server chose.
func servedName(t *testing.T, s *Server, sni string, protos ...string) (string, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: protos})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

func TestSNISelection(t *testing.T) {
	m := &tlsmat.Material{Certs: []tlsmat.Cert{
		selfSigned(t, "default.test"),
		selfSigned(t, "a.test"),
		selfSigned(t, "*.wild.test"),
	}}
	s, err := New(tlsConfig(), m)
	if err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]string{
		"a.test": "a.test", "A.TEST": "a.test", "x.wild.test": "*.wild.test",
		"x.y.wild.test": "default.test", "other.test": "default.test", "": "default.test",
	} {
		got, err := servedName(t, s, sni)
		if err != nil || got != want {
			t.Errorf("SNI %q → %q, %v; want %q", sni, got, err, want)
		}
	}
	// Replace the material: new handshakes see the new certificate.
	m2 := &tlsmat.Material{Certs: []tlsmat.Cert{selfSigned(t, "new-default.test")}}
	if err := s.Update(m2); err != nil {
		t.Fatal(err)
	}
	if got, _ := servedName(t, s, "a.test"); got != "new-default.test" {
		t.Errorf("after Update: %q", got)
	}
	// A broken pair leaves the old state.
	bad := &tlsmat.Material{Certs: []tlsmat.Cert{{CertPEM: []byte("x"), KeyPEM: []byte("y"), Source: "bad"}}}
	if err := s.Update(bad); err == nil {
		t.Fatal("bad material accepted")
	}
	if got, _ := servedName(t, s, "a.test"); got != "new-default.test" {
		t.Errorf("after failed Update: %q", got)
	}
}

func TestTLSALPNChallenge(t *testing.T) {
	s, err := New(tlsConfig(), &tlsmat.Material{Certs: []tlsmat.Cert{selfSigned(t, "default.test")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedName(t, s, "acme.test", ALPNProto); err == nil {
		t.Fatal("acme-tls/1 without a challenge must fail")
	}
	if err := s.SetChallenges(map[string]tlsmat.Cert{"acme.test": selfSigned(t, "challenge.acme.test")}); err != nil {
		t.Fatal(err)
	}
	if got, err := servedName(t, s, "acme.test", ALPNProto); err != nil || got != "challenge.acme.test" {
		t.Fatalf("challenge cert: %q %v", got, err)
	}
	if got, _ := servedName(t, s, "acme.test", "h2"); got != "default.test" {
		t.Fatalf("normal handshake got the challenge cert: %q", got)
	}
}

func TestPendingOnlyHasNoCertificate(t *testing.T) {
	s, err := New(tlsConfig(), &tlsmat.Material{Certs: []tlsmat.Cert{{Names: []string{"x.test"}, Pending: true, Source: "acme:x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedName(t, s, "x.test"); err == nil {
		t.Fatal("handshake succeeded without any certificate")
	}
}

func TestProfiles(t *testing.T) {
	c, _ := config.Parse("/etc/t.toml", []byte("[tls]\nenabled = true\nprofile = \"modern\"\nmin_protocol = \"tls1.3\"\nalpn = \"http1\"\n"))
	s, err := New(c.TLS, &tlsmat.Material{Certs: []tlsmat.Cert{selfSigned(t, "d.test")}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.state.Load().cfg
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "http/1.1" {
		t.Fatalf("modern/http1: min %x protos %v", cfg.MinVersion, cfg.NextProtos)
	}
	ln, _ := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("TLS 1.2 accepted by the modern profile")
	}
}

func TestALPNHTTP2Only(t *testing.T) {
	c, _ := config.Parse("/etc/t.toml", []byte("[tls]\nenabled = true\nalpn = \"http2\"\n"))
	s, err := New(c.TLS, &tlsmat.Material{Certs: []tlsmat.Cert{selfSigned(t, "d.test")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedName(t, s, "d.test", "http/1.1"); err == nil {
		t.Error("alpn = http2: a client offering only http/1.1 completed a handshake")
	}
	for _, protos := range [][]string{{"h2"}, {"http/1.1", "h2"}, nil} {
		if _, err := servedName(t, s, "d.test", protos...); err != nil {
			t.Errorf("alpn = http2: client offering %q: %v", protos, err)
		}
	}
}
