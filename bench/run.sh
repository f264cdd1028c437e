#!/usr/bin/env bash
# The peer benchmarks in one command (issue 7): itsp against Kamailio (SIP) and rtpengine
# (RTP relay) at the same offered load, one table of work per CPU-second. See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'EOF'
Usage: bench/run.sh [WORKLOAD...] [OPTIONS]

Runs each workload against itsp and against its peer, one after the other, at the same
offered rate, and prints ONE Markdown table (on stdout; progress and the scripts' own
reports go to stderr):

  workload | offered rate | itsp: success, server CPU-seconds, work per CPU-second |
  the same for the peer | itsp/peer | what the load generator did

WORKLOAD (default: all):
  register  REGISTER without auth, a distinct user per REGISTER; peer Kamailio 5.6 with an
            in-memory registrar; itsp trusted (not challenged), every binding written
            through to SQLite before its 200              (bench/registrar.sh --only noauth)
  auth      401 + REGISTER with MD5 digest credentials, subscribers in SQLite; peer
            Kamailio with auth_db on SQLite                 (bench/registrar.sh --only auth)
  sip       calls: sipp uac -> proxy -> sipp uas (INVITE, 200, ACK, BYE, 200), stateful,
            record-routed, location lookup; peer Kamailio tm/rr/usrloc     (bench/calls.sh)
  memory    resident memory per 100k registered bindings: --memory-users distinct users
            registered (no auth) at --memory-rate, the server's memory read before and
            after from /proc (Pss summed over its processes: Kamailio's processes share
            their shm; for itsp's one process it is its VmRSS) (bench/registrar.sh --only memory)
  relay     RTP relay: packets per CPU-second and memory per 1,000 relayed calls, itsp
            against rtpengine (userspace)                                  (bench/relay.sh)
  all       all of the above

Figures: work per CPU-second = successful calls (REGISTERs, calls, packets) / user+system
CPU-seconds of the server's processes (/proc/PID/stat) over the run; for sip, until
--settle seconds after the last call, so that every transaction's end is counted. Compare
the ratio, not absolute figures: the machine may be shared (the load average before and
after is printed).

The load generator must not be the bottleneck: each offered rate is split over
ceil(rate / --per-sipp) sipp processes, and the table says how many ran, which rate they
kept (calls started / elapsed time) and how much of a core each used; "WARNING" marks a
run where they kept less than 95% of the offered rate or a sipp used 85% of a core or
more (then the figures describe the load generator, not the server).

Peers: needs sipp (Debian sip-tester), kamailio, kamailio-sqlite-modules, sqlite3,
rtpengine-daemon (relay only), python3, ss (iproute2), cargo. Run as root, it installs the
missing ones with apt-get; otherwise it says what to install. itsp is built in release
(target/ of this checkout). Every process started is stopped by PID on exit or Ctrl-C;
each workload is bounded in time. All traffic is on 127.0.0.1; udp ports 5070, 5080,
5081, 5090, 5091, 5095-5102 must be free.

Options:
  --quick             a smoke run: a few seconds per workload (--duration 3 --settle 3
                      --memory-users 5000), figures too short to publish
  --duration S        seconds of offered load per workload (default 20): the count of
                      calls is rate x S
  --rate R            one offered rate (per second) for register, auth and sip
  --register-rate R   REGISTERs per second, register (default 2000)
  --auth-rate R       authenticated registrations per second, auth (default 1000)
  --call-rate R       calls per second, sip (default 500)
  --users N           subscribers provisioned for auth (default: the count of the run)
  --memory-users N    bindings registered by memory (default 100000)
  --memory-rate R     their rate per second (default 2000)
  --settle S          sip: seconds after the last call still counted (default 35; itsp keeps
                      UDP transactions 32 s, Kamailio 5 s)
  --per-sipp R        at most R calls per second per sipp process (default 1000)
  --relay-args ARGS   extra arguments for bench/relay.sh (one string, split on spaces)
  --no-install        never install packages, only check
  --keep              keep the temporary directories (logs, sipp statistics)
  -h, --help          this text

Examples:
  bench/run.sh --quick sip                 # smoke test of the call benchmark, ~1 minute
  bench/run.sh all                         # the figures for bench/RESULTS.md, ~10 minutes
  bench/run.sh register auth --rate 1000 --duration 30
  bench/run.sh sip --call-rate 1000 --per-sipp 500   # two uac processes

Each workload's script can also be run alone, with more detail (latency, profiles):
bench/registrar.sh --help, bench/calls.sh --help, bench/relay.sh --help.
EOF
}

