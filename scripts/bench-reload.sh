#!/usr/bin/env bash
# Reload under load: wrk against fluxheim (and, for comparison, nginx) while the
# server is reloaded 20 times, alternating `fluxheim -s reload` (must exit 0) and
# SIGHUP, each reload changing a response header. Prints a Markdown table with the
# requests, non-2xx responses and socket errors wrk saw (progress on stderr).
# `make bench` runs it after scripts/bench.sh; docs/benchmarks.md has the figures.
#
#   scripts/bench-reload.sh
#
# Environment:
#   BENCH_RELOAD_DURATION=20s     wrk -d
#   BENCH_RELOADS=20              reloads during the run (spread over the first 90 %)
#   BENCH_THREADS=2 BENCH_CONNECTIONS=64   wrk -t / -c
#   BENCH_RELOAD_SERVERS="fluxheim nginx"  servers (nginx: kill -HUP, for comparison)
#   BENCH_KEEP=1                  keep the work dir
#   FLUXHEIM_BIN=PATH             use this binary instead of `make build` + bin/fluxheim
#
# Exit status: 0 no errors; 1 setup failure; 3 the table was printed but fluxheim had
# socket errors, non-2xx responses or a failed reload (nginx's errors are only shown).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_RELOAD_DURATION:-20s}"
RELOADS="${BENCH_RELOADS:-20}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
read -r -a SERVERS <<<"${BENCH_RELOAD_SERVERS:-fluxheim nginx}"
KEEP="${BENCH_KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() {
  say "bench-reload: $*"
  exit 1
}

WORK=""
FLUXHEIM=""
declare -A PID=() PORT=()

alive() { kill -0 "$1" 2>/dev/null; }

stop() {
  local name="$1" pid="${PID[$1]:-}" i
  [[ -n "${pid}" ]] || return 0
  if alive "${pid}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive "${pid}" || break
      sleep 0.1
    done
    alive "${pid}" && kill -KILL "${pid}" 2>/dev/null
  fi
  wait "${pid}" 2>/dev/null || true
  # Workers of a killed master (own session, see launch).
  pkill -KILL -s "${pid}" 2>/dev/null || true
  unset 'PID[$name]'
}

cleanup() {
  local status=$? name
  trap - EXIT INT TERM
  for name in "${!PID[@]}"; do stop "${name}"; done
  if [[ -n "${WORK}" && -d "${WORK}" ]]; then
    if [[ "${KEEP}" == 1 || (${status} -ne 0 && ${status} -ne 3) ]]; then
      say "bench-reload: work dir kept: ${WORK}"
    else
      rm -rf "${WORK}"
    fi
  fi
  exit "${status}"
}

port_busy() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }

free_port() {
  local lo _ p i
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  ((lo > 20000)) || lo=61000
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % (lo - 20000)))
    port_busy "${p}" || {
      printf '%s\n' "${p}"
      return 0
    }
  done
  die "no free port found"
}

# launch NAME LOGFILE CMD...: in its own session, so workers can be found by session.
launch() {
  local name="$1" logfile="$2"
  shift 2
  (exec setsid "$@" </dev/null >"${logfile}" 2>&1) &
  PID[$name]=$!
}

# gen NAME: the X-Gen header of a fresh request ("" when none).
gen() {
  curl -sS -m 5 -o /dev/null -D - "http://127.0.0.1:${PORT[$1]}/1k.bin" 2>/dev/null |
    tr -d '\r' | awk -F': ' 'tolower($1) == "x-gen" { print $2 }'
}

wait_ready() {
  local name="$1" i
  for ((i = 0; i < 150; i++)); do
    alive "${PID[$name]}" || die "${name} exited during startup (log: ${WORK}/${name}/out.log)"
    [[ "$(gen "${name}")" == 0 ]] && return 0
    sleep 0.1
  done
  die "${name} does not answer with X-Gen: 0 on port ${PORT[$name]}"
}

