package features

import (
	"slices"
	"strings"
)

// Canonical feature names.
const (
	Proxy             = "proxy"
	Web               = "web"
	Cache             = "cache"
	Ingress           = "ingress"
	TLS               = "tls"
	Security          = "security"
	LoadBalancer      = "load-balancer"
	Metrics           = "metrics"
	MetricsOTLP       = "metrics-otlp"
	OtelTracing       = "otel-tracing"
	OtelOTLP          = "otel-otlp"
	ACME              = "acme"
	ACMEClient        = "acme-client"
	Compression       = "compression"
	CompressionGzip   = "compression-gzip"
	CompressionZstd   = "compression-zstd"
	CompressionBrotli = "compression-brotli"
	GeoIP             = "geoip"
	StreamProxy       = "stream-proxy"
	TrafficMirror     = "traffic-mirror"
	PrivacyMode       = "privacy-mode"
	PHPFPM            = "php-fpm"
	TLSGo             = "tls-go"
	TLSGoFIPS         = "tls-go-fips"
)

// NoDefaultTag is the build tag that switches the default feature set off.
const NoDefaultTag = "fh_nodefault"

// TagPrefix starts the build tag of every feature.
const TagPrefix = "fh_"

// canonicalNames lists every canonical feature name, sorted.
var canonicalNames = func() []string {
	names := []string{
		Proxy, Web, Cache, Ingress, TLS, Security, LoadBalancer, Metrics,
		MetricsOTLP, OtelTracing, OtelOTLP, ACME, ACMEClient, Compression,
		CompressionGzip, CompressionZstd, CompressionBrotli, GeoIP,
		StreamProxy, TrafficMirror, PrivacyMode, PHPFPM, TLSGo, TLSGoFIPS,
	}
	slices.Sort(names)
	return names
}()

// tlsBackends are the TLS backend features; a build has at most one.
var tlsBackends = []string{TLSGo, TLSGoFIPS}

// defaultFeatures is the default set as selected (before implication).
var defaultFeatures = []string{Proxy, Web, Cache, TLSGo, Security}

// implies maps a feature to the features it switches on (direct edges
// only; Expand follows them transitively). It follows the Rust project's
// Cargo feature graph.
var implies = map[string][]string{
	Proxy:             {Ingress},
	TLS:               {Ingress},
	TLSGo:             {TLS},
	TLSGoFIPS:         {TLS},
	ACME:              {TLS},
	ACMEClient:        {ACME},
	Compression:       {Proxy},
	CompressionGzip:   {Compression},
	CompressionZstd:   {Compression},
	CompressionBrotli: {Compression},
	LoadBalancer:      {Proxy},
	StreamProxy:       {Proxy},
	TrafficMirror:     {Proxy},
	GeoIP:             {Proxy},
	MetricsOTLP:       {Metrics},
	OtelTracing:       {Proxy},
	OtelOTLP:          {OtelTracing},
	PHPFPM:            {Proxy, Web},
	PrivacyMode:       {Proxy, Web},
}

// All returns every canonical feature name, sorted.
func All() []string { return slices.Clone(canonicalNames) }

// Known reports whether name is a canonical feature name. Profile aliases,
// "default" and the seed's backend names are not features (Expand accepts
// them).
func Known(name string) bool {
	_, found := slices.BinarySearch(canonicalNames, name)
	return found
}

// Tag returns the build tag of feature name: "fh_" + name with "-"
// replaced by "_". It does not check that name is Known.
func Tag(name string) string {
	return TagPrefix + strings.ReplaceAll(name, "-", "_")
}

// Implies returns the features name directly switches on (nil if none).
func Implies(name string) []string { return slices.Clone(implies[name]) }

// Default returns the default feature set, closed under implication and
// sorted: what a build without fh_nodefault always has.
func Default() []string { return closure(defaultFeatures) }

// inDefault reports whether feature name is on in a build without
// fh_nodefault.
func inDefault(name string) bool { return slices.Contains(Default(), name) }

// closure returns names plus everything they imply, sorted, without
// duplicates. names must be canonical.
func closure(names []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, m := range implies[n] {
			visit(m)
		}
	}
	for _, n := range names {
		visit(n)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
