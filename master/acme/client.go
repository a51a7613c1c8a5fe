package acme

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"
)

const (
	defaultHTTPTimeout = 2 * time.Minute
	userAgent          = "fluxheim"
	// orderTimeout bounds the wait for an order to become valid after
	// finalisation.
	orderTimeout = 60 * time.Second
)

// ctxTransport ties every request of a pass to the pass's context, so that
// cancelling it aborts lego's in-flight requests (lego takes no context).
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// client is a lego client bound to one issuer's account, for one pass.
type client struct {
	lego *lego.Client
	acct *account
}

// newClient fetches the issuer's directory and makes sure the account
// exists: a stored registration is reused, otherwise one is registered —
// only if the terms of service were agreed to.
func (m *Manager) newClient(ctx context.Context, is *Issuer) (*client, error) {
	acct, err := loadAccount(m.o.Storage, is, m.o.ContactEmail)
	if err != nil {
		return nil, err
	}
	// Not lego.NewConfig: it reads LEGO_CA_CERTIFICATES and panics on a bad
	// value; the CA bundle comes from the issuer's ca_bundle_file only.
	lc, err := lego.NewClient(&lego.Config{
		CADirURL:    is.DirectoryURL,
		User:        acct,
		UserAgent:   userAgent,
		HTTPClient:  &http.Client{Timeout: m.o.HTTPTimeout, Transport: ctxTransport{ctx, m.transports[is.Name]}},
		Certificate: lego.CertificateConfig{KeyType: certcrypto.EC256, Timeout: orderTimeout},
	})
	if err != nil {
		return nil, fmt.Errorf("issuer %q: directory %s: %w", is.Name, is.DirectoryURL, err)
	}
	c := &client{lego: lc, acct: acct}
	if acct.reg == nil {
		if err := m.register(c, is); err != nil {
			return nil, err
		}
	}
	if m.o.Challenge == ChallengeTLSALPN01 {
		err = lc.Challenge.SetTLSALPN01Provider(tlsALPN01Provider{m.o.Presenter})
	} else {
		err = lc.Challenge.SetHTTP01Provider(http01Provider{m.o.Presenter})
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// register creates the issuer account (terms checked first, EAB when
// configured or required) and stores its credentials.
func (m *Manager) register(c *client, is *Issuer) error {
	tos := c.lego.GetToSURL()
	if err := checkTerms(is, tos); err != nil {
		return err
	}
	var (
		reg *registration.Resource
		err error
	)
	switch {
	case is.EAB != nil:
		reg, err = c.lego.Registration.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
			TermsOfServiceAgreed: true, Kid: is.EAB.KeyID, HmacEncoded: is.EAB.HMACKey})
	case c.lego.GetExternalAccountRequired():
		return fmt.Errorf("issuer %q requires external account binding (eab) but none is configured", is.Name)
	default:
		reg, err = c.lego.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	}
	if err != nil {
		return fmt.Errorf("issuer %q: registering account: %w", is.Name, err)
	}
	c.acct.reg = reg
	m.log.Info("acme account registered", "issuer", is.Name, "account", reg.URI)
	return saveCredentials(m.o.Storage, is, c.acct, tos, m.now())
}