# --- options ------------------------------------------------------------------------------
command_line="bench/run.sh${*:+ $*}"
workloads=() quick=0 duration=20 register_rate=2000 auth_rate=1000 call_rate=500 users=""
mem_users=100000 mem_rate=2000 settle=35 per_sipp=1000 relay_args="" install=1 keep=0
settle_set=0 mem_users_set=0 duration_set=0
while [ $# -gt 0 ]; do
  case "$1" in
    sip | register | auth | memory | relay) workloads+=("$1"); shift ;;
    all) workloads+=(register auth sip memory relay); shift ;;
    --quick) quick=1; shift ;;
    --duration) duration=$2; duration_set=1; shift 2 ;;
    --rate) register_rate=$2 auth_rate=$2 call_rate=$2; shift 2 ;;
    --register-rate) register_rate=$2; shift 2 ;;
    --auth-rate) auth_rate=$2; shift 2 ;;
    --call-rate) call_rate=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --memory-users) mem_users=$2; mem_users_set=1; shift 2 ;;
    --memory-rate) mem_rate=$2; shift 2 ;;
    --settle) settle=$2; settle_set=1; shift 2 ;;
    --per-sipp) per_sipp=$2; shift 2 ;;
    --relay-args) relay_args=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown workload or option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#workloads[@]} -gt 0 ] || workloads=(register auth sip memory relay)
if [ "$quick" = 1 ]; then
  [ "$duration_set" = 1 ] || duration=3
  [ "$settle_set" = 1 ] || settle=3
  [ "$mem_users_set" = 1 ] || mem_users=5000
fi
for n in "$duration" "$register_rate" "$auth_rate" "$call_rate" "$mem_users" "$mem_rate" \
  "$per_sipp" ${users:+"$users"}; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $n" >&2; exit 2; }
done
[[ "$settle" =~ ^[0-9]+$ ]] || { echo "--settle: whole seconds" >&2; exit 2; }
has() { [[ " ${workloads[*]} " == *" $1 "* ]]; }

cd "$(dirname "$0")/.."
repo=$(pwd)
relay_script=$repo/bench/relay.sh

