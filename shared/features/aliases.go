package features

import (
	"slices"
)

// DefaultAlias is the alias Expand accepts for the default feature set.
const DefaultAlias = "default"

// profiles are the seed's Cargo profile aliases with the seed's TLS backend
// names replaced by the Go port's. Members are canonical feature names or
// other profiles.
var profiles = map[string][]string{
	"profile-core":          {Proxy, Web, Cache, TLSGo, Security},
	"profile-static-site":   {Proxy, Web, TLSGo, Security},
	"profile-reverse-proxy": {Proxy, TLSGo, Security},
	"profile-cache-server":  {Proxy, Web, Cache, TLSGo, Security},
	"profile-load-balancer": {Proxy, Web, Cache, CompressionGzip, CompressionZstd,
		CompressionBrotli, LoadBalancer, TLSGo, Security},
	"profile-observability": {"profile-core", Metrics, MetricsOTLP, OtelTracing, OtelOTLP},
	"profile-privacy":       {Proxy, Web, TLSGo, PrivacyMode, Security},
	"profile-full":          {"profile-load-balancer", GeoIP, StreamProxy, TrafficMirror},
	"profile-development": {"profile-full", PHPFPM, ACMEClient, Metrics, MetricsOTLP,
		OtelTracing, OtelOTLP},
	"profile-web-server": {Proxy, Web, CompressionGzip, CompressionZstd, CompressionBrotli,
		TLSGo, Security},
	"profile-cache-edge": {Proxy, Cache, CompressionGzip, CompressionZstd, CompressionBrotli,
		TLSGo, Security},
	"profile-proxy-edge": {Proxy, CompressionGzip, CompressionZstd, CompressionBrotli,
		TLSGo, Security},
	"profile-load-balancer-edge": {Proxy, LoadBalancer, CompressionGzip, CompressionZstd,
		CompressionBrotli, TLSGo, Security},
	// The seed's rustls/AWS-LC FIPS candidate profiles become Go FIPS builds.
	"profile-fips-rustls":     {Proxy, Security, TLSGoFIPS},
	"profile-iso19790-rustls": {"profile-fips-rustls", TLSGoFIPS},
}

// profileOrder is the order ProfileWith prefers among equally small
// profiles: the seed's table order.
var profileOrder = []string{
	"profile-core", "profile-static-site", "profile-reverse-proxy",
	"profile-cache-server", "profile-load-balancer", "profile-observability",
	"profile-privacy", "profile-full", "profile-development",
	"profile-web-server", "profile-cache-edge", "profile-proxy-edge",
	"profile-load-balancer-edge", "profile-fips-rustls", "profile-iso19790-rustls",
}

// seedAliases maps the seed's TLS backend names to the Go port's backends.
var seedAliases = map[string]string{
	"tls-rustls":          TLSGo,
	"tls-rustls-fips":     TLSGoFIPS,
	"tls-rustls-iso19790": TLSGoFIPS,
}

// ReasonOpenSSL is why every OpenSSL backend and profile is rejected.
const ReasonOpenSSL = "OpenSSL backends are not available in the Go port: " +
	"Go's crypto/tls is the only TLS stack; use tls-go-fips for FIPS 140-3"

// rejected maps names of the seed (or of earlier Fluxheim releases) that
// the Go port does not offer to the reason.
var rejected = map[string]string{
	"tls-openssl":              ReasonOpenSSL,
	"tls-openssl-fips":         ReasonOpenSSL,
	"tls-openssl-iso19790":     ReasonOpenSSL,
	"profile-fips-openssl":     ReasonOpenSSL,
	"profile-iso19790-openssl": ReasonOpenSSL,
	"tls-boringssl": "BoringSSL is not a supported Fluxheim TLS backend; " +
		"use tls-go, or tls-go-fips for FIPS 140-3",
	"tls-s2n": "s2n-tls is not a supported Fluxheim TLS backend; " +
		"use tls-go, or tls-go-fips for FIPS 140-3",
	"tls-rustls-backend": "tls-rustls-backend is an internal Cargo feature; select tls-go or tls-go-fips",
	"wasm":               "wasm is not available in the Go port",
	"wasm-proxy-abi":     "wasm-proxy-abi is not available in the Go port",
	"wasm-wasi":          "wasm-wasi is not available in the Go port",
	"udp-proxy":          "udp-proxy (beta) is not available in the Go port",
}

// Profiles returns the names of the profile aliases Expand accepts (not
// "default", not the rejected OpenSSL profiles), in the seed's order.
func Profiles() []string { return slices.Clone(profileOrder) }

// ProfileMembers returns the members of profile alias name as written in
// the table (features or other profiles, unexpanded); nil if name is not a
// profile alias. DefaultAlias is accepted.
func ProfileMembers(name string) []string {
	if name == DefaultAlias {
		return slices.Clone(defaultFeatures)
	}
	return slices.Clone(profiles[name])
}

// ProfileWith returns the name of a profile alias whose expansion contains
// feature (canonical or seed backend name), for messages such as "needs
// module cache; build with FEATURES=profile-core". It prefers the profile
// with the fewest features, then the seed's table order. It returns "" if
// no profile contains feature.
func ProfileWith(feature string) string {
	if to, ok := seedAliases[feature]; ok {
		feature = to
	}
	best, bestLen := "", 0
	for _, p := range profileOrder {
		fs, _, err := Expand([]string{p})
		if err != nil || !slices.Contains(fs, feature) {
			continue
		}
		if best == "" || len(fs) < bestLen {
			best, bestLen = p, len(fs)
		}
	}
	return best
}
