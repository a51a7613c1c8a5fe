#!/usr/bin/env bash
# One benchmark run, one table: fluxheim vs nginx vs Caddy on loopback, same files,
# same upstream, same run. Prints a Markdown table on stdout (progress on stderr).
#
#   scripts/bench.sh                   # what `make bench` runs (after install-bench-deps.sh)
#
# Environment:
#   BENCH_DURATION=10s      wrk -d per measurement
#   BENCH_RUNS=3            measurements per (case, server); the table shows the median
#   BENCH_WARMUP=1s         one wrk warm-up per (case, server) before run 1 ("0" = none)
#   BENCH_THREADS=2 BENCH_CONNECTIONS=64   wrk -t / -c
#   BENCH_SERVERS="fluxheim nginx caddy"   subset/order of servers under test
#   BENCH_CASES="static_1k static_1m proxy_1k php_hello php_hello_keepalive"   subset of cases
#                           (ids, see register_cases; the PHP cases need php-fpm)
#   BENCH_FEATURES=default,php-fpm   FEATURES for `make build` (must include php-fpm for the PHP cases)
#   BENCH_PHP_CHILDREN=4*nproc   php-fpm children (pm = static) for the PHP cases
#   BENCH_OUT=FILE          also write the table (with its header) to FILE
#   BENCH_KEEP=1            keep the work dir (configs, server logs, raw wrk output)
#   FLUXHEIM_BIN=PATH       use this binary instead of `make build` + bin/fluxheim
#
# Exit status: 0 clean; 1 setup failure; 3 the table was printed but some run had socket
# errors or non-2xx/3xx responses (flagged with "!" in the table).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATES="${ROOT}/scripts/bench"

DURATION="${BENCH_DURATION:-10s}"
RUNS="${BENCH_RUNS:-3}"
WARMUP="${BENCH_WARMUP:-1s}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
read -r -a SERVERS <<<"${BENCH_SERVERS:-fluxheim nginx caddy}"
KEEP="${BENCH_KEEP:-0}"
OUT="${BENCH_OUT:-}"

say() { printf '%s\n' "$*" >&2; }
die() {
  say "bench: $*"
  exit 1
}

# --------------------------------------------------------------------------------------
# Cases. One add_case line per case; this is the hook for later issues.
#
#   add_case ID LABEL PATH HOST BYTES [SERVERS] [DURING] [WRK_ARGS]
#     ID       short id (BENCH_CASES selects by id)
#     LABEL    row label in the table
#     PATH     request path; HOST the Host header ("" = none, i.e. the default vhost)
#     BYTES    expected body size of a 200 response (checked with curl before measuring)
#     SERVERS  which servers run it ("" = all of BENCH_SERVERS); the pseudo-server
#              "upstream" (the shared upstream nginx, hit directly) gets its own column
#     DURING   function started in the background during each measurement with the
#              server name as $1 (e.g. a reload loop calling reload_server "$1");
#              it is killed when wrk finishes
#     WRK_ARGS extra wrk arguments (e.g. "-s script.lua"), word-split
#
# A case that needs something running (php-fpm, ...) adds a setup function to
# SETUP_HOOKS (run after the upstream starts, before the servers) and, when the servers
# need new routes for it, the routes to scripts/bench/*.tmpl. E.g. a later
#   add_case php_hello "php hello" /hello.php "php.test" 12
#   add_case reload "static 1 KiB, reload every 1 s" /1k.bin "" 1024 "" reload_every_second
# --------------------------------------------------------------------------------------
CASE_IDS=()
declare -A CASE_LABEL=() CASE_PATH=() CASE_HOST=() CASE_BYTES=() CASE_SERVERS=()
declare -A CASE_DURING=() CASE_WRK_ARGS=()
SETUP_HOOKS=()

add_case() {
  local id="$1"
  CASE_IDS+=("$id")
  CASE_LABEL[$id]="$2"
  CASE_PATH[$id]="$3"
  CASE_HOST[$id]="$4"
  CASE_BYTES[$id]="$5"
  CASE_SERVERS[$id]="${6:-}"
  CASE_DURING[$id]="${7:-}"
  CASE_WRK_ARGS[$id]="${8:-}"
}

