#!/usr/bin/env bash
# The cost of operations (issue 21): calls per CPU-second of `itsp serve` with SIP capture
# and Prometheus metrics on against both off, and with HEP export on too, in the same run.
# See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'TEXT'
Usage: bench/capture.sh [OPTIONS]

Runs `itsp serve` (release build) three times on copies of one data dir, each time with
sipp bench/peers/uac-auth.xml -> itsp -> sipp bench/peers/uas.xml: N callers user1..userN
(digest authentication: INVITE, 407, ACK, INVITE with credentials), each call to the
subscriber 4670000 registered by the UAS, answered, then BYE:

  off      no capture ring ([capture] ring_messages = 0) and no metrics (--no-http)
  capture  the defaults: the capture ring on, the portal serving /metrics (the metrics tap
           and dialog counters on)
  hep      as capture, and every message also sent as HEP v3 to a UDP collector on
           127.0.0.1:9060 (a sink started here)

and prints calls per CPU-second of itsp (user+system time of its process from the uac's
start to --settle seconds after its end) for each, and the ratios capture/off (goal at
least 0.90) and hep/off (goal at least 0.85).

Options:
  --rate R        calls per second offered (default 200)
  --count N       calls per run (default 6000)
  --callers N     callers (default 100)
  --settle S      seconds after the uac ends still counted (default 35: UDP transactions
                  linger 32 s)
  --itsp PATH     the itsp binary (default: build target/release/itsp)
  --keep          keep the temporary directory (logs, sipp statistics)
  -h, --help      this text

Needs sipp, ss and python3. All traffic is on 127.0.0.1 (udp 5070, 5090, 5095, 9060 and
tcp 18080 must be free).
TEXT
}

repo=$(cd "$(dirname "$0")/.." && pwd)
peers=$repo/bench/peers
rate=200 count=6000 callers=100 settle=35 itsp="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --callers) callers=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --itsp) itsp=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rate" "$count" "$callers"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done
[[ "$settle" =~ ^[0-9]+$ ]] || { echo "--settle: whole seconds" >&2; exit 2; }
for tool in sipp ss python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (sip-tester, iproute2, python3)" >&2; exit 1; }
done
for port in 5070 5090 5095 9060; do
  if [ -n "$(ss -Hlun "sport = :$port")" ]; then
    echo "udp port $port is in use; stop what holds it first" >&2
    exit 1
  fi
done
if [ -z "$itsp" ]; then
  (cd "$repo" && cargo build --release -q -p itsp && cargo build --release -q -p store --example provision)
  itsp=$repo/target/release/itsp
fi
provision=$repo/target/release/examples/provision
[ -x "$provision" ] || (cd "$repo" && cargo build --release -q -p store --example provision)

tmp=$(mktemp -d /tmp/itsp-bench-capture.XXXXXX)
started=()
cleanup() {
  for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # PID: user+system clock ticks (/proc/PID/stat fields 14, 15)
  local rest
  rest=$(cat "/proc/$1/stat")
  rest=${rest##*) }
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}
ok_of() { # sipp -trace_stat file: successful calls
  tail -n 1 "$1" | awk -F';' '{print $16}'
}

# --- the data: callers, the number, the rate ----------------------------------------------
data=$tmp/data
mkdir -p "$data"
db="sqlite://$data/itsp.db?mode=rwc"
"$provision" "$db" 127.0.0.1 "$callers" >/dev/null
admin() { "$itsp" --log warn "$@" --data-dir "$data" >/dev/null; }
admin user add 4670000@127.0.0.1 --password number-secret
python3 - "$callers" >"$tmp/users.csv" <<'PY'
import sys
print("SEQUENTIAL")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i};[authentication username=user{i} password=pw{i}]")
PY
# 127.0.0.1 is not trusted (the callers authenticate); sipp is one source sending hundreds
# of requests a second: no flood limit.
printf '[guard]\npike_requests = 0\n[capture]\nring_messages = 0\n' >"$tmp/off.toml"
printf '[guard]\npike_requests = 0\n' >"$tmp/capture.toml"
printf '[guard]\npike_requests = 0\n[capture]\nhep = "udp:127.0.0.1:9060"\n' >"$tmp/hep.toml"
for name in off capture hep; do cp -r "$data" "$tmp/data-$name"; done

