#!/usr/bin/env bash
# Registrar benchmark (issue 3): REGISTERs per CPU-second of the server, itsp against
# Kamailio 5.6 in the same run, without and with digest authentication. See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'EOF'
Usage: bench/registrar.sh [OPTIONS]

REGISTERs per CPU-second of the server (user+system time of its processes, from
/proc/PID/stat), itsp against Kamailio 5.6 (configs in bench/peers/), in one run:

  no auth   sipp bench/peers/reg-load-prefix.xml (a distinct user per call) against
            Kamailio (kamailio-proxy.cfg: in-memory registrar, udp 127.0.0.1:5080) and
            itsp serve --trusted 127.0.0.1 (not challenged; every binding committed to
            SQLite, in batches, before the 200: survives kill -9; with --sync-to-disk
            also fsynced), udp 127.0.0.1:5070.
  auth      sipp bench/peers/reg-auth-load.xml (401, then REGISTER with MD5 digest
            credentials; a distinct subscriber per call from an injection file) against
            Kamailio (kamailio-registrar-auth.cfg: auth_db on SQLite, udp 127.0.0.1:5081)
            and itsp serve (no --trusted), each with the same N subscribers. (sipp 3.6.1
            answers only an MD5 challenge that comes first: itsp offers MD5 first by
            default, see [auth] algorithms.)
  memory    (only with --only memory) the no-auth load, --memory-users distinct users at
            --memory-rate, and the server's resident memory read before and after: VmRSS
            and Pss (proportional: Kamailio's processes share their shm; one process: the
            same as VmRSS) summed over the server's processes, from /proc/PID/status and
            /proc/PID/smaps_rollup, 2 s after the last REGISTER. Printed per 100k bindings.

With --tls the no-auth part runs over TLS instead: Kamailio with its tls module
(kamailio-proxy.cfg with a tls: listener on 127.0.0.1:5090, 2 TCP workers) and itsp
serve with a tls: listener on 127.0.0.1:5071, both with the same self-signed certificate
(openssl); each sipp opens one TCP connection (-t t1) to a local stunnel that carries it
over TLS to the server (stunnel's CPU, like sipp's, is the load generator's). Needs
stunnel4, openssl and kamailio-tls-modules. With --tls-direct each sipp speaks TLS itself
over its one connection (-t l1, no stunnel): Debian's sipp has no TLS, so name a sipp
built with it in SIPP=PATH (`SIPp v...-TLS-` in its `sipp -v`). (A TLS connection per
REGISTER, -t ln, cannot be measured with sipp 3.7: its TLS connect retries every 200 ms
in its main loop, so it keeps about 5 calls a second.)

Figure = successful calls / CPU-seconds of the server during the sipp run. Prints a
Markdown table with the ratio itsp/Kamailio.

The load generator: the offered rate is split over ceil(rate / --per-sipp) sipp processes
(udp ports 5099, 5100, ...), each with its share of the rate and the count (and, for auth,
its share of the subscribers). After the run the rate the sipps kept (calls started /
their elapsed time) and their CPU use are printed, with a warning when they kept less than
95% of the offered rate or a sipp used more than 85% of a core: then the figures are those
of a saturated load generator, not of the server. Installs nothing; needs sipp, kamailio,
kamailio-sqlite-modules, sqlite3, python3 and ss. Every process it starts is stopped on
exit; all traffic is on 127.0.0.1 (ports 5070, 5080, 5081 and 5099 onwards must be free).

Options:
  --rate R          calls per second, no-auth part (default 2000)
  --count N         calls, no-auth part (default 40000)
  --auth-rate R     calls per second, auth part (default 1000)
  --auth-count N    calls, auth part (default 20000; users are reused past --users)
  --users N         subscribers provisioned for the auth part (default 20000)
  --only PART       run only `noauth`, `auth` or `memory`
  --memory-users N  distinct users registered by the memory part (default 100000)
  --memory-rate R   their rate, REGISTERs per second (default 2000)
  --per-sipp R      at most R calls per second per sipp process (default 1000)
  --summary FILE    also append one line per run to FILE, fields separated by |:
                    workload|peer|offered rate|count|ok|failed|kept rate|sipp CPU %|sipps|
                    server CPU s|memory (kB: VmRSS before, after; Pss before, after)
                    (what bench/run.sh reads)
  --itsp-log LEVEL  itsp's --log filter (default info; the line per REGISTER is at debug)
  --sync-to-disk    itsp with [registrar] sync_to_disk = true: each binding commit is
                    fsynced before the 200 (survives a power loss; default: the kernel has
                    it, which survives kill -9)
  --pike N          itsp's [guard] pike_requests (default 0: the flood limit off, as sipp
                    is one source sending thousands a second); a number far above the load
                    (e.g. 1000000000) keeps the guard's counting on without a ban, to
                    measure what the guards cost (the auth part: its source is not trusted)
  --tls             the no-auth part over TLS (see above); implies --only noauth
  --tls-direct      the same with sipp's own TLS instead of the stunnel (needs SIPP=PATH)
  --keep            keep the temporary directory (logs, databases, sipp statistics)
  -h, --help        this text

