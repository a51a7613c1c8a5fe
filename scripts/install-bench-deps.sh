#!/usr/bin/env bash
# Installs what scripts/bench.sh needs, only what is missing:
#   apt:  nginx, wrk, hyperfine, curl, iproute2 (ss)
#   go:   Caddy v2.11.9 into GOBIN / GOPATH/bin (a ~3.5 min build on 2 cores; cached)
# Idempotent: when everything is present it touches neither apt nor the network.
set -euo pipefail

CADDY_VERSION="v2.11.9"
CADDY_PKG="github.com/caddyserver/caddy/v2/cmd/caddy@${CADDY_VERSION}"

export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-bench-deps: %s\n' "$*" >&2; }

# shellcheck source=scripts/install-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"

main() {
  local -a missing=()
  have nginx || missing+=(nginx)
  have wrk || missing+=(wrk)
  have hyperfine || missing+=(hyperfine)
  have curl || missing+=(curl ca-certificates)
  have ss || missing+=(iproute2)
  if ((${#missing[@]} > 0)); then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  ensure_go
  local dir
  dir="$(go_bin_dir)"
  if [[ ! -x "${dir}/caddy" ]]; then
    log "go install ${CADDY_PKG} (about 3.5 minutes on 2 cores; cached afterwards)"
    (cd / && GOFLAGS='' go install "${CADDY_PKG}")
    [[ -x "${dir}/caddy" ]] || { log "caddy not found in ${dir} after go install"; exit 1; }
  fi

  log "ok (nginx, wrk, hyperfine, curl, ss, caddy in ${dir})"
}

main "$@"
