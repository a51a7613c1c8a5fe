package acme

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// checkOptions validates o and fills in defaults. It returns the issuers'
// HTTP transports, keyed by issuer name.
func checkOptions(o *Options) (map[string]http.RoundTripper, error) {
	if o.Storage == "" || !filepath.IsAbs(o.Storage) {
		return nil, fmt.Errorf("acme: storage must be an absolute path, got %q", o.Storage)
	}
	o.Storage = filepath.Clean(o.Storage)
	if o.ContactEmail != "" {
		a, err := mail.ParseAddress(o.ContactEmail)
		if err != nil || a.Address != o.ContactEmail || a.Name != "" {
			return nil, fmt.Errorf("acme: contact_email %q is not a plain e-mail address", o.ContactEmail)
		}
	}
	switch o.Challenge {
	case "":
		o.Challenge = ChallengeHTTP01
	case ChallengeHTTP01, ChallengeTLSALPN01:
	default:
		return nil, fmt.Errorf("acme: challenge %q is not supported (http-01 or tls-alpn-01)", o.Challenge)
	}
	if o.Presenter == nil {
		return nil, errors.New("acme: a Presenter is required")
	}
	setDefault(&o.RenewBefore, DefaultRenewBefore)
	setDefault(&o.CheckInterval, DefaultCheckInterval)
	setDefault(&o.RetryInitial, DefaultRetryInitial)
	setDefault(&o.RetryMax, DefaultRetryMax)
	setDefault(&o.HTTPTimeout, defaultHTTPTimeout)
	if o.RenewBefore < 0 || o.CheckInterval < 0 || o.RetryInitial < 0 || o.RetryMax < 0 || o.HTTPTimeout < 0 {
		return nil, errors.New("acme: durations must be positive")
	}
	if o.RetryInitial > o.RetryMax {
		return nil, fmt.Errorf("acme: retry_initial (%s) exceeds retry_max (%s)", o.RetryInitial, o.RetryMax)
	}
	transports, err := checkIssuers(o.Issuers)
	if err != nil {
		return nil, err
	}
	if err := checkTargets(o.Targets, transports); err != nil {
		return nil, err
	}
	return transports, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func checkIssuers(issuers []Issuer) (map[string]http.RoundTripper, error) {
	if len(issuers) > MaxIssuers {
		return nil, fmt.Errorf("acme: %d issuers configured, at most %d allowed", len(issuers), MaxIssuers)
	}
	out := make(map[string]http.RoundTripper, len(issuers))
	for _, is := range issuers {
		if is.Name == "" {
			return nil, errors.New("acme: an issuer has no name")
		}
		if _, dup := out[is.Name]; dup {
			return nil, fmt.Errorf("acme: issuer %q is defined twice", is.Name)
		}
		u, err := url.Parse(is.DirectoryURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("acme: issuer %q: directory_url %q must be an https URL", is.Name, is.DirectoryURL)
		}
		if is.EAB != nil && (is.EAB.KeyID == "" || is.EAB.HMACKey == "") {
			return nil, fmt.Errorf("acme: issuer %q: EAB needs both a key ID and an HMAC key", is.Name)
		}
		var roots *x509.CertPool
		if is.CABundleFile != "" {
			if roots, err = loadCABundle(is.CABundleFile); err != nil {
				return nil, fmt.Errorf("acme: issuer %q: %w", is.Name, err)
			}
		}
		out[is.Name] = newTransport(roots)
	}
	return out, nil
}

func checkTargets(targets []Target, issuers map[string]http.RoundTripper) error {
	seen := make(map[string]bool, len(targets))
	for i := range targets {
		t := &targets[i]
		if t.Name == "" {
			return errors.New("acme: a target has no name")
		}
		if seen[t.Name] {
			return fmt.Errorf("acme: target %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if _, ok := issuers[t.Issuer]; !ok {
			return fmt.Errorf("acme: target %q: unknown issuer %q", t.Name, t.Issuer)
		}
		if len(t.Domains) == 0 || len(t.Domains) > MaxDomainsPerTarget {
			return fmt.Errorf("acme: target %q: needs 1 to %d domains, has %d", t.Name, MaxDomainsPerTarget, len(t.Domains))
		}
		doms := make([]string, 0, len(t.Domains))
		dseen := make(map[string]bool, len(t.Domains))
		for _, d := range t.Domains {
			n, err := normaliseDomain(d)
			if err != nil {
				return fmt.Errorf("acme: target %q: %w", t.Name, err)
			}
			if !dseen[n] {
				dseen[n] = true
				doms = append(doms, n)
			}
		}
		t.Domains = doms
	}
	return nil
}

// normaliseDomain lower-cases d and checks it is an ASCII DNS name that
// HTTP-01 and TLS-ALPN-01 can prove: no wildcard, no IP address.
func normaliseDomain(d string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(d, "."))
	switch {
	case strings.HasPrefix(n, "*."):
		return "", fmt.Errorf("domain %q: wildcards need DNS-01, which is not supported", d)
	case net.ParseIP(n) != nil:
		return "", fmt.Errorf("domain %q: IP addresses are not supported", d)
	case n == "" || len(n) > 253:
		return "", fmt.Errorf("domain %q: empty or longer than 253 characters", d)
	}
	for _, label := range strings.Split(n, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("domain %q: bad label %q", d, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return "", fmt.Errorf("domain %q: character %q not allowed (use the xn-- form for IDNs)", d, c)
			}
		}
	}
	return n, nil
}

// loadCABundle reads a PEM bundle of at most MaxCABundleBytes holding 1 to
// MaxCABundleCerts certificates.
func loadCABundle(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ca_bundle_file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCABundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ca_bundle_file %s: %w", path, err)
	}
	if len(data) > MaxCABundleBytes {
		return nil, fmt.Errorf("ca_bundle_file %s: larger than %d bytes", path, MaxCABundleBytes)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca_bundle_file %s: certificate %d: %w", path, n+1, err)
		}
		if n++; n > MaxCABundleCerts {
			return nil, fmt.Errorf("ca_bundle_file %s: more than %d certificates", path, MaxCABundleCerts)
		}
		pool.AddCert(c)
	}
	if n == 0 {
		return nil, fmt.Errorf("ca_bundle_file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// newTransport is the HTTPS transport to one ACME server: the given roots
// (nil = system roots), TLS ≥ 1.2, proxies from the environment.
func newTransport(roots *x509.CertPool) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 4
	return t
}
