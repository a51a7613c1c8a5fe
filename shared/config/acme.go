package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ACME is [tls.acme]: certificates issued and renewed by the master
// (build feature acme-client).
type ACME struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// Storage holds accounts and certificates (dirs 0700, keys 0600).
	Storage      string `toml:"storage" json:"storage"`
	ContactEmail string `toml:"contact_email" json:"contact_email"`
	// DefaultIssuer names an issuer (default "letsencrypt").
	DefaultIssuer string `toml:"default_issuer" json:"default_issuer"`
	// Challenge: "http-01" (default) or "tls-alpn-01" (needs tls_listen).
	Challenge string `toml:"challenge" json:"challenge"`
	// Automation: "background" (default: the master renews) or "external"
	// (renewals only through `fluxheim acme renew`).
	Automation string       `toml:"automation" json:"automation"`
	Renewal    ACMERenewal  `toml:"renewal" json:"renewal"`
	Issuers    []ACMEIssuer `toml:"issuers" json:"issuers,omitempty"`
}

// ACMERenewal is [tls.acme.renewal].
type ACMERenewal struct {
	Enabled            *bool `toml:"enabled" json:"enabled"`
	RenewBeforeSecs    int   `toml:"renew_before_secs" json:"renew_before_secs"`
	CheckIntervalSecs  int   `toml:"check_interval_secs" json:"check_interval_secs"`
	RetryInitialSecs   int   `toml:"retry_initial_secs" json:"retry_initial_secs"`
	RetryMaxSecs       int   `toml:"retry_max_secs" json:"retry_max_secs"`
	ReloadAfterRenewal *bool `toml:"reload_after_renewal" json:"reload_after_renewal"`
	ZeroDowntimeReload *bool `toml:"zero_downtime_reload" json:"zero_downtime_reload"`
}

// ACMEIssuer is one [[tls.acme.issuers]] entry.
type ACMEIssuer struct {
	Name                            string   `toml:"name" json:"name"`
	DirectoryURL                    string   `toml:"directory_url" json:"directory_url"`
	TermsOfServiceAgreed            bool     `toml:"terms_of_service_agreed" json:"terms_of_service_agreed"`
	TermsOfServiceURL               string   `toml:"terms_of_service_url" json:"terms_of_service_url,omitempty"`
	AllowUnadvertisedTermsOfService bool     `toml:"allow_unadvertised_terms_of_service" json:"allow_unadvertised_terms_of_service,omitempty"`
	CABundleFile                    string   `toml:"ca_bundle_file" json:"ca_bundle_file,omitempty"`
	EAB                             *ACMEEAB `toml:"eab" json:"eab,omitempty"`
}

// ACMEEAB is an issuer's External Account Binding: exactly one source for
// the key id and one for the HMAC key.
type ACMEEAB struct {
	KeyIDEnv          string `toml:"key_id_env" json:"key_id_env,omitempty"`
	KeyIDFile         string `toml:"key_id_file" json:"key_id_file,omitempty"`
	KeyIDCredential   string `toml:"key_id_credential" json:"key_id_credential,omitempty"`
	HMACKeyEnv        string `toml:"hmac_key_env" json:"hmac_key_env,omitempty"`
	HMACKeyFile       string `toml:"hmac_key_file" json:"hmac_key_file,omitempty"`
	HMACKeyCredential string `toml:"hmac_key_credential" json:"hmac_key_credential,omitempty"`
}

// VhostACME is [vhosts.tls.acme].
type VhostACME struct {
	Enabled *bool  `toml:"enabled" json:"enabled,omitempty"`
	Issuer  string `toml:"issuer" json:"issuer,omitempty"`
	// Domains default to the vhost's hosts without wildcards; ≤ 64.
	Domains []string `toml:"domains" json:"domains,omitempty"`
}