register_cases() {
  add_case static_1k "static 1 KiB" /1k.bin "" 1024
  add_case static_1m "static 1 MiB" /1m.bin "" 1048576
  add_case proxy_1k "proxy 1 KiB" /1k.bin proxy.test 1024 "upstream ${SERVERS[*]}"
  register_php_cases
}

# --------------------------------------------------------------------------------------
# PHP: one php-fpm master serving @WORK@/php-www/hello.php ("Hello world\n") with pools
# of PHP_CHILDREN static children each: "bench" (@WORK@/php/fpm.sock) for "php hello",
# one FastCGI connection per request (the default of all three servers); and for
# "php hello, keep-alive" one pool per server (fpm-keep-fluxheim.sock,
# fpm-keep-nginx.sock; fluxheim: pool_max_idle 4 per worker, nginx: keepalive 4 per
# worker; Caddy has no keep-alive row). Every kept connection pins a child until it is
# closed, so servers keeping connections must not share a pool: their idle connections
# would hold every child and stall everyone else. fluxheim is built with php-fpm.
# --------------------------------------------------------------------------------------
# 4 per CPU: fluxheim runs one worker per CPU with pool_max_idle = 4 each, so its kept
# connections never outnumber the children (more would pin them all and stall).
PHP_CHILDREN="${BENCH_PHP_CHILDREN:-$((4 * $(nproc)))}"
PHP_FPM=""

register_php_cases() {
  PHP_FPM="$(compgen -G '/usr/sbin/php-fpm*' | head -n 1 || true)"
  if [[ -z "${PHP_FPM}" ]]; then
    say "bench: php-fpm not found (apt-get install php-fpm); skipping the PHP cases"
    return 0
  fi
  add_case php_hello "php hello" /hello.php php.test 12
  add_case php_hello_keepalive "php hello, keep-alive" /hello.php php-keep.test 12 \
    "$(printf '%s\n' "${SERVERS[@]}" | grep -vx caddy | tr '\n' ' ')"
  SETUP_HOOKS+=(setup_php_fpm)
}

# setup_php_fpm starts php-fpm in its own session (stopped with the servers) when a
# PHP case is selected.
setup_php_fpm() {
  [[ " ${CASE_IDS[*]} " == *" php_hello"* ]] || return 0
  if [[ " ${SERVERS[*]} " == *" fluxheim "* ]] && ! grep -q php-fpm <<<"$("${FLUXHEIM}" version 2>/dev/null)"; then
    die "${FLUXHEIM} was built without the php-fpm feature (make build FEATURES=default,php-fpm)"
  fi
  local dir="${WORK}/php" owner=""
  mkdir -p "${dir}" "${WORK}/php-www"
  printf '<?php echo "Hello world\\n";\n' >"${WORK}/php-www/hello.php"
  chmod 0755 "${dir}" "${WORK}/php-www"
  chmod 0644 "${WORK}/php-www/hello.php"
  [[ "$(id -u)" -ne 0 ]] || owner=$'user = nobody\ngroup = nogroup'
  cat >"${dir}/php-fpm.conf" <<EOF_FPM
[global]
pid = ${dir}/fpm.pid
error_log = ${dir}/error.log
daemonize = no

EOF_FPM
  local pool
  for pool in bench keep-fluxheim keep-nginx; do
    cat >>"${dir}/php-fpm.conf" <<EOF_FPM

[${pool}]
${owner}
listen = ${dir}/${pool/bench/fpm}.sock
listen.mode = 0666
listen.backlog = 4096
pm = static
pm.max_children = ${PHP_CHILDREN}
pm.max_requests = 0
EOF_FPM
  done
  launch phpfpm "${dir}/stderr.log" "${PHP_FPM}" -F -y "${dir}/php-fpm.conf" -p "${dir}"
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -S "${dir}/fpm.sock" && -S "${dir}/keep-fluxheim.sock" && -S "${dir}/keep-nginx.sock" ]] && return 0
    alive "${PID[phpfpm]}" || break
    sleep 0.1
  done
  show_log phpfpm
  die "php-fpm did not create ${dir}/fpm.sock"
}

