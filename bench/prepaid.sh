#!/usr/bin/env bash
# Prepaid billing's cost (issue 18): calls per CPU-second of `itsp serve` with every caller
# prepaid against the same calls with no accounts, in the same run. See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'TEXT'
Usage: bench/prepaid.sh [OPTIONS]

Runs `itsp serve` (release build) twice on the same data, each time with sipp
bench/peers/uac-auth.xml -> itsp -> sipp bench/peers/uas.xml: N callers user1..userN
(digest authentication: INVITE, 407, ACK, INVITE with credentials), each call to the
number 4670000 (a subscriber registered by the UAS), answered, then BYE:

  off      no caller has an account: calls are rated on their records only
  prepaid  every caller has a prepaid account (balance 1000.00, EUR) and the number a
           rate (0.60 a minute, by the second): each call is authorised (the balance and
           the tariff read), its first slice debited at the answer, and settled at the
           end with its record, in the ledger

and prints calls per CPU-second of itsp (user+system time of its process from the uac's
start to --settle seconds after its end) for each, and the ratio prepaid/off. The goal is
at least 0.8. --order prepaid-first swaps the runs (to see an order effect).

Options:
  --rate R        calls per second offered (default 200)
  --count N       calls per run (default 6000)
  --callers N     prepaid callers (default 100)
  --settle S      seconds after the uac ends still counted (default 35: UDP transactions
                  linger 32 s)
  --order O       off-first (default) or prepaid-first
  --itsp PATH     the itsp binary (default: build target/release/itsp)
  --keep          keep the temporary directory (logs, sipp statistics)
  -h, --help      this text

Needs sipp and ss. All traffic is on 127.0.0.1 (udp 5070, 5090, 5095 must be free).
TEXT
}

repo=$(cd "$(dirname "$0")/.." && pwd)
peers=$repo/bench/peers
rate=200 count=6000 callers=100 settle=35 order=off-first itsp="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --callers) callers=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --order) order=$2; shift 2 ;;
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
case $order in off-first | prepaid-first) ;; *) echo "--order: off-first or prepaid-first" >&2; exit 2 ;; esac
for tool in sipp ss; do
  command -v "$tool" >/dev/null || { echo "needs $tool (sip-tester, iproute2)" >&2; exit 1; }
done
for port in 5070 5090 5095; do
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

tmp=$(mktemp -d /tmp/itsp-bench-prepaid.XXXXXX)
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
printf 'prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0,0.60,1,1\n' \
  >"$tmp/rates.csv"
admin rate import "$tmp/rates.csv"
python3 - "$callers" >"$tmp/users.csv" <<'PY'
import sys
print("SEQUENTIAL")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"user{i};[authentication username=user{i} password=pw{i}]")
PY
# 127.0.0.1 is not trusted (the callers authenticate); sipp is one source sending hundreds
# of requests a second: no flood limit.
printf '[guard]\npike_requests = 0\n' >"$tmp/itsp.toml"

# Two copies of the data: no accounts, and every caller prepaid with 1000.00.
cp -r "$data" "$tmp/data-off"
for ((i = 1; i <= callers; i++)); do
  admin account set "user$i@127.0.0.1" --prepaid
  admin account topup "user$i@127.0.0.1" 1000.00
done
mv "$data" "$tmp/data-prepaid"

run() { # NAME: one run on $tmp/data-NAME; prints "NAME calls cpu_seconds"
  local name=$1
  "$itsp" --log warn serve --config "$tmp/itsp.toml" --listen udp:127.0.0.1:5070 \
    --domain 127.0.0.1 --data-dir "$tmp/data-$name" --no-http --no-stun >"$tmp/$name.log" 2>&1 &
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

if [ "$order" = off-first ]; then
  off=$(run off)
  on=$(run prepaid)
else
  on=$(run prepaid)
  off=$(run off)
fi
read -r _ off_ok off_cpu <<<"$off"
read -r _ on_ok on_cpu <<<"$on"
echo
echo "| run | calls ok | itsp CPU s | calls/CPU-s |"
echo "|---|---:|---:|---:|"
awk -v n="$off_ok" -v c="$off_cpu" 'BEGIN { printf "| off | %d | %.2f | %.0f |\n", n, c, n / c }'
awk -v n="$on_ok" -v c="$on_cpu" 'BEGIN { printf "| prepaid | %d | %.2f | %.0f |\n", n, c, n / c }'
awk -v a="$off_ok" -v b="$off_cpu" -v x="$on_ok" -v y="$on_cpu" \
  'BEGIN { printf "\nprepaid/off: %.2f (goal: at least 0.80)\n", (x / y) / (a / b) }'
if [ "$on_ok" -gt 0 ]; then
  echo "ledger entries after the prepaid run: $(sqlite3 "$tmp/data-prepaid/itsp.db" 'SELECT COUNT(*) FROM ledger' 2>/dev/null || echo '?') ($callers top-ups, then debits and settlements)"
fi
