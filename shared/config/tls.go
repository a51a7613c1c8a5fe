package config

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"

	"github.com/fluxheim/fluxheim/shared/features"
	"github.com/fluxheim/fluxheim/shared/hostname"
)

// TLS is [tls]: downstream TLS for server.tls_listen.
type TLS struct {
	// Enabled must be true when tls_listen is non-empty. Default false.
	Enabled bool `toml:"enabled" json:"enabled"`
	// Backend names the TLS stack: "rustls" (Fluxheim's default name, kept
	// for compatibility) and "go" both mean Go's crypto/tls; the binary's
	// backend (tls-go or tls-go-fips) is fixed at build time. "openssl",
	// "boringssl" and "s2n" are refused.
	Backend string `toml:"backend" json:"backend"`
	// Profile: "intermediate" (default; TLS 1.2 ECDHE AEAD suites + 1.3),
	// "modern" (TLS 1.3 only), "compat" (= intermediate).
	Profile string `toml:"profile" json:"profile"`
	// MinProtocol: "tls1.2" (default; "tls1.3" with profile "modern") or
	// "tls1.3" (aliases VersionTLS12, VersionTLS13). "modern" refuses an
	// explicit tls1.2.
	MinProtocol string `toml:"min_protocol" json:"min_protocol"`
	// ALPN: "http1-and-http2" (default), "http1", "http2".
	ALPN string `toml:"alpn" json:"alpn"`
	// CurvePreferences: ≤ 16 of X25519, CurveP256, CurveP384, CurveP521,
	// X25519MLKEM768. Default X25519, CurveP256, CurveP384.
	CurvePreferences []string `toml:"curve_preferences" json:"curve_preferences"`
	// CipherSuites: ≤ 32 TLS 1.2 suite names (Go/IANA names); TLS 1.3
	// suites are not configurable in Go and are accepted and ignored with a
	// warning. Default: the profile's ECDHE AEAD suites.
	CipherSuites []string `toml:"cipher_suites" json:"cipher_suites,omitempty"`
	// Certificates: the first pair is the default (fallback) certificate;
	// ≤ 1024.
	Certificates []CertPair `toml:"certificates" json:"certificates,omitempty"`
	// ClientAuth applies to every TLS listener.
	ClientAuth *ClientAuth `toml:"client_auth" json:"client_auth,omitempty"`
	// FIPS ([tls.fips]) and ISO19790 ([tls.iso19790], an alias) make the
	// config fail closed unless the binary runs in FIPS 140-3 mode.
	FIPS     *FIPSGuard `toml:"fips" json:"fips,omitempty"`
	ISO19790 *FIPSGuard `toml:"iso19790" json:"iso19790,omitempty"`
	// ACME is [tls.acme] (acme.go).
	ACME *ACME `toml:"acme" json:"acme,omitempty"`
}

// CertPair is a certificate chain and its private key (PEM files). The
// master reads them; workers get the bytes.
type CertPair struct {
	CertPath string `toml:"cert_path" json:"cert_path"`
	KeyPath  string `toml:"key_path" json:"key_path"`
}

// ClientAuth is [tls.client_auth].
type ClientAuth struct {
	// Mode: "off" (default), "optional" (verify when presented),
	// "required".
	Mode string `toml:"mode" json:"mode"`
	// CAPath is the PEM bundle client certificates must chain to (required
	// unless mode = "off").
	CAPath string `toml:"ca_path" json:"ca_path,omitempty"`
}

// FIPSGuard is [tls.fips] / [tls.iso19790].
type FIPSGuard struct {
	Required                   bool `toml:"required" json:"required"`
	RequireDiskCacheEncryption bool `toml:"require_disk_cache_encryption" json:"require_disk_cache_encryption"`
}

// FIPSRequired reports whether either guard demands FIPS mode.
func (t *TLS) FIPSRequired() bool {
	return t != nil && ((t.FIPS != nil && t.FIPS.Required) || (t.ISO19790 != nil && t.ISO19790.Required))
}