# Example DURING hook for a "reload under load" case.
reload_every_second() {
  local server="$1"
  while sleep 1; do
    reload_server "${server}" || say "bench: reload of ${server} failed"
  done
}

# --------------------------------------------------------------------------------------
# Servers. Each has start_<name> PORT (sets PID[name]) and reload_<name>.
# --------------------------------------------------------------------------------------
declare -A PORT=() PID=() LOG=() SERVER_LABEL=(
  [upstream]="upstream alone"
  [fluxheim]="fluxheim"
  [nginx]="nginx"
  [caddy]="Caddy"
)
WORK=""
WWW=""
UPSTREAM_WWW=""
FLUXHEIM=""
CADDY=""

# render TEMPLATE OUTPUT: substitute the @NAME@ placeholders.
render() {
  sed -e "s|@WORK@|${WORK}|g" \
    -e "s|@WWW@|${WWW}|g" \
    -e "s|@UPSTREAM_WWW@|${UPSTREAM_WWW}|g" \
    -e "s|@UPSTREAM_PORT@|${PORT[upstream]}|g" \
    -e "s|@PORT@|${CUR_PORT}|g" \
    "$1" >"$2"
}

# launch NAME LOGFILE CMD...: start CMD in its own session (so stray children can be
# found and killed by session) and record its PID. ( exec ... ) & records CMD's own PID.
launch() {
  local name="$1" logfile="$2"
  shift 2
  (exec setsid "$@" </dev/null >"${logfile}" 2>&1) &
  PID[$name]=$!
  LOG[$name]="${logfile}"
}

start_upstream() {
  CUR_PORT="$1"
  mkdir -p "${WORK}/upstream/tmp"
  render "${TEMPLATES}/upstream-nginx.conf.tmpl" "${WORK}/upstream/nginx.conf"
  launch upstream "${WORK}/upstream/stderr.log" \
    nginx -p "${WORK}/upstream" -e "${WORK}/upstream/error.log" -c "${WORK}/upstream/nginx.conf"
}

start_nginx() {
  CUR_PORT="$1"
  mkdir -p "${WORK}/nginx/tmp"
  render "${TEMPLATES}/nginx.conf.tmpl" "${WORK}/nginx/nginx.conf"
  launch nginx "${WORK}/nginx/stderr.log" \
    nginx -p "${WORK}/nginx" -e "${WORK}/nginx/error.log" -c "${WORK}/nginx/nginx.conf"
}

start_caddy() {
  CUR_PORT="$1"
  mkdir -p "${WORK}/caddy/data" "${WORK}/caddy/config"
  render "${TEMPLATES}/Caddyfile.tmpl" "${WORK}/caddy/Caddyfile"
  launch caddy "${WORK}/caddy/stderr.log" \
    env HOME="${WORK}/caddy" XDG_DATA_HOME="${WORK}/caddy/data" \
    XDG_CONFIG_HOME="${WORK}/caddy/config" \
    "${CADDY}" run --adapter caddyfile --config "${WORK}/caddy/Caddyfile"
}

start_fluxheim() {
  CUR_PORT="$1"
  mkdir -p "${WORK}/fluxheim"
  render "${TEMPLATES}/fluxheim.toml.tmpl" "${WORK}/fluxheim/fluxheim.toml"
  chmod 0644 "${WORK}/fluxheim/fluxheim.toml"
  launch fluxheim "${WORK}/fluxheim/stderr.log" \
    "${FLUXHEIM}" -c "${WORK}/fluxheim/fluxheim.toml"
}

reload_server() { "reload_$1"; }
reload_upstream() { kill -HUP "${PID[upstream]}"; }
reload_nginx() { kill -HUP "${PID[nginx]}"; }
reload_fluxheim() { kill -HUP "${PID[fluxheim]}"; }
reload_caddy() {
  say "bench: Caddy runs with 'admin off'; a reload case must enable the admin API"
  return 1
}