# --- fluxheim -------------------------------------------------------------------------
fluxheim_config() {
  local g="$1" dir="${WORK}/fluxheim"
  cat >"${dir}/fluxheim.toml.tmp" <<EOF
[server]
listen = ["127.0.0.1:${PORT[fluxheim]}"]

[server.process]
pid_file = "${dir}/fluxheim.pid"
control_sock = "${dir}/fluxheim.ctl"
worker_shutdown_timeout_secs = 5

[logging.access]
enabled = false

[headers.response.add]
x-gen = "${g}"

[web]
root = "${WORK}/www"
EOF
  chmod 0644 "${dir}/fluxheim.toml.tmp"
  mv "${dir}/fluxheim.toml.tmp" "${dir}/fluxheim.toml"
}

start_fluxheim() {
  mkdir -p "${WORK}/fluxheim"
  fluxheim_config 0
  launch fluxheim "${WORK}/fluxheim/out.log" "${FLUXHEIM}" -c "${WORK}/fluxheim/fluxheim.toml"
}

# reload_fluxheim N: odd reloads through the CLI (which must exit 0), even ones SIGHUP.
reload_fluxheim() {
  local n="$1"
  fluxheim_config "${n}"
  if ((n % 2 == 1)); then
    "${FLUXHEIM}" -s reload -c "${WORK}/fluxheim/fluxheim.toml" >/dev/null 2>>"${WORK}/reload-errors.log"
  else
    kill -HUP "${PID[fluxheim]}"
  fi
}

# --- nginx ----------------------------------------------------------------------------
nginx_config() {
  local g="$1" dir="${WORK}/nginx"
  cat >"${dir}/nginx.conf.tmp" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 75s;
    keepalive_requests 1000000000;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path       ${dir}/tmp/proxy;
    fastcgi_temp_path     ${dir}/tmp/fastcgi;
    uwsgi_temp_path       ${dir}/tmp/uwsgi;
    scgi_temp_path        ${dir}/tmp/scgi;
    server {
        listen 127.0.0.1:${PORT[nginx]};
        root ${WORK}/www;
        add_header X-Gen ${g};
    }
}
EOF
  mv "${dir}/nginx.conf.tmp" "${dir}/nginx.conf"
}

start_nginx() {
  mkdir -p "${WORK}/nginx/tmp"
  nginx_config 0
  launch nginx "${WORK}/nginx/out.log" nginx -p "${WORK}/nginx" -e "${WORK}/nginx/error.log" -c "${WORK}/nginx/nginx.conf"
}

reload_nginx() {
  nginx_config "$1"
  kill -HUP "${PID[nginx]}"
}

# --------------------------------------------------------------------------------------
# reloader NAME SECONDS: RELOADS reloads spread over 90 % of the run.
reloader() {
  local name="$1" secs="$2" n gap
  gap="$(awk -v s="${secs}" -v r="${RELOADS}" 'BEGIN { printf "%.3f", s * 0.9 / (r + 1) }')"
  for ((n = 1; n <= RELOADS; n++)); do
    sleep "${gap}"
    if ! "reload_${name}" "${n}"; then
      say "bench-reload: ${name}: reload ${n} failed"
      echo "${name} ${n}" >>"${WORK}/reload-failures"
    fi
  done
}

