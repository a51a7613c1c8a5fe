# shellcheck shell=bash
# Helpers shared by scripts/install-test-deps.sh and scripts/install-bench-deps.sh.
# Sourced, not run; the caller defines log() first.

# have CMD: found on PATH or in the sbin directories (not always on a user's PATH).
have() {
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root (or sudo) to run: $*"
    return 1
  fi
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:${PATH}"
  fi
  command -v go >/dev/null 2>&1 || { log "go not found (expected on PATH or /usr/local/go/bin)"; exit 1; }
}

go_bin_dir() {
  local d
  d="$(go env GOBIN)"
  [[ -n "$d" ]] || d="$(go env GOPATH)/bin"
  printf '%s\n' "$d"
}