# --- peers: check, install when root -------------------------------------------------------
kam_modules=/usr/lib/x86_64-linux-gnu/kamailio/modules   # the cfgs' mpath
missing=()
need() { # PACKAGE TEST...: PACKAGE is missing when the test fails
  local pkg=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
if has register || has auth || has sip || has memory; then
  need sip-tester command -v sipp
  need kamailio command -v kamailio
  need iproute2 command -v ss
  need python3 command -v python3
fi
if has auth; then
  need kamailio-sqlite-modules test -e "$kam_modules/db_sqlite.so"
  need sqlite3 command -v sqlite3
fi
if has relay && [ -f "$relay_script" ]; then
  need rtpengine-daemon command -v rtpengine
  need python3 command -v python3
fi
command -v cargo >/dev/null || { echo "cargo is needed to build itsp (https://rustup.rs)" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} ..." >&2
    # Daemons are not started by the packages (policy-rc.d is not ours to change; Debian's
    # kamailio and rtpengine units are not enabled in a container without systemd).
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
      apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    fi
  else
    echo "missing: ${missing[*]}" >&2
    echo "install them (as root: apt-get install -y ${missing[*]}), or run this script as root" >&2
    exit 1
  fi
fi

# --- processes and clean-up -----------------------------------------------------------
tmp=$(mktemp -d /tmp/itsp-bench-run.XXXXXX)
child=""   # the workload script running now (each stops its own processes by PID)
cleanup() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true   # its trap stops what it started
    local i
    for ((i = 0; i < 150; i++)); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary=$tmp/summary
: >"$summary"
run_child() { # NAME BOUND_SECONDS COMMAND...: run one workload script, its report to stderr
  local name=$1 bound=$2 rc=0
  shift 2
  echo "== $name: $* (at most ${bound} s)" >&2
  # In the background and waited for, so that a signal to this script stops it at once;
  # timeout sends TERM (the script's trap cleans up), then KILL 30 s later.
  timeout -k 30 "$bound" "$@" >"$tmp/$name.log" 2>&1 &
  child=$!
  wait "$child" || rc=$?
  child=""
  sed 's/^/   /' "$tmp/$name.log" >&2
  [ "$rc" = 0 ] || echo "   warning: $name exited with status $rc" >&2
  return 0
}

# --- build ------------------------------------------------------------------------------
echo "building itsp (release) ..." >&2
cargo build --release -q -p itsp >&2
if has auth; then
  cargo build --release -q -p store --example provision >&2
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
keep_arg=()
[ "$keep" = 0 ] || keep_arg=(--keep)

# --- the workloads ------------------------------------------------------------------------
if has register; then
  n=$((register_rate * duration))
  run_child register $((2 * (duration + 100) + 120)) bench/registrar.sh --only noauth \
    --rate "$register_rate" --count "$n" --per-sipp "$per_sipp" --summary "$summary" \
    "${keep_arg[@]}"
fi
if has auth; then
  n=$((auth_rate * duration))
  u=${users:-$n}
  run_child auth $((2 * (duration + 100) + 120 + u / 500)) bench/registrar.sh --only auth \
    --auth-rate "$auth_rate" --auth-count "$n" --users "$u" --per-sipp "$per_sipp" \
    --summary "$summary" "${keep_arg[@]}"
fi
if has sip; then
  n=$((call_rate * duration))
  run_child sip $((2 * (duration + settle + 100) + 120)) bench/calls.sh --rate "$call_rate" \
    --count "$n" --settle "$settle" --per-sipp "$per_sipp" --no-baseline --no-capture \
    --summary "$summary" "${keep_arg[@]}"
fi
if has memory; then
  run_child memory $((2 * (mem_users / mem_rate + 100) + 120)) bench/registrar.sh \
    --only memory --memory-users "$mem_users" --memory-rate "$mem_rate" \
    --per-sipp "$per_sipp" --summary "$summary" "${keep_arg[@]}"
fi
relay_note=""
relay_table=""
if has relay; then
  if [ ! -f "$relay_script" ]; then
    relay_note="relay benchmark not available yet (bench/relay.sh is missing)"
    echo "== relay: $relay_note" >&2
  else
    relay_help=$(bash "$relay_script" --help 2>&1 || true)
    # shellcheck disable=SC2206 # the extra arguments are meant to be split on spaces
    rargs=($relay_args)
    # Its options as far as it has them: the same duration; a short memory run when quick.
    [[ "$relay_help" == *--secs* ]] && rargs+=(--secs "$duration")
    [ "$quick" = 1 ] && [[ "$relay_help" == *--sessions* ]] && rargs+=(--sessions 200)
    [ "$quick" = 1 ] && [[ "$relay_help" == *--quick* ]] && rargs+=(--quick)
    [[ "$relay_help" == *--summary* ]] && rargs+=(--summary "$summary")
    run_child relay $((20 * duration + 600)) bash "$relay_script" "${rargs[@]}"
    relay_table=$(grep '^|' "$tmp/relay.log" || true)
    [ -n "$relay_table" ] || relay_note="bench/relay.sh printed no table (its report is above, on stderr)"
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table ----------------------------------------------------------------------------
# Summary lines: workload|peer|offered rate|count|ok|failed|kept rate|sipp CPU %|sipps|
# server CPU s|memory kB "rss0 pss0 rss1 pss1" (memory rows only)
row_of() { # WORKLOAD PEER_PATTERN: the summary line (last one) of that run
  awk -F'|' -v w="$1" -v p="$2" '$1 == w && $2 ~ p { line = $0 } END { print line }' "$summary"
}
label_of() {
  case "$1" in
    register) echo "REGISTER, no auth, distinct users" ;;
    auth) echo "REGISTER with MD5 digest auth (401 + REGISTER)" ;;
    sip) echo "calls via the proxy (INVITE..BYE, record-routed; CPU until ${settle} s after)" ;;
    memory) echo "memory: $mem_users REGISTERed bindings" ;;
    *) echo "$1" ;;
  esac
}
figure() { # LINE: "success% cpu per-CPU-s" of one run (memory: MiB of Pss per 100k bindings)
  local w n ok cpu mem
  IFS='|' read -r w _ _ n ok _ _ _ _ cpu mem <<<"$1"
  awk -v w="$w" -v n="$n" -v ok="$ok" -v c="$cpu" -v mem="$mem" 'BEGIN {
    succ = n > 0 ? sprintf("%.1f%%", 100 * ok / n) : "n/a"
    if (w ~ /^memory/) {
      split(mem, m, " ")
      per = ok > 0 ? sprintf("%.1f", (m[4] - m[2]) / 1024 * 100000 / ok) : "n/a"
    } else {
      per = c > 0 ? sprintf("%.0f", ok / c) : "n/a"
    }
    printf "%s %s %s\n", succ, c, per }'
}
gen_of() { # LINE: "sipps kept% cpu% bad" of one run
  local r kept gen procs
  IFS='|' read -r _ _ r _ _ _ kept gen procs _ <<<"$1"
  awk -v r="$r" -v k="$kept" -v g="$gen" -v p="$procs" 'BEGIN {
    kp = r > 0 ? 100 * k / r : 0
    printf "%s %.0f %s %d\n", p, kp, g, (kp < 95 || g >= 85) }'
}