Example: bench/registrar.sh --rate 2000 --count 40000 --auth-rate 1000 --auth-count 20000
EOF
}

rate=2000 count=40000 auth_rate=1000 auth_count=20000 users=20000
parts="noauth auth" itsp_log=info keep=0 sync_to_disk=0 pike=0 tls=0 tls_direct=0
# The sipp to run: SIPP=PATH for another build (one with TLS for --tls-direct).
sipp_bin=${SIPP:-sipp}
mem_users=100000 mem_rate=2000 per_sipp=1000 summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --auth-rate) auth_rate=$2; shift 2 ;;
    --auth-count) auth_count=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --only)
      case "$2" in
        noauth | auth | memory) parts=$2 ;;
        *) echo "--only noauth|auth|memory" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --memory-users) mem_users=$2; shift 2 ;;
    --memory-rate) mem_rate=$2; shift 2 ;;
    --per-sipp) per_sipp=$2; shift 2 ;;
    --summary) summary=$2; shift 2 ;;
    --itsp-log) itsp_log=$2; shift 2 ;;
    --sync-to-disk) sync_to_disk=1; shift ;;
    --pike) pike=$2; shift 2 ;;
    --tls) tls=1; parts=noauth; shift ;;
    --tls-direct) tls=1; tls_direct=1; parts=noauth; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rate" "$count" "$auth_rate" "$auth_count" "$users" "$mem_users" "$mem_rate" "$per_sipp"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done
[[ "$pike" =~ ^[0-9]+$ ]] || { echo "--pike: a number of requests, 0 for off" >&2; exit 2; }

[ -z "$summary" ] || summary=$(realpath -m "$summary")
cd "$(dirname "$0")/.."
repo=$(pwd)
shared=$repo/bench/peers

# --- what must be installed -------------------------------------------------------------
kam_modules=/usr/lib/x86_64-linux-gnu/kamailio/modules   # the cfgs' mpath
missing=()
command -v "$sipp_bin" >/dev/null || missing+=(sip-tester)
command -v kamailio >/dev/null || missing+=(kamailio)
[ -e "$kam_modules/db_sqlite.so" ] || missing+=(kamailio-sqlite-modules)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v python3 >/dev/null || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
# (`sipp -v` exits with a status of its own: its output is read first.)
if [ "$tls_direct" = 1 ] && [[ "$("$sipp_bin" -v 2>&1 || true)" != *-TLS* ]]; then
  echo "--tls-direct: $sipp_bin has no TLS; set SIPP to a sipp built with it" >&2
  exit 1
fi
if [ "$tls" = 1 ]; then
  command -v stunnel4 >/dev/null || missing+=(stunnel4)
  command -v openssl >/dev/null || missing+=(openssl)
  [ -e "$kam_modules/tls.so" ] || missing+=(kamailio-tls-modules)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: apt-get install ${missing[*]}" >&2
  exit 1
fi
for port in 5070 5080 5081 5099 5100 5101 5102; do
  if [ -n "$(ss -Hlun "sport = :$port")" ]; then
    echo "udp port $port is in use on this machine; stop what holds it first" >&2
    exit 1
  fi
done

# --- processes and clean-up -----------------------------------------------------------
tmp=$(mktemp -d /tmp/itsp-bench-registrar.XXXXXX)
started=()   # every process this script started (servers)

descendants() { # PID: its child processes, recursively
  local c
  for c in $(pgrep -P "$1" || true); do
    echo "$c"
    descendants "$c"
  done
}

