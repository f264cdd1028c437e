#!/usr/bin/env bash
# User-space instructions of `itsp serve` per REGISTER and per proxied call, counted by
# callgrind: repeatable where CPU-seconds on a shared machine move by a third between runs.
# See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'TEXT'
Usage: bench/server-instructions.sh [OPTIONS]

Runs `itsp serve` (release build) under valgrind's callgrind and counts the user-space
instructions it executes (every thread: SIP handling, the location and call writers; not
the kernel's work for the sockets) while sipp sends:

  register  N REGISTERs without auth at 200/s, a distinct user each
            (bench/peers/reg-load-prefix.xml; itsp --trusted 127.0.0.1)
  call      N calls at 50/s, sipp uac -> itsp -> sipp uas (bench/peers/uac.xml and
            uas.xml; the UAS registered first with reg-uas.xml; record-routed, accounted)
  auth      N REGISTERs with MD5 digest at 100/s, each a 401 and an authenticated
            REGISTER (bench/peers/reg-auth-load.xml; N subscribers user1..userN
            provisioned first; 127.0.0.1 not trusted, the flood limit off)

Counting starts after itsp is up and stops when sipp is done (callgrind_control), so the
start-up is not counted. Prints instructions per REGISTER and per call. Under valgrind
itsp runs ~50x slower, hence the low rates; the location writer then commits a few
bindings at a time (commits 30 ms apart), so its share is larger than at full load.

Options:
  --only WORKLOAD  register, call or auth (default: all three)
  --count N        REGISTERs (default 2000), calls (default 500) or authenticated
                   REGISTERs (default 2000)
  --itsp PATH      the itsp binary (default: build target/release/itsp)
  --config-line L  one more line of the config file the script writes (repeat for
                   several), e.g. --config-line '[capture]' --config-line
                   'hep = "udp:127.0.0.1:9061"': every message also exported as HEP
  --serve-arg ARG  one more argument of `itsp serve` (repeat for several), e.g.
                   --serve-arg --no-http: no portal, so no /metrics and no metrics tap
  --keep           keep the temporary directory (callgrind files: callgrind_annotate)
  -h, --help       this text

Needs valgrind, sipp and ss. All traffic is on 127.0.0.1 (udp 5070, 5090, 5091, 5095,
5099 must be free).
TEXT
}

repo=$(cd "$(dirname "$0")/.." && pwd)
peers=$repo/bench/peers
only="" count="" itsp="" keep=0
serve_args=()
config_lines=()
while [ $# -gt 0 ]; do
  case $1 in
    --only) only=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --itsp) itsp=$2; shift 2 ;;
    --serve-arg) serve_args+=("$2"); shift 2 ;;
    --config-line) config_lines+=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $only in "" | register | call | auth) ;; *) echo "--only: register, call or auth" >&2; exit 2 ;; esac
case ${count:-1} in '' | *[!0-9]* | 0) echo "--count: a positive number" >&2; exit 2 ;; esac
for tool in valgrind callgrind_control callgrind_annotate sipp ss; do
  command -v "$tool" >/dev/null || { echo "needs $tool (valgrind, sip-tester, iproute2)" >&2; exit 1; }
done
if [ -z "$itsp" ]; then
  (cd "$repo" && cargo build --release -q -p itsp)
  itsp=$repo/target/release/itsp
fi

