package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/registration"
)

// ErrTermsNotAgreed is returned (wrapped) when an account would have to be
// registered with an issuer whose terms of service were not agreed to.
var ErrTermsNotAgreed = errors.New("terms of service not agreed")

// account is the lego registration.User of one issuer.
type account struct {
	email string
	key   crypto.PrivateKey
	reg   *registration.Resource
}

func (a *account) GetEmail() string                        { return a.email }
func (a *account) GetRegistration() *registration.Resource { return a.reg }
func (a *account) GetPrivateKey() crypto.PrivateKey        { return a.key }

// credentials is credentials.json: what the account is and what was
// agreed to, for reuse and for `fluxheim acme status`.
type credentials struct {
	Issuer            string                 `json:"issuer"`
	DirectoryURL      string                 `json:"directory_url"`
	Email             string                 `json:"email,omitempty"`
	AccountURL        string                 `json:"account_url"`
	TermsOfServiceURL string                 `json:"terms_of_service_url,omitempty"`
	EABKeyID          string                 `json:"eab_key_id,omitempty"`
	CreatedAt         time.Time              `json:"created_at"`
	Registration      *registration.Resource `json:"registration"`
}

// loadAccount reads (or creates) the issuer's account key and its stored
// registration, if it was made against the same directory URL.
func loadAccount(storage string, is *Issuer, email string) (*account, error) {
	dir := AccountDir(storage, is.Name)
	if err := ensureDir(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(filepath.Join(dir, accountKeyFile))
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	a := &account{email: email, key: key}
	data, err := readSmallFile(filepath.Join(dir, credentialsFile), 1<<20)
	switch {
	case err == nil:
		var c credentials
		if json.Unmarshal(data, &c) == nil && c.DirectoryURL == is.DirectoryURL && c.Registration != nil {
			a.reg = c.Registration
		}
	case !isNotExist(err):
		return nil, err
	}
	return a, nil
}

// loadOrCreateKey reads a PKCS#8 ECDSA key, or makes a P-256 one (0600).
func loadOrCreateKey(path string) (crypto.PrivateKey, error) {
	data, err := readSmallFile(path, 64<<10)
	if err == nil {
		b, _ := pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no PEM block", path)
		}
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if !isNotExist(err) {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pemKey, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	return k, writeFileAtomic(path, pemKey)
}

// saveCredentials writes credentials.json after a registration.
func saveCredentials(storage string, is *Issuer, a *account, tos string, now time.Time) error {
	c := credentials{Issuer: is.Name, DirectoryURL: is.DirectoryURL, Email: a.email, AccountURL: a.reg.URI,
		TermsOfServiceURL: tos, CreatedAt: now.UTC(), Registration: a.reg}
	if is.EAB != nil {
		c.EABKeyID = is.EAB.KeyID
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(AccountDir(storage, is.Name), credentialsFile), append(data, '\n'))
}

// checkTerms decides whether an account may be registered with is, whose
// directory advertises the terms URL advertised ("" = none).
func checkTerms(is *Issuer, advertised string) error {
	if !is.TermsOfServiceAgreed {
		if advertised == "" {
			return fmt.Errorf("issuer %q: %w: set terms_of_service_agreed = true to register an account", is.Name, ErrTermsNotAgreed)
		}
		return fmt.Errorf("issuer %q: %w: read %s, then set terms_of_service_agreed = true to register an account",
			is.Name, ErrTermsNotAgreed, advertised)
	}
	switch {
	case is.TermsOfServiceURL == "" || is.TermsOfServiceURL == advertised:
		return nil
	case advertised == "" && is.AllowUnadvertisedTermsOfService:
		return nil
	case advertised == "":
		return fmt.Errorf("issuer %q: %w: the directory advertises no terms but terms_of_service_url is %s (set allow_unadvertised_terms_of_service to accept)",
			is.Name, ErrTermsNotAgreed, is.TermsOfServiceURL)
	default:
		return fmt.Errorf("issuer %q: %w: the directory now advertises %s, not the agreed %s",
			is.Name, ErrTermsNotAgreed, advertised, is.TermsOfServiceURL)
	}
}

// isAccountMissing reports an ACME error saying the stored account is
// unknown to the server (deleted, or the server lost its state).
func isAccountMissing(err error) bool {
	const t = "urn:ietf:params:acme:error:accountDoesNotExist"
	var p *acme.ProblemDetails
	if errors.As(err, &p) {
		return p.Type == t
	}
	var v acme.ProblemDetails
	return errors.As(err, &v) && v.Type == t
}