// Built-in issuers (Fluxheim's).
var builtinIssuers = []ACMEIssuer{
	{Name: "letsencrypt", DirectoryURL: "https://acme-v02.api.letsencrypt.org/directory"},
	{Name: "letsencrypt-staging", DirectoryURL: "https://acme-staging-v02.api.letsencrypt.org/directory"},
	{Name: "actalis", DirectoryURL: "https://acme-api.actalis.com/acme/directory",
		EAB: &ACMEEAB{KeyIDEnv: "FLUXHEIM_ACTALIS_EAB_KID", HMACKeyEnv: "FLUXHEIM_ACTALIS_EAB_HMAC_KEY"}},
	{Name: "google-trust-services", DirectoryURL: "https://dv.acme-v02.api.pki.goog/directory",
		EAB: &ACMEEAB{KeyIDEnv: "FLUXHEIM_GTS_EAB_KID", HMACKeyEnv: "FLUXHEIM_GTS_EAB_HMAC_KEY"}},
	{Name: "google-trust-services-staging", DirectoryURL: "https://dv.acme-v02.test-api.pki.goog/directory",
		EAB: &ACMEEAB{KeyIDEnv: "FLUXHEIM_GTS_STAGING_EAB_KID", HMACKeyEnv: "FLUXHEIM_GTS_STAGING_EAB_HMAC_KEY"}},
}

// Issuer returns the named issuer: a configured one, else a built-in.
func (a *ACME) Issuer(name string) *ACMEIssuer {
	for i := range a.Issuers {
		if a.Issuers[i].Name == name {
			return &a.Issuers[i]
		}
	}
	for i := range builtinIssuers {
		if builtinIssuers[i].Name == name {
			is := builtinIssuers[i]
			return &is
		}
	}
	return nil
}

// ACMEManaged reports whether a vhost's certificate comes from ACME.
func (v *Vhost) ACMEManaged() bool {
	return v.TLS != nil && v.TLS.ACME != nil && (v.TLS.ACME.Enabled == nil || *v.TLS.ACME.Enabled)
}

// ACMEDomains returns the names the vhost's certificate covers.
func (v *Vhost) ACMEDomains() []string {
	if a := v.TLS.ACME; a != nil && len(a.Domains) > 0 {
		return a.Domains
	}
	var out []string
	for _, h := range v.Hosts {
		if !strings.HasPrefix(h, "*.") {
			out = append(out, h)
		}
	}
	return out
}

func defaultACME(a *ACME) {
	setIfZero(&a.DefaultIssuer, "letsencrypt")
	setIfZero(&a.Challenge, "http-01")
	setIfZero(&a.Automation, "background")
	r := &a.Renewal
	r.Enabled = orDefault(r.Enabled, true)
	setIfZero(&r.RenewBeforeSecs, 2592000)
	setIfZero(&r.CheckIntervalSecs, 3600)
	setIfZero(&r.RetryInitialSecs, 300)
	setIfZero(&r.RetryMaxSecs, 86400)
	r.ReloadAfterRenewal = orDefault(r.ReloadAfterRenewal, true)
	r.ZeroDowntimeReload = orDefault(r.ZeroDowntimeReload, true)
}

