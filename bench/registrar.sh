#!/usr/bin/env bash
# Registrar benchmark (issue 3): REGISTERs per CPU-second of the server, itsp against
# Kamailio 5.6 in the same run, without and with digest authentication. See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'EOF'
Usage: bench/registrar.sh [OPTIONS]

REGISTERs per CPU-second of the server (user+system time of its processes, from
/proc/PID/stat), itsp against Kamailio 5.6 from ../shared/bench/, in one run:

  no auth   sipp ../shared/bench/reg-load.xml (a distinct user per call) against
            Kamailio (kamailio-proxy.cfg: in-memory registrar, udp 127.0.0.1:5080) and
            itsp serve --trusted 127.0.0.1 (not challenged; every binding written through
            to SQLite and fsynced, in batches, before the 200), udp 127.0.0.1:5070.
  auth      sipp ../shared/bench/reg-auth-load.xml (401, then REGISTER with MD5 digest
            credentials; a distinct subscriber per call from an injection file) against
            Kamailio (kamailio-registrar-auth.cfg: auth_db on SQLite, udp 127.0.0.1:5081)
            and itsp serve (no --trusted), each with the same N subscribers. (sipp 3.6.1
            answers only an MD5 challenge that comes first: itsp offers MD5 first by
            default, see [auth] algorithms.)

Figure = successful calls / CPU-seconds of the server during the sipp run. Prints a
Markdown table with the ratio itsp/Kamailio. Installs nothing; needs sipp, kamailio,
kamailio-sqlite-modules, sqlite3, python3 and ss. Every process it starts is stopped on
exit; all traffic is on 127.0.0.1 (ports 5070, 5080, 5081, 5099 must be free).

Options:
  --rate R          calls per second, no-auth part (default 2000)
  --count N         calls, no-auth part (default 40000)
  --auth-rate R     calls per second, auth part (default 1000)
  --auth-count N    calls, auth part (default 20000; users are reused past --users)
  --users N         subscribers provisioned for the auth part (default 20000)
  --only PART       run only `noauth` or `auth`
  --itsp-log LEVEL  itsp's --log filter (default info; the line per REGISTER is at debug)
  --keep            keep the temporary directory (logs, databases, sipp statistics)
  -h, --help        this text

Example: bench/registrar.sh --rate 2000 --count 40000 --auth-rate 1000 --auth-count 20000
EOF
}

rate=2000 count=40000 auth_rate=1000 auth_count=20000 users=20000
parts="noauth auth" itsp_log=info keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --auth-rate) auth_rate=$2; shift 2 ;;
    --auth-count) auth_count=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --only)
      case "$2" in noauth | auth) parts=$2 ;; *) echo "--only noauth|auth" >&2; exit 2 ;; esac
      shift 2 ;;
    --itsp-log) itsp_log=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rate" "$count" "$auth_rate" "$auth_count" "$users"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
repo=$(pwd)
shared=$(cd ../shared/bench 2>/dev/null && pwd) || {
  echo "../shared/bench is missing: keep the shared/ folder beside this clone" >&2
  exit 1
}

# --- what must be installed -------------------------------------------------------------
kam_modules=/usr/lib/x86_64-linux-gnu/kamailio/modules   # the cfgs' mpath
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v kamailio >/dev/null || missing+=(kamailio)
[ -e "$kam_modules/db_sqlite.so" ] || missing+=(kamailio-sqlite-modules)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v python3 >/dev/null || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: apt-get install ${missing[*]}" >&2
  exit 1
fi
for port in 5070 5080 5081 5099; do
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

