package acme

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"testing"
)

type recordingPresenter struct {
	nopPresenter
	token, keyAuth, domain string
	cert                   tls.Certificate
}

func (r *recordingPresenter) PresentHTTP01(token, keyAuth string) error {
	r.token, r.keyAuth = token, keyAuth
	return nil
}

func (r *recordingPresenter) PresentTLSALPN01(domain string, cert tls.Certificate) error {
	r.domain, r.cert = domain, cert
	return nil
}

func TestHTTP01Provider(t *testing.T) {
	r := &recordingPresenter{}
	p := http01Provider{r}
	if err := p.Present("a.example.test", "tok-EN_123", "tok-EN_123.thumb"); err != nil {
		t.Fatal(err)
	}
	if r.token != "tok-EN_123" || r.keyAuth != "tok-EN_123.thumb" {
		t.Fatalf("presented %q %q", r.token, r.keyAuth)
	}
	for _, bad := range []string{"", "../x", "a/b", "a b", "a%2F", string(make([]byte, maxTokenLen+1))} {
		if err := p.Present("a.example.test", bad, "k"); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

// The TLS-ALPN-01 certificate names the domain and carries the critical
// acmeIdentifier extension with SHA-256(keyAuth) (RFC 8737), and survives
// the PEM round trip the master makes for the control channel.
func TestTLSALPN01ProviderCertificate(t *testing.T) {
	r := &recordingPresenter{}
	p := tlsALPN01Provider{r}
	if err := p.Present("a.example.test", "token", "token.thumb"); err != nil {
		t.Fatal(err)
	}
	if r.domain != "a.example.test" {
		t.Fatalf("domain %q", r.domain)
	}
	certPEM, keyPEM, err := ChallengeCertPEM(r.cert)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "a.example.test" {
		t.Fatalf("SANs %v", leaf.DNSNames)
	}
	want := sha256.Sum256([]byte("token.thumb"))
	found := false
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}) {
			var got []byte
			if _, err := asn1.Unmarshal(ext.Value, &got); err != nil || string(got) != string(want[:]) || !ext.Critical {
				t.Fatalf("acmeIdentifier extension wrong: %v", err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no acmeIdentifier extension")
	}
	if _, _, err := ChallengeCertPEM(tls.Certificate{}); err == nil {
		t.Fatal("empty certificate encoded")
	}
}