# --------------------------------------------------------------------------------------
# Processes, ports
# --------------------------------------------------------------------------------------
alive() { kill -0 "$1" 2>/dev/null; }

# stop NAME: SIGTERM, wait up to 5 s, then SIGKILL; finally SIGKILL whatever is left
# in its session (orphaned workers).
stop() {
  local name="$1" pid="${PID[$1]:-}" i
  [[ -n "${pid}" ]] || return 0
  if alive "${pid}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive "${pid}" || break
      sleep 0.1
    done
    if alive "${pid}"; then
      say "bench: ${name} (pid ${pid}) did not exit 5 s after SIGTERM; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
  fi
  wait "${pid}" 2>/dev/null || true
  if pgrep -s "${pid}" >/dev/null 2>&1; then
    say "bench: ${name}: processes left in session ${pid}; sending SIGKILL"
    pkill -KILL -s "${pid}" 2>/dev/null || true
  fi
  unset 'PID[$name]'
}

cleanup() {
  local status=$? name
  trap - EXIT INT TERM
  for name in caddy nginx fluxheim upstream phpfpm; do
    stop "${name}"
  done
  for name in "${!PORT[@]}"; do
    if port_busy "${PORT[$name]}"; then
      say "bench: WARNING: port ${PORT[$name]} (${name}) is still in use after stopping:"
      ss -Hltnp "sport = :${PORT[$name]}" >&2 || true
    fi
  done
  if [[ -n "${WORK}" && -d "${WORK}" ]]; then
    if [[ "${KEEP}" == 1 || ${status} -ne 0 && ${status} -ne 3 ]]; then
      say "bench: work dir kept: ${WORK}"
    else
      rm -rf "${WORK}"
    fi
  fi
  exit "${status}"
}

port_busy() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }

# free_port: a random port below the ephemeral range (so wrk's client sockets cannot
# take it) that nothing listens on and that we have not handed out yet.
USED_PORTS=" "
free_port() {
  local lo _ p i
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  ((lo > 20000)) || lo=61000
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % (lo - 20000)))
    [[ "${USED_PORTS}" != *" ${p} "* ]] || continue
    port_busy "${p}" && continue
    USED_PORTS+="${p} "
    printf '%s\n' "${p}"
    return 0
  done
  die "no free port found"
}