stop() { # PID: SIGTERM it and its descendants, wait up to 10 s, then SIGKILL what is left
  local pid=$1 i
  local -a all
  mapfile -t all < <(echo "$pid"; descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    local alive=0 p
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -0 "$pid" 2>/dev/null && stop "$pid"
  done
  if [ "$keep" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_udp() { # PORT PID [-t]: wait until udp (with -t: tcp) PORT is bound (at most 15 s)
  # while PID lives
  local i kind=u
  [ "${3:-}" = -t ] && kind=t
  for ((i = 0; i < 150; i++)); do
    [ -n "$(ss "-Hl${kind}n" "sport = :$1")" ] && { sleep 0.5; return 0; }
    kill -0 "$2" 2>/dev/null || { echo "the server (pid $2) exited at start" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on port $1 after 15 s" >&2
  return 1
}

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # PID...: user+system clock ticks of these processes (/proc/PID/stat 14, 15)
  local pid t=0 rest
  for pid in "$@"; do
    rest=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${rest##*) }   # after "PID (comm) ": field 3 (state) is word 1
    read -r -a f <<<"$rest"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
server_pids() { # MAIN_PID: it and its descendants (Kamailio forks its workers), one a line
  echo "$1"
  descendants "$1"
}

children_cpu() { # user+system seconds of this shell's reaped children so far (bash `times`,
  # run in this shell: a command substitution would be a fresh process)
  times >"$tmp/times"
  awk 'NR == 2 {
    split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' \
    "$tmp/times"
}
memory_kb() { # PID...: "VmRSS Pss" summed over these processes, kB
  local pid rss=0 pss=0 v
  for pid in "$@"; do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && rss=$((rss + ${v:-0}))
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) && pss=$((pss + ${v:-0}))
  done
  echo "$rss $pss"
}

# --- build ------------------------------------------------------------------------------
echo "building itsp (release) ..."
cargo build --release -q -p itsp
itsp=$repo/target/release/itsp

# --- one measured load against one server --------------------------------------------------
results=()   # lines: peer|work|ok|failed|retrans|wall|cpu
sipp_procs() { # RATE: how many sipp processes share it
  local p=$((($1 + per_sipp - 1) / per_sipp))
  [ "$p" -le 4 ] || p=4   # ports 5099-5102
  echo "$p"
}
# PEER WORK MAIN_PID NAME WORKLOAD RATE COUNT sipp-args...: run the sipps, record the figures.
# In the sipp arguments @I@ stands for the process's index (0, 1, ...): a user prefix or an
# injection file per process.
measure() {
  local peer=$1 work=$2 main=$3 name=$4 workload=$5 r=$6 n=$7
  shift 7
  local procs before after limit=$((n / r + 60)) i
  local -a pids jobs=()
  procs=$(sipp_procs "$r")
  mapfile -t pids < <(server_pids "$main")
  local mem_before="" mem_after=""
  [ "$workload" = memory ] && mem_before=$(memory_kb "${pids[@]}")
  local gen_before gen_after
  children_cpu >"$tmp/cpu.before"
  gen_before=$(<"$tmp/cpu.before")
  before=$(cpu_ticks "${pids[@]}")
  for ((i = 0; i < procs; i++)); do
    # Each process: its share of the rate and count (the first takes the remainders).
    local ri=$((r / procs)) ni=$((n / procs))
    [ "$i" = 0 ] && ri=$((ri + r % procs)) ni=$((ni + n % procs))
    local -a args=("${@//@I@/$i}")
    # In the background and waited for, so that a signal to this script stops it at once.
    timeout -k 5 $((limit + 30)) "$sipp_bin" "${args[@]}" -i 127.0.0.1 -p $((5099 + i)) -r "$ri" \
      -rp 1000 -m "$ni" -timeout "${limit}s" -buff_size 4194304 -nostdin \
      -trace_stat -stf "$tmp/$name.$i.csv" -trace_err -error_file "$tmp/$name.$i.errors" \
      >"$tmp/$name.$i.sipp.out" 2>&1 &
    jobs+=("$!")
    started+=("$!")
  done
  local job rc
  for job in "${jobs[@]}"; do
    rc=0
    wait "$job" || rc=$?
    case $rc in
      0 | 1) ;;   # 1: some calls failed, counted below
      *) echo "warning: sipp exited with status $rc against $peer (see --keep)" >&2 ;;
    esac
  done
  after=$(cpu_ticks "${pids[@]}")
  if [ "$workload" = memory ]; then
    sleep 2
    mem_after=$(memory_kb "${pids[@]}")
  fi
  children_cpu >"$tmp/cpu.after"
  gen_after=$(<"$tmp/cpu.after")
  kill -0 "$main" 2>/dev/null || echo "warning: $peer exited during the run" >&2
  local last ok=0 failed=0 retrans=0 wall=0 kept=0
  for ((i = 0; i < procs; i++)); do
    [ -s "$tmp/$name.$i.csv" ] || continue
    last=$(tail -n 1 "$tmp/$name.$i.csv")
    # Fields: 5 ElapsedTime(C), 12 OutgoingCall(C), 16 SuccessfulCall(C), 18 FailedCall(C),
    # 58 Retransmissions(C)
    IFS=';' read -r -a f <<<"$last"
    ok=$((ok + f[15])) failed=$((failed + f[17])) retrans=$((retrans + f[57]))
    # Wall time from StartTime and CurrentTime ("date<TAB>time<TAB>epoch"; ElapsedTime is
    # in whole seconds); the rate kept: field 8, CallRate(C).
    read -r wall kept < <(awk -v t0="${f[0]}" -v t1="${f[2]}" -v cr="${f[7]}" -v w="$wall" \
      -v k="$kept" 'BEGIN {
      n0 = split(t0, a, "\t"); n1 = split(t1, b, "\t"); e = b[n1] - a[n0]
      if (e > w) w = e; k += cr; printf "%.1f %.0f\n", w, k }')
  done
  local cpu gen_pct
  cpu=$(awk -v a="$before" -v b="$after" -v hz="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / hz }')
  gen_pct=$(awk -v a="$gen_before" -v b="$gen_after" -v w="$wall" -v p="$procs" \
    'BEGIN { if (w > 0) printf "%.0f", 100 * (b - a) / w / p; else print 0 }')
  results+=("$peer|$work|$ok|$failed|$retrans|$wall|$cpu")
  printf '  %-8s %-40s ok %s failed %s retransmissions %s, %s s, server CPU %s s\n' \
    "$peer" "$work" "$ok" "$failed" "$retrans" "$wall" "$cpu"
  printf '           load: %s sipp process(es), %s calls/s kept of %s offered, %s%% of a core each\n' \
    "$procs" "$kept" "$r" "$gen_pct"
  if [ "$kept" -lt $((r * 95 / 100)) ]; then
    echo "  warning: the sipps kept $kept calls/s of $r offered: load generator or server saturated" >&2
  fi
  if [ "$gen_pct" -ge 85 ]; then
    echo "  warning: a sipp used $gen_pct% of a core: the load generator saturates (lower --per-sipp)" >&2
  fi
  if [ -n "$mem_before" ]; then
    read -r rss0 pss0 <<<"$mem_before"
    read -r rss1 pss1 <<<"$mem_after"
    awk -v a="$rss0" -v b="$rss1" -v c="$pss0" -v d="$pss1" -v n="$ok" 'BEGIN {
      printf "           memory: VmRSS %.1f -> %.1f MiB, Pss %.1f -> %.1f MiB: %.1f MiB (Pss) per 100k bindings\n",
        a / 1024, b / 1024, c / 1024, d / 1024, (n > 0 ? (d - c) / 1024 * 100000 / n : 0) }'
  fi
  if [ -n "$summary" ]; then
    echo "$workload|$peer|$r|$n|$ok|$failed|$kept|$gen_pct|$procs|$cpu|$mem_before $mem_after" >>"$summary"
  fi
}

start_kamailio() { # CFG NAME [-A define]...: starts Kamailio in the foreground of a job; sets $kam
  local cfg=$1 name=$2
  shift 2
  kamailio -DD -E -f "$cfg" "$@" -P "$tmp/$name.pid" -w "$tmp" -m 1024 \
    >"$tmp/$name.log" 2>&1 &
  kam=$!
  started+=("$kam")
}

start_itsp() { # NAME DATA_DIR [serve args]...: sets $its
  local name=$1 dir=$2
  shift 2
  # sipp is one source sending thousands of requests a second: no flood limit unless
  # --pike. The load registers users that are no subscribers, from a trusted address (as
  # Kamailio's no-auth configuration takes them).
  printf '[guard]\npike_requests = %s\n[registrar]\ntrusted_may_register_anyone = true\n' "$pike" >"$tmp/$name.toml"
  if [ "$sync_to_disk" = 1 ]; then
    printf 'sync_to_disk = true\n' >>"$tmp/$name.toml"
  fi
  if [ "$tls" = 1 ]; then
    printf '[tls]\ncert = "%s"\nkey = "%s"\n' "$tmp/cert.pem" "$tmp/key.pem" >>"$tmp/$name.toml"
  fi
  local config=(--config "$tmp/$name.toml")
  "$itsp" --log "$itsp_log" serve "${config[@]}" --listen udp:127.0.0.1:5070 \
    --domain 127.0.0.1 --data-dir "$dir" "$@" >"$tmp/$name.log" 2>&1 &
  its=$!
  started+=("$its")
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(kamailio -v | head -n 1), $("$sipp_bin" -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -n 1)"
echo "working in $tmp"
itsp_sync=committed
[ "$sync_to_disk" = 1 ] && itsp_sync=fsynced

# --- TLS: a certificate for both servers, Kamailio's configuration, the stunnel in front
if [ "$tls" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  sed -e 's|^listen=udp:127.0.0.1:5080|listen=tls:127.0.0.1:5090\nenable_tls=yes|' \
    -e 's|^tcp_children=0|tcp_children=2|' -e 's|^disable_tcp=yes|disable_tcp=no|' \
    -e "s|^loadmodule \"tm.so\"|loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$tmp/kam-tls.cfg\")\nloadmodule \"tm.so\"|" \
    "$shared/kamailio-proxy.cfg" >"$tmp/kamailio-proxy-tls.cfg"
  printf '[server:default]\nmethod = TLSv1.2+\ncertificate = %s\nprivate_key = %s\n' \
    "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/kam-tls.cfg"
  # sipp's TCP connections to 6090 (Kamailio) and 6071 (itsp) go on over TLS (not used
  # with --tls-direct, but harmless).
  printf 'foreground = yes\npid =\n[kamailio]\nclient = yes\naccept = 127.0.0.1:6090\nconnect = 127.0.0.1:5090\n[itsp]\nclient = yes\naccept = 127.0.0.1:6071\nconnect = 127.0.0.1:5071\n' \
    >"$tmp/stunnel.conf"
  stunnel4 "$tmp/stunnel.conf" >"$tmp/stunnel.log" 2>&1 &
  started+=("$!")
  wait_udp 6071 "$!" -t
fi

# --- part 1: no authentication (and the memory part: the same load, memory read around it)
for part in noauth memory; do
  [[ " $parts " == *" $part "* ]] || continue
  if [ "$part" = noauth ]; then
    r=$rate n=$count workload=register label=""
    echo "no auth: reg-load-prefix.xml, -r $r -m $n"
  else
    r=$mem_rate n=$mem_users workload=memory label="memory, $n bindings: "
    echo "memory: reg-load-prefix.xml, $n distinct users at $r/s"
  fi
  if [ "$tls" = 1 ]; then
    # One connection per sipp: TCP to the stunnel, or sipp's own TLS to the server.
    if [ "$tls_direct" = 1 ]; then
      how="TLS (sipp's own)" kam_to=127.0.0.1:5090 its_to=127.0.0.1:5071
      transport=(-t l1 -tls_cert "$tmp/cert.pem" -tls_key "$tmp/key.pem")
    else
      how="TLS" kam_to=127.0.0.1:6090 its_to=127.0.0.1:6071 transport=(-t t1)
    fi
    start_kamailio "$tmp/kamailio-proxy-tls.cfg" "kam-$part"
    wait_udp 5090 "$kam" -t
    measure Kamailio "${label}REGISTER over $how, no auth, in-memory" "$kam" "kam-$part" \
      "$workload" "$r" "$n" "${transport[@]}" -sf "$shared/reg-load-prefix.xml" -set prefix @I@ \
      "$kam_to"
    stop "$kam"

    start_itsp "itsp-$part" "$tmp/itsp-$part" --trusted 127.0.0.1 --listen tls:127.0.0.1:5071
    wait_udp 5071 "$its" -t
    measure itsp "${label}REGISTER over $how, no auth (trusted), SQLite $itsp_sync" "$its" \
      "itsp-$part" "$workload" "$r" "$n" "${transport[@]}" -sf "$shared/reg-load-prefix.xml" \
      -set prefix @I@ "$its_to"
    stop "$its"
    continue
  fi
  start_kamailio "$shared/kamailio-proxy.cfg" "kam-$part"
  wait_udp 5080 "$kam"
  measure Kamailio "${label}REGISTER, no auth, in-memory" "$kam" "kam-$part" "$workload" "$r" "$n" \
    -sf "$shared/reg-load-prefix.xml" -set prefix @I@ 127.0.0.1:5080
  stop "$kam"

  start_itsp "itsp-$part" "$tmp/itsp-$part" --trusted 127.0.0.1
  wait_udp 5070 "$its"
  measure itsp "${label}REGISTER, no auth (trusted), SQLite $itsp_sync" "$its" "itsp-$part" "$workload" \
    "$r" "$n" -sf "$shared/reg-load-prefix.xml" -set prefix @I@ 127.0.0.1:5070
  stop "$its"
done

# --- part 2: digest authentication ---------------------------------------------------------
if [[ " $parts " == *" auth "* ]]; then
  echo "digest auth: reg-auth-load.xml, $users subscribers, -r $auth_rate -m $auth_count"
  # sipp's injection files, one per sipp process: a subscriber per call, in order; process
  # P of N takes users P+1, P+1+N, ...
  python3 - "$users" "$(sipp_procs "$auth_rate")" "$tmp" <<'EOF'
import sys
n, procs, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for p in range(procs):
    with open(f"{tmp}/users.{p}.csv", "w") as f:
        print("SEQUENTIAL", file=f)
        for i in range(p + 1, n + 1, procs):
            print(f"user{i};[authentication username=user{i} password=pw{i}]", file=f)
EOF
  # Kamailio's database: the schema Debian ships, subscribers with ha1 (and ha1b).
  sqlite3 "$tmp/kam.db" <"/usr/share/kamailio/db_sqlite/standard-create.sql"
  sqlite3 "$tmp/kam.db" <"/usr/share/kamailio/db_sqlite/auth_db-create.sql"
  sqlite3 "$tmp/kam.db" <"/usr/share/kamailio/db_sqlite/usrloc-create.sql"
  python3 - "$users" 127.0.0.1 <<'EOF' | sqlite3 "$tmp/kam.db"
import hashlib, sys
n, domain = int(sys.argv[1]), sys.argv[2]
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
print("BEGIN;")
for i in range(1, n + 1):
    u, p = f"user{i}", f"pw{i}"
    print(f"INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES "
          f"('{u}', '{domain}', '', '{md5(f'{u}:{domain}:{p}')}', "
          f"'{md5(f'{u}@{domain}:{domain}:{p}')}');")
print("COMMIT;")
EOF
  # itsp's store: the same subscribers through the store's API (HA1s computed there).
  cargo build --release -q -p store --example provision
  "$repo/target/release/examples/provision" \
    "sqlite://$tmp/itsp-auth/itsp.db?mode=rwc" 127.0.0.1 "$users"

  start_kamailio "$shared/kamailio-registrar-auth.cfg" kam-auth -A "DBURL=\"sqlite:///$tmp/kam.db\""
  wait_udp 5081 "$kam"
  measure Kamailio "401 + REGISTER, MD5 digest, auth_db SQLite" "$kam" kam-auth auth \
    "$auth_rate" "$auth_count" -sf "$shared/reg-auth-load.xml" -inf "$tmp/users.@I@.csv" \
    -set domain 127.0.0.1 127.0.0.1:5081
  stop "$kam"

  start_itsp itsp-auth "$tmp/itsp-auth"
  wait_udp 5070 "$its"
  measure itsp "401 + REGISTER, MD5 digest, SQLite $itsp_sync" "$its" itsp-auth auth \
    "$auth_rate" "$auth_count" -sf "$shared/reg-auth-load.xml" -inf "$tmp/users.@I@.csv" \
    -set domain 127.0.0.1 127.0.0.1:5070
  stop "$its"
fi

# --- the table ---------------------------------------------------------------------------
echo
echo "| peer | work | calls ok | failed | retransmissions | wall s | server CPU s | per CPU-second | itsp/Kamailio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
kam_rate=""
for line in "${results[@]}"; do
  IFS='|' read -r peer work ok failed retrans wall cpu <<<"$line"
  per=$(awk -v ok="$ok" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", ok / c; else print "n/a" }')
  ratio=""
  if [ "$peer" = Kamailio ]; then
    kam_rate=$per
  elif [ -n "$kam_rate" ]; then
    ratio=$(awk -v a="$per" -v b="$kam_rate" 'BEGIN { if (b > 0 && a > 0) printf "%.2fx", a / b; else print "n/a" }')
  fi
  echo "| $peer | $work | $ok | $failed | $retrans | $wall | $cpu | $per | $ratio |"
done
