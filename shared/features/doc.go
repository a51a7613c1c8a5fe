// Package features is the single source of truth for Fluxheim's build
// features: the Go port of the Rust project's Cargo features, expressed as Go
// build tags.
//
// # Names
//
// Every feature has one canonical name (the seed's name, see All): proxy, web,
// cache, ingress, tls, security, load-balancer, metrics, metrics-otlp,
// otel-tracing, otel-otlp, acme, acme-client, compression, compression-gzip,
// compression-zstd, compression-brotli, geoip, stream-proxy, traffic-mirror,
// privacy-mode, php-fpm, and the two TLS backends of the Go port, tls-go
// (crypto/tls) and tls-go-fips (crypto/tls on Go's FIPS 140-3 module).
// Expand also accepts the seed's backend names (tls-rustls maps to tls-go;
// tls-rustls-fips and tls-rustls-iso19790 map to tls-go-fips), the profile
// aliases (profile-core, ..., see Profiles) and "default"; it rejects the
// OpenSSL backends and profiles with the reason.
//
// # Tag scheme
//
// The build tag of feature NAME is "fh_" + NAME with every "-" replaced by
// "_" (Tag): fh_proxy, fh_compression_gzip, fh_tls_go_fips. The extra tag
// fh_nodefault switches the default set off.
//
//   - Without fh_nodefault the binary has the default set (proxy, web, cache,
//     tls-go, security, and the implied ingress and tls) plus every feature
//     whose tag is given. A plain "go build ./cmd/fluxheim" is the default
//     build.
//   - With fh_nodefault the binary has exactly the features whose tags are
//     given.
//
// So code belonging to a default feature X is gated with
// "//go:build !fh_nodefault || fh_X", and code of any other feature X with
// "//go:build fh_X". Nothing else is needed, because:
//
// Implications are not computed by constraint expressions. A tag set must
// already be closed under implication (php-fpm needs proxy and web, proxy
// needs ingress, ...). scripts/validate-features.sh and Expand always emit
// the closed set; a hand-written tag set that is not closed fails to
// compile with an "undefined: phpFpmRequiresProxy_addBuildTag_fh_proxy"
// style error from a guard file of this package. Forbidden combinations
// (two TLS backends, privacy-mode with cache, metrics, ...) fail the same
// way ("undefined: privacyModeCannotBeCombinedWithCache"). Because cache
// and tls-go are default features, privacy-mode and tls-go-fips need
// fh_nodefault.
//
// The guards only fire when this package is part of the build, so every
// main package of the project imports it.
//
// The feature_*.go and guard_*.go files are generated from the tables in
// this package by "go test ./shared/features -run TestGeneratedFiles
// -update"; TestGeneratedFiles fails when they are out of date.
package features
