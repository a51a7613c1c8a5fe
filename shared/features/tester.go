package features

import (
	"fmt"
	"strings"
)

// DefaultTesterProfile is fluxheim-config-tester's --profile default.
const DefaultTesterProfile = "full"

// TesterPolicy is what fluxheim-config-tester --profile NAME checks a
// config against (spec §1.5): which modules the profile's release build
// has, and whether the profile demands a FIPS-required TLS config. A config
// that enables a module the policy lacks is rejected by the tester.
type TesterPolicy struct {
	Name   string // the --profile value, e.g. "full"
	Proxy  bool   // reverse proxying ([vhosts.proxy], [vhosts.routes.proxy])
	Web    bool   // static files ([web], [vhosts.web], [vhosts.routes.web])
	Cache  bool   // cache ([cache], [vhosts.cache], [vhosts.routes.cache])
	PHPFPM bool   // PHP-FPM ([vhosts.php], [vhosts.routes.php])

	// RequiresFIPS: the config must set [tls.fips] required = true or
	// [tls.iso19790] required = true and select TLSBackend.
	RequiresFIPS bool
	// TLSBackend is the TLS backend feature the profile's build has
	// (TLSGoFIPS for the FIPS/ISO profiles, TLSGo otherwise).
	TLSBackend string
}

// Has reports whether the policy includes module: Proxy, Web, Cache or
// PHPFPM. Other names report false.
func (p TesterPolicy) Has(module string) bool {
	switch module {
	case Proxy:
		return p.Proxy
	case Web:
		return p.Web
	case Cache:
		return p.Cache
	case PHPFPM:
		return p.PHPFPM
	}
	return false
}

// Modules returns the modules the policy includes, in the order proxy,
// web, cache, php-fpm.
func (p TesterPolicy) Modules() []string {
	var out []string
	for _, m := range []string{Proxy, Web, Cache, PHPFPM} {
		if p.Has(m) {
			out = append(out, m)
		}
	}
	return out
}

// testerPolicies follows the Rust project's config_tester_profiles.rs.
var testerPolicies = []TesterPolicy{
	{Name: "full", Proxy: true, Web: true, Cache: true, TLSBackend: TLSGo},
	{Name: "cache", Proxy: true, Cache: true, TLSBackend: TLSGo},
	{Name: "proxy", Proxy: true, TLSBackend: TLSGo},
	{Name: "fips-rustls", Proxy: true, RequiresFIPS: true, TLSBackend: TLSGoFIPS},
	{Name: "iso19790-rustls", Proxy: true, RequiresFIPS: true, TLSBackend: TLSGoFIPS},
	{Name: "web-php", Web: true, PHPFPM: true, TLSBackend: TLSGo},
	{Name: "development", Proxy: true, Web: true, Cache: true, PHPFPM: true, TLSBackend: TLSGo},
	{Name: "load-balancer", Proxy: true, TLSBackend: TLSGo},
}

// rejectedTesterProfiles are --profile values of the seed the Go port
// cannot offer.
var rejectedTesterProfiles = map[string]string{
	"fips-openssl":     ReasonOpenSSL,
	"iso19790-openssl": ReasonOpenSSL,
}

// TesterProfiles returns the --profile values TesterProfile accepts.
func TesterProfiles() []string {
	out := make([]string, len(testerPolicies))
	for i, p := range testerPolicies {
		out[i] = p.Name
	}
	return out
}

// TesterProfile returns the policy of fluxheim-config-tester --profile
// name; "" means DefaultTesterProfile. fips-rustls and iso19790-rustls are
// the Go FIPS build (TLSBackend tls-go-fips). fips-openssl and
// iso19790-openssl, and unknown names, return an error stating why.
func TesterProfile(name string) (TesterPolicy, error) {
	if name == "" {
		name = DefaultTesterProfile
	}
	for _, p := range testerPolicies {
		if p.Name == name {
			return p, nil
		}
	}
	if reason, ok := rejectedTesterProfiles[name]; ok {
		return TesterPolicy{}, fmt.Errorf("config-tester profile %q is not available: %s "+
			"(use --profile fips-rustls or iso19790-rustls)", name, reason)
	}
	return TesterPolicy{}, fmt.Errorf("unknown config-tester profile %q (valid: %s)",
		name, strings.Join(TesterProfiles(), ", "))
}