# check_port_owner NAME: every listener on the port must belong to NAME's session;
# a leftover server sharing the port through SO_REUSEPORT would skew the numbers.
check_port_owner() {
  local name="$1" port="${PORT[$1]}" pid="${PID[$1]}" p sid bad=0
  while read -r p; do
    sid="$(ps -o sid= -p "${p}" 2>/dev/null | tr -d ' ')"
    if [[ "${sid}" != "${pid}" ]]; then
      say "bench: port ${port} (${name}) is also served by pid ${p}: $(ps -o args= -p "${p}" 2>/dev/null)"
      bad=1
    fi
  done < <(ss -Hltnp "sport = :${port}" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  ((bad == 0)) || die "foreign listener on port ${port}; stop it and retry"
}

show_log() {
  local name="$1" f
  for f in "${LOG[$name]:-}" "${WORK}/${name}/error.log"; do
    if [[ -n "$f" && -s "$f" ]]; then
      say "---- ${f} (last 30 lines)"
      tail -n 30 "$f" >&2
    fi
  done
}

# fetch NAME CASE: prints "STATUS BYTES" of one request for the case.
fetch() {
  local name="$1" id="$2" host="${CASE_HOST[$2]}"
  local -a hdr=()
  [[ -z "${host}" ]] || hdr=(-H "Host: ${host}")
  curl -sS -o /dev/null -m 5 -w '%{http_code} %{size_download}' "${hdr[@]}" \
    "http://127.0.0.1:${PORT[$name]}${CASE_PATH[$id]}" 2>/dev/null || printf '000 0'
}

# wait_ready NAME CASE...: up to 15 s for the server to answer the first case with 200,
# then every case must return 200 with the expected body size.
wait_ready() {
  local name="$1" i got id
  shift
  for ((i = 0; i < 150; i++)); do
    if ! alive "${PID[$name]}"; then
      show_log "${name}"
      die "${name} exited during startup"
    fi
    got="$(fetch "${name}" "$1")"
    [[ "${got}" == 200\ * ]] && break
    sleep 0.1
  done
  for id in "$@"; do
    got="$(fetch "${name}" "${id}")"
    if [[ "${got}" != "200 ${CASE_BYTES[$id]}" ]]; then
      show_log "${name}"
      die "${name}: ${CASE_LABEL[$id]}: expected '200 ${CASE_BYTES[$id]}' (status bytes), got '${got}'"
    fi
  done
  check_port_owner "${name}"
}

# --------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------
# run_wrk NAME CASE DURATION OUTFILE
run_wrk() {
  local name="$1" id="$2" duration="$3" outfile="$4" during_pid="" status=0
  local -a args=(-t"${THREADS}" -c"${CONNECTIONS}" -d"${duration}" --latency)
  [[ -z "${CASE_HOST[$id]}" ]] || args+=(-H "Host: ${CASE_HOST[$id]}")
  if [[ -n "${CASE_WRK_ARGS[$id]}" ]]; then
    local -a extra
    read -r -a extra <<<"${CASE_WRK_ARGS[$id]}"
    args+=("${extra[@]}")
  fi
  if [[ -n "${CASE_DURING[$id]}" ]]; then
    "${CASE_DURING[$id]}" "${name}" &
    during_pid=$!
  fi
  wrk "${args[@]}" "http://127.0.0.1:${PORT[$name]}${CASE_PATH[$id]}" >"${outfile}" 2>&1 || status=$?
  if [[ -n "${during_pid}" ]]; then
    kill "${during_pid}" 2>/dev/null || true
    wait "${during_pid}" 2>/dev/null || true
  fi
  if ((status != 0)); then
    cat "${outfile}" >&2
    die "wrk failed (exit ${status}) for ${name} / ${CASE_LABEL[$id]}"
  fi
}

# parse_wrk FILE: prints "RPS P99_MS SOCKET_ERRORS NON2XX REQUESTS".
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/)  return v * 60000
      if (v ~ /s$/)  return v * 1000
      return v + 0
    }
    /^Requests\/sec:/           { rps = $2 }
    $1 == "99%"                 { p99 = ms($2) }
    /Socket errors:/            { gsub(/,/, ""); sock = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    / requests in /             { reqs = $1 }
    END {
      if (rps == "" || p99 == "") exit 1
      printf "%s %s %d %d %d\n", rps, p99, sock, non2xx, reqs
    }' "$1"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) exit 1
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

sum() { tr ' ' '\n' | awk '{ s += $1 } END { print s + 0 }'; }

group() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

declare -A RPS=() P99=() SOCKERR=() NON2XX=()
LOAD_BEFORE=""

loadavg() { awk '{ print $1 }' /proc/loadavg; }

# --------------------------------------------------------------------------------------
main() {
  local name id r

  command -v wrk >/dev/null || die "wrk not found (scripts/install-bench-deps.sh)"
  command -v curl >/dev/null || die "curl not found"
  command -v ss >/dev/null || die "ss not found (iproute2)"
  command -v setsid >/dev/null || die "setsid not found (util-linux)"
  [[ "${RUNS}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

  register_cases
  if [[ -n "${BENCH_CASES:-}" ]]; then
    local -a wanted keep=()
    read -r -a wanted <<<"${BENCH_CASES}"
    for id in "${wanted[@]}"; do
      [[ -n "${CASE_LABEL[$id]:-}" ]] || die "unknown case '${id}' (have: ${CASE_IDS[*]})"
      keep+=("${id}")
    done
    CASE_IDS=("${keep[@]}")
  fi
  for id in "${CASE_IDS[@]}"; do
    [[ -n "${CASE_SERVERS[$id]}" ]] || CASE_SERVERS[$id]="${SERVERS[*]}"
  done

  for name in "${SERVERS[@]}"; do
    case "${name}" in
    nginx) command -v nginx >/dev/null || die "nginx not found" ;;
    caddy)
      CADDY="$(command -v caddy || true)"
      if [[ -z "${CADDY}" ]]; then
        local gobin
        gobin="$(go env GOBIN 2>/dev/null || true)"
        [[ -n "${gobin}" ]] || gobin="$(go env GOPATH 2>/dev/null || echo "${HOME}/go")/bin"
        CADDY="${gobin}/caddy"
      fi
      [[ -x "${CADDY}" ]] || die "caddy not found (scripts/install-bench-deps.sh)"
      ;;
    fluxheim)
      if [[ -n "${FLUXHEIM_BIN:-}" ]]; then
        FLUXHEIM="${FLUXHEIM_BIN}"
      else
        say "bench: make build"
        make -C "${ROOT}" --no-print-directory build FEATURES="${BENCH_FEATURES:-default,php-fpm}" >&2 || die "make build failed (BENCH_SERVERS='nginx caddy' skips fluxheim)"
        FLUXHEIM="${ROOT}/bin/fluxheim"
      fi
      [[ -x "${FLUXHEIM}" ]] || die "fluxheim binary ${FLUXHEIM} not found"
      ;;
    *) die "unknown server '${name}' in BENCH_SERVERS (fluxheim nginx caddy)" ;;
    esac
  done
  command -v nginx >/dev/null || die "nginx not found (the upstream is an nginx)"

  WORK="$(mktemp -d "${TMPDIR:-/tmp}/fluxheim-bench.XXXXXX")"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # Workers may run as another user (nginx: nobody; fluxheim: its configured user).
  chmod 0755 "${WORK}"
  WWW="${WORK}/www"
  UPSTREAM_WWW="${WORK}/upstream-www"
  mkdir -p "${WWW}" "${UPSTREAM_WWW}" "${WORK}/wrk"
  head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 >"${WWW}/1k.bin"
  head -c 1048576 /dev/urandom >"${WWW}/1m.bin"
  cp "${WWW}/1k.bin" "${UPSTREAM_WWW}/1k.bin"
  chmod 0755 "${WWW}" "${UPSTREAM_WWW}"
  chmod 0644 "${WWW}"/* "${UPSTREAM_WWW}"/*

  # Which cases each server must answer (for the readiness check).
  declare -A server_cases=()
  for id in "${CASE_IDS[@]}"; do
    for name in ${CASE_SERVERS[$id]}; do
      server_cases[$name]+="${id} "
    done
  done

  # The upstream runs whenever a server under test proxies (always, by default).
  PORT[upstream]="$(free_port)"
  for name in "${SERVERS[@]}"; do
    PORT[$name]="$(free_port)"
  done
  say "bench: work dir ${WORK}; ports: $(for n in "${!PORT[@]}"; do printf '%s=%s ' "$n" "${PORT[$n]}"; done)"

  LOAD_BEFORE="$(loadavg)"
  if awk -v l="${LOAD_BEFORE}" 'BEGIN { exit !(l > 0.5) }'; then
    say "bench: WARNING: load average ${LOAD_BEFORE}; other processes compete for the CPUs and skew the figures"
  fi
  start_upstream "${PORT[upstream]}"
  # shellcheck disable=SC2086 # the case list is word-split on purpose
  wait_ready upstream ${server_cases[upstream]:-proxy_1k}
  local hook
  for hook in "${SETUP_HOOKS[@]}"; do
    "${hook}"
  done
  for name in "${SERVERS[@]}"; do
    port_busy "${PORT[$name]}" && die "port ${PORT[$name]} for ${name} got taken"
    "start_${name}" "${PORT[$name]}"
  done
  for name in "${SERVERS[@]}"; do
    # shellcheck disable=SC2086
    wait_ready "${name}" ${server_cases[$name]}
    say "bench: ${name} ready on 127.0.0.1:${PORT[$name]} (pid ${PID[$name]})"
  done

  # Plan and time estimate.
  local total=0 secs
  for id in "${CASE_IDS[@]}"; do
    for name in ${CASE_SERVERS[$id]}; do total=$((total + 1)); done
  done
  secs="$(sed -E 's/s$//' <<<"${DURATION}")"
  if [[ "${secs}" =~ ^[0-9]+$ ]]; then
    say "bench: ${total} (case, server) pairs x ${RUNS} runs x ${DURATION} ≈ $(((total * RUNS * secs + 59) / 60)) min"
  fi

  if [[ "${WARMUP}" != 0 ]]; then
    for id in "${CASE_IDS[@]}"; do
      for name in ${CASE_SERVERS[$id]}; do
        run_wrk "${name}" "${id}" "${WARMUP}" "${WORK}/wrk/warmup.${id}.${name}.txt"
      done
    done
  fi

  # Runs are interleaved (run 1 of every pair, then run 2, ...) so drift on the
  # machine spreads over all servers instead of hitting one of them.
  local n=0 f parsed rps p99 sock non2xx
  for ((r = 1; r <= RUNS; r++)); do
    for id in "${CASE_IDS[@]}"; do
      for name in ${CASE_SERVERS[$id]}; do
        n=$((n + 1))
        f="${WORK}/wrk/${id}.${name}.${r}.txt"
        run_wrk "${name}" "${id}" "${DURATION}" "${f}"
        alive "${PID[$name]}" || {
          show_log "${name}"
          die "${name} died during ${CASE_LABEL[$id]}"
        }
        parsed="$(parse_wrk "${f}")" || {
          cat "${f}" >&2
          die "cannot parse wrk output for ${name} / ${CASE_LABEL[$id]}"
        }
        read -r rps p99 sock non2xx _ <<<"${parsed}"
        RPS[$id|$name]+="${rps} "
        P99[$id|$name]+="${p99} "
        SOCKERR[$id|$name]+="${sock} "
        NON2XX[$id|$name]+="${non2xx} "
        say "$(printf 'bench: [%2d/%d] run %d %-14s %-14s %10s req/s  p99 %8.2f ms  socket errors %d  non-2xx %d' \
          "${n}" "$((total * RUNS))" "${r}" "${CASE_LABEL[$id]}" "${name}" "$(group "${rps}")" "${p99}" "${sock}" "${non2xx}")"
      done
    done
  done

  report | if [[ -n "${OUT}" ]]; then tee "${OUT}"; else cat; fi
  [[ ! -e "${WORK}/.errors" ]] || exit 3
}

# cell CASE SERVER: "40,712 req/s, p99 3.21 ms" (+ "! N errors" when any run had errors)
cell() {
  local key="$1|$2" rps p99 errs
  if [[ -z "${RPS[$key]:-}" ]]; then
    printf -- '-'
    return
  fi
  rps="$(median <<<"${RPS[$key]}")"
  p99="$(median <<<"${P99[$key]}")"
  errs=$(($(sum <<<"${SOCKERR[$key]}") + $(sum <<<"${NON2XX[$key]}")))
  printf '%s req/s, p99 %.2f ms' "$(group "${rps}")" "${p99}"
  if ((errs > 0)); then
    printf ' **! %d errors**' "${errs}"
    : >"${WORK}/.errors"
  fi
}

ratio() {
  local a="${RPS[$1|$2]:-}" b="${RPS[$1|$3]:-}"
  if [[ -z "$a" || -z "$b" ]]; then
    printf 'n/a'
    return
  fi
  awk -v a="$(median <<<"$a")" -v b="$(median <<<"$b")" 'BEGIN { printf "%.2f×", a / b }'
}

report() {
  local id name cpu v
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf '### fluxheim benchmark, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf -- '- machine: %s cores, %s, %s\n' "$(nproc)" "${cpu:-unknown CPU}" "$(uname -sr)"
  # shellcheck disable=SC2016 # backticks are Markdown
  printf -- '- load: `wrk -t%s -c%s -d%s --latency` on loopback, median of %s runs (interleaved), warm-up %s\n' \
    "${THREADS}" "${CONNECTIONS}" "${DURATION}" "${RUNS}" "${WARMUP}"
  printf -- '- versions: fluxheim %s; %s; Caddy v2.11.9 (go install); %s\n' \
    "$(fluxheim_version)" "$(nginx -v 2>&1 | sed 's/^nginx version: //')" "$( (wrk -v 2>&1 || true) | head -n 1 | awk '{ print $1, $2 }')"
  printf -- '- upstream for the proxy rows: nginx, 1 worker, 1 KiB file; "upstream alone" is wrk straight at it\n'
  printf -- '- load average (1 min) before / after the run: %s / %s\n\n' "${LOAD_BEFORE}" "$(loadavg)"
  if awk -v l="${LOAD_BEFORE}" 'BEGIN { exit !(l > 0.5) }'; then
    printf '**WARNING: the machine was not idle when the run started (load %s): other work shares the cores and the figures are noisy.**\n\n' "${LOAD_BEFORE}"
  fi

  printf '| case | upstream alone | %s | fluxheim/nginx | fluxheim/Caddy |\n' \
    "$(for name in "${SERVERS[@]}"; do printf '%s | ' "${SERVER_LABEL[$name]}"; done | sed 's/ | $//')"
  printf '|---|---|'
  for name in "${SERVERS[@]}"; do printf -- '---|'; done
  printf -- '---|---|\n'
  for id in "${CASE_IDS[@]}"; do
    printf '| %s | %s | ' "${CASE_LABEL[$id]}" "$(cell "${id}" upstream)"
    for name in "${SERVERS[@]}"; do printf '%s | ' "$(cell "${id}" "${name}")"; done
    printf '%s | %s |\n' "$(ratio "${id}" fluxheim nginx)" "$(ratio "${id}" fluxheim caddy)"
  done
  printf '\nRatios are req/s (median) of fluxheim divided by the other server, same run.\n'
  printf '\nPer-run req/s (run 1, 2, ...; spread = (max - min) / median):\n\n'
  for id in "${CASE_IDS[@]}"; do
    for name in upstream "${SERVERS[@]}"; do
      local key="${id}|${name}" runs=""
      [[ -n "${RPS[$key]:-}" ]] || continue
      for v in ${RPS[$key]}; do runs+="$(group "$v") "; done
      printf -- '- %s / %s: %s(spread %s)\n' "${CASE_LABEL[$id]}" "${SERVER_LABEL[$name]}" "${runs}" \
        "$(tr ' ' '\n' <<<"${RPS[$key]}" | grep -v '^$' | sort -g | awk -v m="$(median <<<"${RPS[$key]}")" \
          '{ v[NR] = $1 } END { printf "%.0f%%", (v[NR] - v[1]) / m * 100 }')"
    done
  done
  printf '\n'
  if [[ -e "${WORK}/.errors" ]]; then
    printf '**WARNING: some runs had socket errors or non-2xx/3xx responses; those figures are not valid:**\n\n'
    for id in "${CASE_IDS[@]}"; do
      for name in upstream "${SERVERS[@]}"; do
        local key="${id}|${name}"
        [[ -n "${RPS[$key]:-}" ]] || continue
        if (($(sum <<<"${SOCKERR[$key]}") + $(sum <<<"${NON2XX[$key]}") > 0)); then
          printf -- '- %s / %s: socket errors per run [%s], non-2xx/3xx per run [%s]\n' \
            "${CASE_LABEL[$id]}" "${SERVER_LABEL[$name]}" "${SOCKERR[$key]% }" "${NON2XX[$key]% }"
        fi
      done
    done
  else
    printf 'No socket errors and no non-2xx/3xx responses in any run.\n'
  fi
}

fluxheim_version() {
  if [[ -z "${FLUXHEIM}" ]]; then
    printf 'not run'
    return
  fi
  local v
  v="$(timeout 5 "${FLUXHEIM}" version 2>/dev/null | head -n 1 || true)"
  v="${v#fluxheim }"
  printf '%s' "${v:-$(git -C "${ROOT}" describe --tags --always --dirty 2>/dev/null || echo dev)}"
}

main "$@"
