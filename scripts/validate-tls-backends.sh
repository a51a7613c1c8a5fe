#!/usr/bin/env bash
# Build one binary per supported TLS backend and check what "<binary> crypto"
# reports (format: shared/tlsbackend CryptoReport.String, "key: value" lines):
#
#   fluxheim-tls-go       default set                     tls-backend: tls-go,
#                                                         fips140-enabled: false, status: ok
#   fluxheim-tls-go-fips  default set with tls-go-fips,   tls-backend: tls-go-fips,
#                         built with GOFIPS140=v1.0.0     fips140-enabled: true,
#                                                         fips140-module: v1.0.0, status: ok
#   fluxheim-tls-go-fips  run with GODEBUG=fips140=off    fips140-enabled: false, status: error
#
# Binaries go to a temp dir (removed on exit). Exits non-zero on any failure.
# FLUXHEIM_CRYPTO_PKG overrides the package built (default ./cmd/fluxheim);
# it must accept a "crypto" argument. Works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
go_cmd="${GO:-go}"
pkg="${FLUXHEIM_CRYPTO_PKG:-./cmd/fluxheim}"
fips_module=v1.0.0

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fluxheim-tls-backends.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# build NAME FEATURE-LIST GOFIPS140
build() {
    local name="$1" list="$2" gofips="$3" tags
    tags="$(scripts/validate-features.sh "$list")"
    echo "build: $name tags=$tags GOFIPS140=$gofips"
    GOFIPS140="$gofips" "$go_cmd" build -trimpath -tags "$tags" -o "$tmp/bin/$name" "$pkg"
}

# check NAME GODEBUG WANT-EXIT(0|nonzero) LINE...
check() {
    local name="$1" godebug="$2" want_exit="$3" out rc=0
    shift 3
    if [[ -n "$godebug" ]]; then
        out="$(GODEBUG="$godebug" "$tmp/bin/$name" crypto 2>"$tmp/stderr")" || rc=$?
    else
        out="$(env -u GODEBUG "$tmp/bin/$name" crypto 2>"$tmp/stderr")" || rc=$?
    fi
    echo "== $name crypto${godebug:+ (GODEBUG=$godebug)}: exit $rc"
    printf '%s\n' "$out" | sed 's/^/   /'
    if [[ "$want_exit" == 0 && "$rc" != 0 ]]; then
        fail "$name crypto exited $rc: $(cat "$tmp/stderr")"
    elif [[ "$want_exit" != 0 && "$rc" == 0 ]]; then
        fail "$name crypto exited 0, want non-zero"
    fi
    local line
    for line in "$@"; do
        grep -qxF -- "$line" <<<"$out" || fail "$name crypto${godebug:+ (GODEBUG=$godebug)}: missing line \"$line\""
    done
}

build fluxheim-tls-go default off
build fluxheim-tls-go-fips proxy,web,cache,security,tls-go-fips "$fips_module"

check fluxheim-tls-go "" 0 \
    "tls-backend: tls-go" "fips140-enabled: false" "gofips140: off" "status: ok"
check fluxheim-tls-go-fips "" 0 \
    "tls-backend: tls-go-fips" "fips140-enabled: true" "fips140-module: $fips_module" \
    "fips140-build-default: on" "status: ok"
check fluxheim-tls-go-fips "fips140=off" nonzero \
    "tls-backend: tls-go-fips" "fips140-enabled: false" "status: error"

if ((failures > 0)); then
    echo "validate-tls-backends: $failures check(s) failed" >&2
    exit 1
fi
echo "validate-tls-backends: ok (tls-go, tls-go-fips with GOFIPS140=$fips_module)"