// VhostTLS is [vhosts.tls]: the vhost's certificate, selected by SNI from
// its hosts.
type VhostTLS struct {
	Enabled     *bool      `toml:"enabled" json:"enabled,omitempty"`
	Certificate *CertPair  `toml:"certificate" json:"certificate,omitempty"`
	ACME        *VhostACME `toml:"acme" json:"acme,omitempty"`
}

// HTTPSRedirect is [server.https_redirect].
type HTTPSRedirect struct {
	Enabled bool `toml:"enabled" json:"enabled"`
	// Status: 301, 302, 307 or 308 (default 308).
	Status int `toml:"status" json:"status"`
	// TargetPort is the port in the Location (default: none, i.e. 443).
	TargetPort int `toml:"target_port" json:"target_port,omitempty"`
}

// HSTS is [headers.response.hsts].
type HSTS struct {
	Enabled           *bool   `toml:"enabled" json:"enabled,omitempty"`
	MaxAgeSecs        *uint64 `toml:"max_age_secs" json:"max_age_secs,omitempty"`
	IncludeSubdomains bool    `toml:"include_subdomains" json:"include_subdomains"`
	Preload           bool    `toml:"preload" json:"preload"`
}

// Caps and names.
const (
	maxCertificates = 1024
	maxCurves       = 16
	maxCipherSuites = 32
)

var curveIDs = map[string]tls.CurveID{
	"X25519": tls.X25519, "CurveP256": tls.CurveP256, "CurveP384": tls.CurveP384,
	"CurveP521": tls.CurveP521, "X25519MLKEM768": tls.X25519MLKEM768,
	"P-256": tls.CurveP256, "P-384": tls.CurveP384, "P-521": tls.CurveP521,
}

// CurveID maps a curve_preferences name.
func CurveID(name string) (tls.CurveID, bool) { id, ok := curveIDs[name]; return id, ok }

// CipherSuiteID maps a TLS 1.2 suite name (Go's names, also accepting the
// "TLS13_" and rustls spellings of TLS 1.3 suites, which report tls13).
func CipherSuiteID(name string) (id uint16, tls13, ok bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, s := range tls.CipherSuites() {
		if s.Name == n {
			for _, v := range s.SupportedVersions {
				if v == tls.VersionTLS13 {
					return s.ID, true, true
				}
			}
			return s.ID, false, true
		}
	}
	switch strings.TrimPrefix(n, "TLS13_") {
	case "AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256":
		return tls.TLS_AES_128_GCM_SHA256, true, true
	case "AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384":
		return tls.TLS_AES_256_GCM_SHA384, true, true
	case "CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256":
		return tls.TLS_CHACHA20_POLY1305_SHA256, true, true
	}
	return 0, false, false
}

func defaultTLS(t *TLS) {
	setIfZero(&t.Backend, "rustls")
	setIfZero(&t.Profile, "intermediate")
	if t.Profile == "modern" {
		// TLS 1.3 only: an unset min_protocol follows the profile (an
		// explicit "tls1.2" is still refused).
		setIfZero(&t.MinProtocol, "tls1.3")
	}
	setIfZero(&t.MinProtocol, "tls1.2")
	setIfZero(&t.ALPN, "http1-and-http2")
	if t.CurvePreferences == nil {
		t.CurvePreferences = []string{"X25519", "CurveP256", "CurveP384"}
		if t.FIPSRequired() {
			t.CurvePreferences = []string{"CurveP256", "CurveP384"}
		}
	}
	if t.ClientAuth == nil {
		t.ClientAuth = &ClientAuth{}
	}
	if t.ACME != nil {
		defaultACME(t.ACME)
	}
	setIfZero(&t.ClientAuth.Mode, "off")
}

