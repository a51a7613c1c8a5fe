#!/usr/bin/env bash
# Installs the external tools the test suite uses, only those that are missing:
#   apt:  curl, openssl, nghttp2-client (h2load, nghttp), php-fpm + php-cli,
#         gcc + libc6-dev (go test -race needs cgo)
#   go:   pebble and pebble-challtestsrv (ACME test CA) into GOBIN / GOPATH/bin
# Idempotent: when everything is present it touches neither apt nor the network.
set -euo pipefail

PEBBLE_VERSION="v2.10.1"
PEBBLE_MODULE="github.com/letsencrypt/pebble/v2"

export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

# shellcheck source=scripts/install-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"

have_php_fpm() {
  compgen -G '/usr/sbin/php-fpm*' >/dev/null || command -v php-fpm >/dev/null 2>&1
}

apt_install_missing() {
  local -a pkgs=("$@")
  ((${#pkgs[@]} > 0)) || return 0
  # Deduplicate while keeping order.
  local -A seen=()
  local -a uniq=()
  local p
  for p in "${pkgs[@]}"; do
    if [[ -z "${seen[$p]:-}" ]]; then
      seen[$p]=1
      uniq+=("$p")
    fi
  done
  log "apt-get install ${uniq[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${uniq[@]}" >/dev/null
}

# go_install NAME PACKAGE@VERSION: installs unless GOBIN/NAME already exists.
go_install() {
  local name="$1" pkg="$2" dir
  dir="$(go_bin_dir)"
  if [[ -x "${dir}/${name}" ]]; then
    return 0
  fi
  log "go install ${pkg}"
  # Run outside the module so its go.mod and GOFLAGS=-mod=... cannot interfere.
  (cd / && GOFLAGS='' go install "${pkg}")
  [[ -x "${dir}/${name}" ]] || { log "${name} not found in ${dir} after go install"; exit 1; }
}

main() {
  local -a missing=()
  have curl || missing+=(curl ca-certificates)
  have openssl || missing+=(openssl)
  have h2load || missing+=(nghttp2-client)
  have nghttp || missing+=(nghttp2-client)
  have_php_fpm || missing+=(php-fpm)
  have php || missing+=(php-cli)
  have gcc || missing+=(gcc)
  [[ -e /usr/include/stdlib.h ]] || missing+=(libc6-dev)
  apt_install_missing "${missing[@]}"

  ensure_go
  go_install pebble "${PEBBLE_MODULE}/cmd/pebble@${PEBBLE_VERSION}"
  go_install pebble-challtestsrv "${PEBBLE_MODULE}/cmd/pebble-challtestsrv@${PEBBLE_VERSION}"

  log "ok (curl, openssl, h2load, nghttp, php-fpm, php, gcc, pebble, pebble-challtestsrv in $(go_bin_dir))"
}

main "$@"
