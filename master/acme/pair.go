package acme

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// maxPEMBytes bounds a stored chain or key file.
const maxPEMBytes = 1 << 20

// Pair is a certificate chain with its private key, as stored and as
// handed to the workers.
type Pair struct {
	CertPEM []byte            // leaf first, then intermediates
	KeyPEM  []byte            // the leaf's private key
	Leaf    *x509.Certificate // parsed first certificate of CertPEM
	Chain   []*x509.Certificate
}

// NotAfter is the leaf's expiry.
func (p *Pair) NotAfter() time.Time { return p.Leaf.NotAfter }

// Serial is the leaf's serial number in hex.
func (p *Pair) Serial() string { return serialHex(p.Leaf.SerialNumber) }

// fingerprint identifies the pair's content.
func (p *Pair) fingerprint() string {
	h := sha256.New()
	h.Write(p.CertPEM)
	h.Write(p.KeyPEM)
	return hex.EncodeToString(h.Sum(nil))
}

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }

// parsePair parses a PEM chain and key and checks that the key belongs to
// the leaf. It does not judge validity dates or names.
func parsePair(certPEM, keyPEM []byte) (*Pair, error) {
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	p := &Pair{CertPEM: certPEM, KeyPEM: keyPEM}
	for _, der := range kp.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("chain certificate %d: %w", len(p.Chain)+1, err)
		}
		p.Chain = append(p.Chain, c)
	}
	p.Leaf = p.Chain[0]
	return p, nil
}

// checkIssued is the gate before an install: each chain certificate is
// signed by the next one, the leaf is valid at now and its SAN set covers
// every domain.
func checkIssued(p *Pair, domains []string, now time.Time) error {
	for i := 0; i+1 < len(p.Chain); i++ {
		if err := p.Chain[i].CheckSignatureFrom(p.Chain[i+1]); err != nil {
			return fmt.Errorf("chain certificate %d is not signed by certificate %d: %w", i+1, i+2, err)
		}
	}
	if now.Before(p.Leaf.NotBefore) || !now.Before(p.Leaf.NotAfter) {
		return fmt.Errorf("certificate is valid from %s to %s, not now", p.Leaf.NotBefore, p.Leaf.NotAfter)
	}
	if missing := uncovered(p.Leaf, domains); len(missing) > 0 {
		return fmt.Errorf("certificate does not cover %s", strings.Join(missing, ", "))
	}
	return nil
}

// uncovered lists the domains leaf's SAN set does not cover (exact names,
// or one-label wildcards).
func uncovered(leaf *x509.Certificate, domains []string) []string {
	var missing []string
	for _, d := range domains {
		if leaf.VerifyHostname(d) != nil {
			missing = append(missing, d)
		}
	}
	return missing
}

// encodeKey PEM-encodes a private key as PKCS#8.
func encodeKey(key any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ChallengeCertPEM encodes a TLS-ALPN-01 challenge certificate (as passed
// to Presenter.PresentTLSALPN01) as PEM, for the control channel.
func ChallengeCertPEM(cert tls.Certificate) (certPEM, keyPEM []byte, err error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, nil, errors.New("acme: empty challenge certificate")
	}
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyPEM, err = encodeKey(cert.PrivateKey)
	return certPEM, keyPEM, err
}
