package acme

import (
	"fmt"

	"github.com/go-acme/lego/v4/challenge/tlsalpn01"
)

// maxTokenLen bounds an HTTP-01 token (RFC 8555 tokens are 43 characters).
const maxTokenLen = 256

// http01Provider adapts a Presenter to lego's challenge.Provider for
// HTTP-01.
type http01Provider struct{ p Presenter }

// Present publishes the key authorization for token.
func (h http01Provider) Present(domain, token, keyAuth string) error {
	if err := checkToken(token); err != nil {
		return err
	}
	return h.p.PresentHTTP01(token, keyAuth)
}

// CleanUp withdraws token.
func (h http01Provider) CleanUp(domain, token, keyAuth string) error {
	return h.p.CleanupHTTP01(token)
}

// tlsALPN01Provider adapts a Presenter to lego's challenge.Provider for
// TLS-ALPN-01, with the challenge certificate lego builds (RFC 8737
// acmeIdentifier extension).
type tlsALPN01Provider struct{ p Presenter }

// Present builds domain's challenge certificate and publishes it.
func (t tlsALPN01Provider) Present(domain, token, keyAuth string) error {
	cert, err := tlsalpn01.ChallengeCert(domain, keyAuth)
	if err != nil {
		return fmt.Errorf("building the tls-alpn-01 certificate for %s: %w", domain, err)
	}
	return t.p.PresentTLSALPN01(domain, *cert)
}

// CleanUp withdraws domain's challenge certificate.
func (t tlsALPN01Provider) CleanUp(domain, token, keyAuth string) error {
	return t.p.CleanupTLSALPN01(domain)
}

// checkToken accepts only what workers can serve as one URL path segment:
// base64url characters, bounded length.
func checkToken(token string) error {
	if token == "" || len(token) > maxTokenLen {
		return fmt.Errorf("acme: http-01 token of bad length %d", len(token))
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return fmt.Errorf("acme: http-01 token has a character outside base64url: %q", c)
		}
	}
	return nil
}