tmp=$(mktemp -d /tmp/itsp-instructions.XXXXXX)
started=()
cleanup() {
  for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

start_itsp() { # NAME [serve args]: itsp serve under callgrind, instrumentation off; sets $pid
  local name=$1
  shift
  # The register and call loads register users that are no subscribers, from a trusted
  # address; sipp is one source sending hundreds of requests a second: no flood limit.
  printf '[registrar]\ntrusted_may_register_anyone = true\n[guard]\npike_requests = 0\n' \
    >"$tmp/$name.toml"
  local line
  for line in ${config_lines[@]+"${config_lines[@]}"}; do
    printf '%s\n' "$line" >>"$tmp/$name.toml"
  done
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.cg.%p" --dump-instr=no \
    --instr-atstart=no "$itsp" --log warn serve --config "$tmp/$name.toml" --listen udp:127.0.0.1:5070 \
    --domain 127.0.0.1 --data-dir "$tmp/$name.data" "$@" ${serve_args[@]+"${serve_args[@]}"} \
    >"$tmp/$name.log" 2>&1 &
  pid=$!
  started+=("$pid")
  local i
  for ((i = 0; i < 150; i++)); do
    ss -lun | grep -q '127.0.0.1:5070 ' && return 0
    sleep 0.2
  done
  echo "itsp did not start (see $tmp/$name.log; --keep)" >&2
  exit 1
}

finish() { # NAME N WHAT: stops counting and itsp, prints instructions per WHAT
  local name=$1 n=$2 what=$3
  callgrind_control -i off "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$tmp/$name".cg.* 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
  [ -n "$total" ] || { echo "no callgrind totals (see $tmp; --keep)" >&2; exit 1; }
  printf '%-9s %6d %-9s %12d instructions, %8d per %s\n' "$name" "$n" "${what}s" \
    "$total" $((total / n)) "$what"
}

ok_of() { # sipp -trace_stat file: successful calls
  tail -n 1 "$1" | awk -F';' '{print $16}'
}

if [ -z "$only" ] || [ "$only" = register ]; then
  n=${count:-2000}
  start_itsp register --trusted 127.0.0.1
  sleep 1
  callgrind_control -i on "$pid" >/dev/null 2>&1
  sipp -sf "$peers/reg-load-prefix.xml" -set prefix 7 127.0.0.1:5070 -i 127.0.0.1 -p 5099 \
    -r 200 -rp 1000 -m "$n" -timeout 300s -nostdin -trace_stat -stf "$tmp/register.csv" \
    >"$tmp/register.sipp.out" 2>&1 || true
  ok=$(ok_of "$tmp/register.csv")
  [ "$ok" = "$n" ] || echo "warning: $ok of $n REGISTERs succeeded" >&2
  finish register "$n" REGISTER
fi

if [ -z "$only" ] || [ "$only" = call ]; then
  n=${count:-500}
  start_itsp call --trusted 127.0.0.1
  sipp -sf "$peers/reg-uas.xml" -s uas 127.0.0.1:5070 -i 127.0.0.1 -p 5091 -m 1 -nostdin \
    -timeout 30s >"$tmp/reg-uas.out" 2>&1 || { echo "registering the UAS failed" >&2; exit 1; }
  sipp -sf "$peers/uas.xml" -i 127.0.0.1 -p 5090 -nostdin -buff_size 4194304 \
    >"$tmp/uas.out" 2>&1 &
  started+=("$!")
  sleep 1
  callgrind_control -i on "$pid" >/dev/null 2>&1
  sipp -sf "$peers/uac.xml" -set domain 127.0.0.1 -s uas 127.0.0.1:5070 -i 127.0.0.1 \
    -p 5095 -r 50 -rp 1000 -m "$n" -timeout 300s -nostdin -trace_stat -stf "$tmp/call.csv" \
    >"$tmp/uac.out" 2>&1 || true
  sleep 1
  ok=$(ok_of "$tmp/call.csv")
  [ "$ok" = "$n" ] || echo "warning: $ok of $n calls succeeded" >&2
  finish call "$n" call
fi

if [ -z "$only" ] || [ "$only" = auth ]; then
  n=${count:-2000}
  # Subscribers user1..userN (passwords pw1..pwN), and sipp's injection file in that order.
  (cd "$repo" && cargo build --release -q -p store --example provision)
  mkdir -p "$tmp/auth.data"
  "$repo/target/release/examples/provision" "sqlite://$tmp/auth.data/itsp.db?mode=rwc" \
    127.0.0.1 "$n" >/dev/null
  python3 - "$n" >"$tmp/users.csv" <<'EOF'
import sys
print("SEQUENTIAL")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i};[authentication username=user{i} password=pw{i}]")
EOF
  start_itsp auth
  sleep 1
  callgrind_control -i on "$pid" >/dev/null 2>&1
  sipp -sf "$peers/reg-auth-load.xml" -inf "$tmp/users.csv" -set domain 127.0.0.1 \
    127.0.0.1:5070 -i 127.0.0.1 -p 5099 -r 100 -rp 1000 -m "$n" -timeout 300s -nostdin \
    -trace_stat -stf "$tmp/auth.csv" >"$tmp/auth.sipp.out" 2>&1 || true
  ok=$(ok_of "$tmp/auth.csv")
  [ "$ok" = "$n" ] || echo "warning: $ok of $n authenticated REGISTERs succeeded" >&2
  finish auth "$n" REGISTER
fi