// validateTLS checks [tls] and its use by listeners and vhosts.
func validateTLS(c *Config, errs *errList) {
	t := c.TLS
	if len(c.Server.TLSListen) > 0 && (t == nil || !t.Enabled) {
		errs.add("server.tls_listen", "needs [tls] enabled = true")
	}
	if t == nil {
		return
	}
	if t.Enabled && !moduleBuilt("tls") {
		errs.add("tls.enabled", "needs module %q, which this binary was built without (build with FEATURES=%s)", "tls", features.ProfileWith("tls-go"))
		return
	}
	switch strings.ToLower(t.Backend) {
	case "rustls", "go":
	case "openssl", "boringssl", "s2n":
		errs.add("tls.backend", "%q is not available in the Go port: Go's crypto/tls is the only TLS stack (use \"go\" or \"rustls\"; FIPS: build with tls-go-fips)", t.Backend)
	default:
		errs.add("tls.backend", "want \"go\" or \"rustls\", got %q", t.Backend)
	}
	oneOf(errs, "tls.profile", t.Profile, "modern", "intermediate", "compat")
	switch t.MinProtocol {
	case "tls1.2", "VersionTLS12":
		if t.Profile == "modern" {
			errs.add("tls.min_protocol", "profile \"modern\" is TLS 1.3 only; set min_protocol = \"tls1.3\" or drop it")
		}
	case "tls1.3", "VersionTLS13":
	default:
		errs.add("tls.min_protocol", "want tls1.2 or tls1.3, got %q", t.MinProtocol)
	}
	oneOf(errs, "tls.alpn", t.ALPN, "http1", "http2", "http1-and-http2")
	if len(t.CurvePreferences) > maxCurves {
		errs.add("tls.curve_preferences", "%d curves exceed the limit of %d", len(t.CurvePreferences), maxCurves)
	}
	for i, n := range t.CurvePreferences {
		if _, ok := CurveID(n); !ok {
			errs.add(fmt.Sprintf("tls.curve_preferences[%d]", i), "unknown curve %q (X25519, CurveP256, CurveP384, CurveP521, X25519MLKEM768)", n)
		}
	}
	if len(t.CipherSuites) > maxCipherSuites {
		errs.add("tls.cipher_suites", "%d suites exceed the limit of %d", len(t.CipherSuites), maxCipherSuites)
	}
	for i, n := range t.CipherSuites {
		id, tls13, ok := CipherSuiteID(n)
		k := fmt.Sprintf("tls.cipher_suites[%d]", i)
		switch {
		case !ok:
			errs.add(k, "unknown or insecure cipher suite %q", n)
		case tls13:
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s is a TLS 1.3 suite; Go always enables its TLS 1.3 suites, so it is accepted and has no effect", k, n))
		case !aeadECDHE(id):
			errs.add(k, "%q is not an ECDHE AEAD suite; only those are allowed", n)
		}
	}
	if len(t.Certificates) > maxCertificates {
		errs.add("tls.certificates", "%d pairs exceed the limit of %d", len(t.Certificates), maxCertificates)
	}
	for i, p := range t.Certificates {
		validatePair(errs, fmt.Sprintf("tls.certificates[%d]", i), &p)
	}
	ca := t.ClientAuth
	switch ca.Mode {
	case "off":
	case "optional", "required":
		if ca.CAPath == "" {
			errs.add("tls.client_auth.ca_path", "is required with mode %q", ca.Mode)
		}
	default:
		errs.add("tls.client_auth.mode", "want off, optional or required, got %q", ca.Mode)
	}
	if t.Enabled && len(c.Server.TLSListen) > 0 && !hasFallbackCert(c) {
		errs.add("tls.certificates", "no fallback certificate: add a [[tls.certificates]] pair, or a certificate (static or ACME) on the default_vhost")
	}
	validateACME(c, errs)
	validateFIPS(c, errs)
}

func aeadECDHE(id uint16) bool {
	switch id {
	case tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return true
	}
	return false
}

func validatePair(errs *errList, key string, p *CertPair) {
	if p.CertPath == "" {
		errs.add(key+".cert_path", "is required")
	}
	if p.KeyPath == "" {
		errs.add(key+".key_path", "is required")
	}
	for _, f := range []struct{ k, v string }{{"cert_path", p.CertPath}, {"key_path", p.KeyPath}} {
		for _, seg := range strings.Split(f.v, "/") {
			if seg == ".." {
				errs.add(key+"."+f.k, "must not contain '..'")
				break
			}
		}
	}
}