wait_udp() { # PORT PID: wait until PORT is bound (at most 15 s) while PID lives
  local i
  for ((i = 0; i < 150; i++)); do
    [ -n "$(ss -Hlun "sport = :$1")" ] && { sleep 0.5; return 0; }
    kill -0 "$2" 2>/dev/null || { echo "the server (pid $2) exited at start" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on udp port $1 after 15 s" >&2
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

# --- build ------------------------------------------------------------------------------
echo "building itsp (release) ..."
cargo build --release -q -p itsp
itsp=$repo/target/release/itsp

# --- one measured sipp run against one server -------------------------------------------
results=()   # lines: peer|work|ok|failed|retrans|wall|cpu
measure() { # PEER WORK MAIN_PID NAME RATE COUNT sipp-args...: run sipp, record the figures
  local peer=$1 work=$2 main=$3 name=$4 r=$5 n=$6
  shift 6
  local before after rc=0 limit=$((n / r + 60))
  local -a pids
  mapfile -t pids < <(server_pids "$main")
  before=$(cpu_ticks "${pids[@]}")
  # In the background and waited for, so that a signal to this script stops it at once.
  timeout -k 5 $((limit + 30)) sipp "$@" -i 127.0.0.1 -p 5099 -r "$r" -rp 1000 -m "$n" \
    -timeout "${limit}s" -buff_size 4194304 -nostdin \
    -trace_stat -stf "$tmp/$name.csv" -trace_err -error_file "$tmp/$name.errors" \
    >"$tmp/$name.sipp.out" 2>&1 &
  local sipp_job=$!
  started+=("$sipp_job")
  wait "$sipp_job" || rc=$?
  after=$(cpu_ticks "${pids[@]}")
  kill -0 "$main" 2>/dev/null || echo "warning: $peer exited during the run" >&2
  case $rc in
    0 | 1) ;;   # 1: some calls failed, counted below
    *) echo "warning: sipp exited with status $rc against $peer (see --keep)" >&2 ;;
  esac
  local last ok=0 failed=0 retrans=0 wall=0
  if [ -s "$tmp/$name.csv" ]; then
    last=$(tail -n 1 "$tmp/$name.csv")
    # Fields: 5 ElapsedTime(C), 16 SuccessfulCall(C), 18 FailedCall(C), 58 Retransmissions(C)
    IFS=';' read -r -a f <<<"$last"
    ok=${f[15]} failed=${f[17]} retrans=${f[57]}
    wall=$(awk -v t="${f[4]}" 'BEGIN { split(t, a, ":"); print a[1] * 3600 + a[2] * 60 + a[3] }')
  fi
  local cpu
  cpu=$(awk -v a="$before" -v b="$after" -v hz="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / hz }')
  results+=("$peer|$work|$ok|$failed|$retrans|$wall|$cpu")
  printf '  %-8s %-40s ok %s failed %s retransmissions %s, %s s, server CPU %s s\n' \
    "$peer" "$work" "$ok" "$failed" "$retrans" "$wall" "$cpu"
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
  "$itsp" --log "$itsp_log" serve --listen udp:127.0.0.1:5070 --domain 127.0.0.1 \
    --data-dir "$dir" "$@" >"$tmp/$name.log" 2>&1 &
  its=$!
  started+=("$its")
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(kamailio -v | head -n 1), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -n 1)"
echo "working in $tmp"

# --- part 1: no authentication -----------------------------------------------------------
if [[ " $parts " == *" noauth "* ]]; then
  echo "no auth: reg-load.xml, -r $rate -m $count"
  start_kamailio "$shared/kamailio-proxy.cfg" kam-noauth
  wait_udp 5080 "$kam"
  measure Kamailio "REGISTER, no auth, in-memory" "$kam" kam-noauth "$rate" "$count" \
    -sf "$shared/reg-load.xml" 127.0.0.1:5080
  stop "$kam"

  start_itsp itsp-noauth "$tmp/itsp-noauth" --trusted 127.0.0.1
  wait_udp 5070 "$its"
  measure itsp "REGISTER, no auth (trusted), SQLite fsync" "$its" itsp-noauth "$rate" "$count" \
    -sf "$shared/reg-load.xml" 127.0.0.1:5070
  stop "$its"
fi

# --- part 2: digest authentication ---------------------------------------------------------
if [[ " $parts " == *" auth "* ]]; then
  echo "digest auth: reg-auth-load.xml, $users subscribers, -r $auth_rate -m $auth_count"
  # sipp's injection file: one subscriber per call, in order.
  python3 - "$users" >"$tmp/users.csv" <<'EOF'
import sys
n = int(sys.argv[1])
print("SEQUENTIAL")
for i in range(1, n + 1):
    print(f"user{i};[authentication username=user{i} password=pw{i}]")
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
  measure Kamailio "401 + REGISTER, MD5 digest, auth_db SQLite" "$kam" kam-auth \
    "$auth_rate" "$auth_count" -sf "$shared/reg-auth-load.xml" -inf "$tmp/users.csv" \
    -set domain 127.0.0.1 127.0.0.1:5081
  stop "$kam"

  start_itsp itsp-auth "$tmp/itsp-auth"
  wait_udp 5070 "$its"
  measure itsp "401 + REGISTER, MD5 digest, SQLite fsync" "$its" itsp-auth \
    "$auth_rate" "$auth_count" -sf "$shared/reg-auth-load.xml" -inf "$tmp/users.csv" \
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