# The HEP collector: counts what it receives.
python3 - "$tmp/hep.count" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 9060))
n = 0
while True:
    s.recv(65536)
    n += 1
    if n % 1000 == 0:
        open(sys.argv[1], "w").write(str(n))
PY
started+=("$!")

run() { # NAME: one run on $tmp/data-NAME; prints "NAME calls cpu_seconds"
  local name=$1
  local http=(--no-http)
  [ "$name" = off ] || http=(--http-listen 127.0.0.1:18080)
  "$itsp" --log warn serve --config "$tmp/$name.toml" --listen udp:127.0.0.1:5070 \
    --domain 127.0.0.1 --data-dir "$tmp/data-$name" "${http[@]}" --no-stun >"$tmp/$name.log" 2>&1 &
  local pid=$!
  started+=("$pid")
  local i
  for ((i = 0; i < 150; i++)); do
    [ -n "$(ss -Hlun "sport = :5070")" ] && break
    sleep 0.2
  done
  sipp -sf "$peers/reg-auth.xml" -set domain 127.0.0.1 -s 4670000 -au 4670000 \
    -ap number-secret 127.0.0.1:5070 -i 127.0.0.1 -p 5090 -m 1 -nostdin -timeout 30s \
    >"$tmp/$name.reg.out" 2>&1 || { echo "registering the UAS failed (see --keep)" >&2; exit 1; }
  sipp -sf "$peers/uas.xml" -i 127.0.0.1 -p 5090 -nostdin -buff_size 4194304 \
    >"$tmp/$name.uas.out" 2>&1 &
  local uas=$!
  started+=("$uas")
  sleep 1
  local before
  before=$(cpu_ticks "$pid")
  sipp -sf "$peers/uac-auth.xml" -inf "$tmp/users.csv" -set domain 127.0.0.1 -s 4670000 \
    127.0.0.1:5070 -i 127.0.0.1 -p 5095 -r "$rate" -rp 1000 -m "$count" -timeout 600s \
    -nostdin -trace_stat -stf "$tmp/$name.csv" >"$tmp/$name.uac.out" 2>&1 || true
  sleep "$settle"
  local after
  after=$(cpu_ticks "$pid")
  kill "$uas" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  wait "$uas" 2>/dev/null || true
  local ok
  ok=$(ok_of "$tmp/$name.csv")
  [ "$ok" = "$count" ] || echo "warning: $name: $ok of $count calls succeeded" >&2
  echo "$name $ok $(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }')"
}

off=$(run off)
cap=$(run capture)
hep=$(run hep)
read -r _ off_ok off_cpu <<<"$off"
read -r _ cap_ok cap_cpu <<<"$cap"
read -r _ hep_ok hep_cpu <<<"$hep"
echo
echo "| run | calls ok | itsp CPU s | calls/CPU-s |"
echo "|---|---:|---:|---:|"
awk -v n="$off_ok" -v c="$off_cpu" 'BEGIN { printf "| off | %d | %.2f | %.0f |\n", n, c, n / c }'
awk -v n="$cap_ok" -v c="$cap_cpu" 'BEGIN { printf "| capture + metrics | %d | %.2f | %.0f |\n", n, c, n / c }'
awk -v n="$hep_ok" -v c="$hep_cpu" 'BEGIN { printf "| capture + metrics + HEP | %d | %.2f | %.0f |\n", n, c, n / c }'
awk -v a="$off_ok" -v b="$off_cpu" -v x="$cap_ok" -v y="$cap_cpu" \
  'BEGIN { printf "\ncapture/off: %.2f (goal: at least 0.90)\n", (x / y) / (a / b) }'
awk -v a="$off_ok" -v b="$off_cpu" -v x="$hep_ok" -v y="$hep_cpu" \
  'BEGIN { printf "hep/off: %.2f (goal: at least 0.85)\n", (x / y) / (a / b) }'
echo "HEP packets received by the collector: $(cat "$tmp/hep.count" 2>/dev/null || echo 0) (rounded down to a thousand)"