// hasFallbackCert: a global pair, or a static certificate on the
// default_vhost.
func hasFallbackCert(c *Config) bool {
	if len(c.TLS.Certificates) > 0 {
		return true
	}
	if i := vhostIndex(c, c.Server.DefaultVhost); i >= 0 {
		v := &c.Vhosts[i]
		return v.TLS != nil && (v.TLS.Certificate != nil || v.ACMEManaged())
	}
	return false
}

// validateVhostTLS checks [vhosts.tls].
func validateVhostTLS(c *Config, v *Vhost, key string, errs *errList) {
	if v.TLS == nil {
		return
	}
	if (c.TLS == nil || !c.TLS.Enabled) && (v.TLS.Certificate != nil || v.ACMEManaged()) {
		errs.add(key+".tls", "needs [tls] enabled = true")
	}
	if v.TLS.Certificate != nil {
		validatePair(errs, key+".tls.certificate", v.TLS.Certificate)
		if len(v.Hosts) == 0 && c.Server.DefaultVhost != v.Name {
			errs.add(key+".tls.certificate", "the vhost has no hosts to select this certificate by SNI")
		}
	}
	for _, h := range v.Hosts {
		if _, err := hostname.Pattern(h); err != nil {
			return // reported with the hosts
		}
	}
}

// validateFIPS applies Fluxheim's FIPS-required rules, adapted to Go's
// FIPS 140-3 module (docs/fips.md).
func validateFIPS(c *Config, errs *errList) {
	t := c.TLS
	if !t.FIPSRequired() {
		return
	}
	key := "tls.fips.required"
	if t.FIPS == nil || !t.FIPS.Required {
		key = "tls.iso19790.required"
	}
	if !fipsEnabled() {
		errs.add(key, "this binary is not running in FIPS 140-3 mode (build with FEATURES=tls-go-fips, i.e. GOFIPS140=v1.0.0, and do not set GODEBUG=fips140=off)")
	}
	for i, n := range t.CurvePreferences {
		if n == "X25519" || n == "X25519MLKEM768" {
			errs.add(fmt.Sprintf("tls.curve_preferences[%d]", i), "%s is not allowed in FIPS-required mode", n)
		}
	}
	for i, n := range t.CipherSuites {
		if strings.Contains(strings.ToUpper(n), "CHACHA20") {
			errs.add(fmt.Sprintf("tls.cipher_suites[%d]", i), "ChaCha20 is not allowed in FIPS-required mode")
		}
	}
	if t.MinProtocol != "tls1.2" && t.MinProtocol != "tls1.3" && t.MinProtocol != "VersionTLS12" && t.MinProtocol != "VersionTLS13" {
		errs.add("tls.min_protocol", "FIPS-required mode needs TLS 1.2 or later")
	}
}

// checkCertPairs loads every static certificate pair (global and vhost)
// the way the master will, so `fluxheim -t` refuses a config whose
// certificate is unreadable PEM or does not match its key instead of
// passing it and failing at start or reload. Files that cannot be read
// were already reported by checkReadable.
func checkCertPairs(c *Config, errs *errList) {
	check := func(key string, p *CertPair) {
		certPEM, err1 := os.ReadFile(p.CertPath)
		keyPEM, err2 := os.ReadFile(p.KeyPath)
		if err1 != nil || err2 != nil {
			return
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			errs.add(key+".cert_path", "%s and %s: %v", p.CertPath, p.KeyPath, err)
		}
	}
	if c.TLS == nil || !c.TLS.Enabled {
		return
	}
	for i := range c.TLS.Certificates {
		check(fmt.Sprintf("tls.certificates[%d]", i), &c.TLS.Certificates[i])
	}
	for i := range c.Vhosts {
		if t := c.Vhosts[i].TLS; t != nil && t.Certificate != nil {
			check(fmt.Sprintf("vhosts[%d].tls.certificate", i), t.Certificate)
		}
	}
}