# parse FILE: "REQUESTS NON2XX CONNECT READ WRITE TIMEOUT RPS"
parse() {
  awk '
    / requests in /             { reqs = $1 }
    /Socket errors:/            { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    /^Requests\/sec:/           { rps = $2 }
    END { printf "%d %d %d %d %d %d %s\n", reqs, non2xx, c, r, w, t, rps }' "$1"
}

main() {
  local name secs status=0
  command -v wrk >/dev/null || die "wrk not found (scripts/install-bench-deps.sh)"
  command -v curl >/dev/null || die "curl not found"
  command -v ss >/dev/null || die "ss not found (iproute2)"
  secs="${DURATION%s}"
  [[ "${secs}" =~ ^[0-9]+$ ]] || die "BENCH_RELOAD_DURATION must be whole seconds (e.g. 20s)"
  [[ "${RELOADS}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RELOADS must be a positive integer"
  for name in "${SERVERS[@]}"; do
    case "${name}" in
    fluxheim)
      if [[ -n "${FLUXHEIM_BIN:-}" ]]; then
        FLUXHEIM="${FLUXHEIM_BIN}"
      else
        say "bench-reload: make build"
        make -C "${ROOT}" --no-print-directory build >&2 || die "make build failed"
        FLUXHEIM="${ROOT}/bin/fluxheim"
      fi
      [[ -x "${FLUXHEIM}" ]] || die "fluxheim binary ${FLUXHEIM} not found"
      ;;
    nginx) command -v nginx >/dev/null || die "nginx not found (BENCH_RELOAD_SERVERS=fluxheim skips it)" ;;
    *) die "unknown server '${name}' (fluxheim nginx)" ;;
    esac
  done

  WORK="$(mktemp -d "${TMPDIR:-/tmp}/fluxheim-bench-reload.XXXXXX")"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # Workers may run as another user; the config loader refuses group/world-writable
  # directories for the pid file and control socket: 0755.
  chmod 0755 "${WORK}"
  mkdir -p "${WORK}/www" "${WORK}/wrk"
  head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 >"${WORK}/www/1k.bin"
  chmod 0755 "${WORK}/www"
  chmod 0644 "${WORK}/www/1k.bin"

  declare -A R=()
  for name in "${SERVERS[@]}"; do
    PORT[$name]="$(free_port)"
    "start_${name}"
    wait_ready "${name}"
    say "bench-reload: ${name} ready on 127.0.0.1:${PORT[$name]}; wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} with ${RELOADS} reloads"
    reloader "${name}" "${secs}" &
    local rpid=$!
    wrk -t"${THREADS}" -c"${CONNECTIONS}" -d"${DURATION}" --latency \
      "http://127.0.0.1:${PORT[$name]}/1k.bin" >"${WORK}/wrk/${name}.txt" 2>&1 || die "wrk failed: $(cat "${WORK}/wrk/${name}.txt")"
    wait "${rpid}" || true
    R[$name]="$(parse "${WORK}/wrk/${name}.txt")"
    R[$name.gen]="$(gen "${name}")"
    alive "${PID[$name]}" || die "${name} died during the run"
    stop "${name}"
    say "bench-reload: ${name}: $(tr '\n' ' ' <"${WORK}/wrk/${name}.txt" | grep -o '[0-9]* requests in [^,]*')"
  done

  local cpu reqs non2xx c r w t rps failed
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf '### Reload under load, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf -- '- machine: %s cores, %s, %s; load average before the run %s\n' "$(nproc)" "${cpu:-unknown CPU}" "$(uname -sr)" "$(awk '{ print $1 }' /proc/loadavg)"
  # shellcheck disable=SC2016 # backticks are Markdown
  printf -- '- load: `wrk -t%s -c%s -d%s` on loopback, static 1 KiB file; %s reloads spread over the run, each changing a response header (fluxheim: `fluxheim -s reload` and SIGHUP alternately; nginx: SIGHUP)\n\n' \
    "${THREADS}" "${CONNECTIONS}" "${DURATION}" "${RELOADS}"
  printf '| server | requests | req/s | non-2xx | socket errors (connect / read / write / timeout) | failed reloads | header after the run |\n'
  printf '|---|---|---|---|---|---|---|\n'
  for name in "${SERVERS[@]}"; do
    read -r reqs non2xx c r w t rps <<<"${R[$name]}"
    failed="$(grep -c "^${name} " "${WORK}/reload-failures" 2>/dev/null || true)"
    printf '| %s | %s | %.0f | %s | %s (%s / %s / %s / %s) | %s | X-Gen: %s |\n' "${name}" "${reqs}" "${rps}" "${non2xx}" \
      "$((c + r + w + t))" "${c}" "${r}" "${w}" "${t}" "${failed:-0}" "${R[$name.gen]}"
    if [[ "${name}" == fluxheim ]] && ((non2xx + c + r + w + t + ${failed:-0} > 0)) || [[ "${name}" == fluxheim && "${R[$name.gen]}" != "${RELOADS}" ]]; then
      status=3
    fi
  done
  if [[ -s "${WORK}/reload-errors.log" ]]; then
    # shellcheck disable=SC2016 # backticks are Markdown
    printf '\nfluxheim -s reload stderr:\n\n```\n%s\n```\n' "$(cat "${WORK}/reload-errors.log")"
  fi
  return "${status}"
}

main "$@"
