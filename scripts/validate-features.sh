#!/usr/bin/env bash
# Resolve a Fluxheim build feature list into Go build tags.
#
#   scripts/validate-features.sh LIST              -> fh_nodefault,fh_ingress,... (one line)
#   scripts/validate-features.sh --features LIST   -> ingress,proxy,...           (one line)
#
# LIST is comma-separated feature names, profile aliases and "default", e.g.
# proxy,web,tls-rustls or profile-web-server,php-fpm. The tags always start
# with fh_nodefault and include every implied feature, so
#   go build -tags "$(scripts/validate-features.sh LIST)" ./cmd/fluxheim
# builds exactly the expanded list. An invalid list (unknown name, OpenSSL
# backend, two TLS backends, privacy-mode with cache/metrics/tracing/
# compression, ...) prints the reason on stderr and exits 1.
# A list containing tls-go-fips must be built with GOFIPS140=v1.0.0.
#
# The rules live in shared/features (Expand); this wraps
# scripts/internal/featurestool. Works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fluxheim-featurestool.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# -tags= overrides any -tags in GOFLAGS: the tool itself is a default build.
"${GO:-go}" build -tags= -o "$tmp/featurestool" ./scripts/internal/featurestool
"$tmp/featurestool" "$@"