relay_row() { # PEER: "offered|loss|cpu|per CPU-s|memory" from the relay table on stdin
  awk -F'|' -v p="$1" '{ for (i = 2; i <= 7; i++) gsub(/^ +| +$/, "", $i) }
    $2 == p && NF >= 8 { print $3 "|" $4 "|" $5 "|" $6 "|" $7 }'
}
ratio_of() { # A B: "A/Bx" of the leading numbers of A and B
  awk -v a="${1//,/}" -v b="${2//,/}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'
}
relay_folded=0
warnings=()
table=$tmp/table
{
  echo "| workload | offered rate /s | itsp success | itsp CPU s | itsp per CPU-s | peer | peer success | peer CPU s | peer per CPU-s | itsp/peer | load generator (itsp run / peer run) |"
  echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"
  for w in register auth sip memory relay; do
    has "$w" || continue
    mine=$(row_of "$w" '^itsp$')
    theirs=$(row_of "$w" '^[^i]')   # Kamailio, rtpengine
    [ -n "$mine" ] || [ -n "$theirs" ] || continue
    peer=$(cut -d'|' -f2 <<<"$theirs")
    rate=$(cut -d'|' -f3 <<<"${mine:-$theirs}")
    read -r s1 c1 p1 <<<"$( [ -n "$mine" ] && figure "$mine" || echo "- - -")"
    read -r s2 c2 p2 <<<"$( [ -n "$theirs" ] && figure "$theirs" || echo "- - -")"
    ratio=$(awk -v a="$p1" -v b="$p2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }')
    unit=""
    if [ "$w" = memory ]; then
      unit=" MiB/100k"
      ratio="$ratio (lower is better)"
      rate=$mem_rate
    fi
    read -r n1 k1 g1 b1 <<<"$( [ -n "$mine" ] && gen_of "$mine" || echo "0 0 0 0")"
    read -r n2 k2 g2 b2 <<<"$( [ -n "$theirs" ] && gen_of "$theirs" || echo "0 0 0 0")"
    gen="$n1 / $n2 sipp; kept $k1% / $k2% of the rate; $g1% / $g2% of a core each"
    if [ "$b1" = 1 ] || [ "$b2" = 1 ]; then
      gen="WARNING: $gen"
      warnings+=("$w: the load generator did not keep the offered rate or saturated a core: these figures measure sipp, not the server (lower the rate or --per-sipp)")
    fi
    [ "$n1" -gt 1 ] || [ "$n2" -gt 1 ] &&
      warnings+=("$w: the offered rate was split over several sipp processes (--per-sipp $per_sipp)")
    echo "| $(label_of "$w") | $rate | $s1 | $c1 | $p1$unit | ${peer:--} | $s2 | $c2 | $p2$unit | $ratio | $gen |"
  done
  # bench/relay.sh's table (| relay | offered pps | loss | relay CPU s | packets/CPU-s |
  # RSS per 1,000 sessions |, a row per peer), folded into this one when it has that shape.
  if [ -n "$relay_table" ]; then
    mine=$(relay_row itsp <<<"$relay_table")
    theirs=$(relay_row rtpengine <<<"$relay_table")
    if [ -n "$mine" ] && [ -n "$theirs" ]; then
      IFS='|' read -r o1 l1 c1 p1 m1 <<<"$mine"
      IFS='|' read -r _ l2 c2 p2 m2 <<<"$theirs"
      echo "| RTP relay, packets both ways | $o1 | loss $l1 | $c1 | $p1 | rtpengine | loss $l2 | $c2 | $p2 | $(ratio_of "$p1" "$p2") | bench/relay.sh's driver (loss counted there) |"
      echo "| relay memory: RSS per 1,000 sessions | | | | $m1 | rtpengine | | | $m2 | $(ratio_of "$m1" "$m2") (lower is better) | |"
      relay_folded=1
    fi
  fi
} >"$table"

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "date: $started_at; machine: $(nproc) CPUs, $cpu_model; load average before $load_before, after $load_after"
version_of() { # COMMAND ARG: the version the command prints, or "COMMAND not installed"
  command -v "$1" >/dev/null || { echo "$1 not installed"; return; }
  { "$@" 2>&1 || true; } | grep -m1 -oiE '(kamailio|sipp|version:?) v?[0-9][^ ]*' || echo "$1 (version unknown)"
}
echo "peers: $(version_of kamailio -v); $(version_of sipp -v); rtpengine: $(version_of rtpengine --version)"
echo "command: $command_line (workloads ${workloads[*]}; duration ${duration} s, rates: register $register_rate, auth $auth_rate, calls $call_rate /s; memory $mem_users at $mem_rate/s; settle $settle s; per sipp $per_sipp/s)"
echo
cat "$table"
if [ -n "$relay_table" ] && [ "$relay_folded" = 0 ]; then
  echo
  echo "Relay (bench/relay.sh's own table; its memory figure is per 1,000 relayed sessions):"
  echo
  echo "$relay_table"
fi
[ -z "$relay_note" ] || { echo; echo "relay: $relay_note"; }
if [ ${#warnings[@]} -gt 0 ]; then
  echo
  printf -- '- %s\n' "${warnings[@]}"
fi
[ "$quick" = 0 ] || { echo; echo "(--quick: a smoke run, too short for figures to publish)"; }