// validateACME checks [tls.acme] and every [vhosts.tls.acme].
func validateACME(c *Config, errs *errList) {
	var a *ACME
	if c.TLS != nil {
		a = c.TLS.ACME
	}
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		if !v.ACMEManaged() {
			continue
		}
		key := fmt.Sprintf("vhosts[%d].tls.acme", i)
		if a == nil || !a.Enabled {
			errs.add(key, "needs [tls.acme] enabled = true")
			continue
		}
		if v.TLS.Certificate != nil {
			errs.add(key, "a vhost has either a static [vhosts.tls.certificate] or ACME, not both")
		}
		ds := v.ACMEDomains()
		if len(ds) == 0 {
			errs.add(key+".domains", "no domain: the vhost has only wildcard hosts (HTTP-01 and TLS-ALPN-01 cannot prove a wildcard)")
		}
		if len(ds) > 64 {
			errs.add(key+".domains", "%d domains exceed the limit of 64", len(ds))
		}
		for j, d := range v.TLS.ACME.Domains {
			if strings.Contains(d, "*") {
				errs.add(fmt.Sprintf("%s.domains[%d]", key, j), "wildcards cannot be issued with HTTP-01 or TLS-ALPN-01")
			}
		}
		if is := v.TLS.ACME.Issuer; is != "" && a.Issuer(is) == nil {
			errs.add(key+".issuer", "names no issuer %q", is)
		}
	}
	if a == nil || !a.Enabled {
		return
	}
	if !moduleBuilt("acme-client") {
		errs.add("tls.acme.enabled", "needs module %q, which this binary was built without (build with FEATURES=%s,acme-client)", "acme-client", "profile-core")
		return
	}
	if c.TLS.FIPSRequired() {
		errs.add("tls.acme.enabled", "managed ACME is refused in FIPS-required mode (account keys and JWS signing run outside the validated boundary); install externally issued certificates")
	}
	if a.Storage == "" {
		errs.add("tls.acme.storage", "is required")
	} else {
		checkProcessPath(errs, "tls.acme.storage", a.Storage)
	}
	if _, err := mail.ParseAddress(a.ContactEmail); err != nil || !strings.Contains(a.ContactEmail, "@") {
		errs.add("tls.acme.contact_email", "want an e-mail address, got %q", a.ContactEmail)
	}
	if a.Issuer(a.DefaultIssuer) == nil {
		errs.add("tls.acme.default_issuer", "names no issuer %q", a.DefaultIssuer)
	}
	switch a.Challenge {
	case "http-01":
		if len(c.Server.Listen) == 0 {
			errs.add("tls.acme.challenge", "http-01 needs a cleartext server.listen address")
		}
	case "tls-alpn-01":
		if len(c.Server.TLSListen) == 0 {
			errs.add("tls.acme.challenge", "tls-alpn-01 needs a server.tls_listen address")
		}
	case "dns-01":
		errs.add("tls.acme.challenge", "DNS-01 is not supported (http-01 or tls-alpn-01)")
	default:
		errs.add("tls.acme.challenge", "want http-01 or tls-alpn-01, got %q", a.Challenge)
	}
	oneOf(errs, "tls.acme.automation", a.Automation, "background", "external")
	r := &a.Renewal
	for k, v := range map[string]int{"renew_before_secs": r.RenewBeforeSecs, "check_interval_secs": r.CheckIntervalSecs,
		"retry_initial_secs": r.RetryInitialSecs, "retry_max_secs": r.RetryMaxSecs} {
		if v <= 0 {
			errs.add("tls.acme.renewal."+k, "must be greater than 0")
		}
	}
	if r.RetryInitialSecs > r.RetryMaxSecs {
		errs.add("tls.acme.renewal.retry_initial_secs", "must not exceed retry_max_secs")
	}
	if len(a.Issuers) > 128 {
		errs.add("tls.acme.issuers", "%d issuers exceed the limit of 128", len(a.Issuers))
	}
	names := map[string]bool{}
	for i, is := range a.Issuers {
		k := fmt.Sprintf("tls.acme.issuers[%d]", i)
		if is.Name == "" {
			errs.add(k+".name", "is required")
		}
		if names[is.Name] {
			errs.add(k+".name", "duplicate issuer %q", is.Name)
		}
		names[is.Name] = true
		if u, err := url.Parse(is.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs.add(k+".directory_url", "must be an https URL, got %q", is.DirectoryURL)
		}
		if e := is.EAB; e != nil {
			if countSet(e.KeyIDEnv, e.KeyIDFile, e.KeyIDCredential) != 1 {
				errs.add(k+".eab", "set exactly one of key_id_env, key_id_file, key_id_credential")
			}
			if countSet(e.HMACKeyEnv, e.HMACKeyFile, e.HMACKeyCredential) != 1 {
				errs.add(k+".eab", "set exactly one of hmac_key_env, hmac_key_file, hmac_key_credential")
			}
		}
	}
}

func countSet(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// ResolveEAB reads an EAB source: an environment variable, a file, or a
// systemd credential ($CREDENTIALS_DIRECTORY, else /run/secrets).
func ResolveEAB(env, file, cred string) (string, error) {
	switch {
	case env != "":
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		return strings.TrimSpace(string(b)), err
	case cred != "":
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			dir = "/run/secrets"
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(cred)))
		return strings.TrimSpace(string(b)), err
	}
	return "", nil
}
