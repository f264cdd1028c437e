#!/usr/bin/env bash
# RTP relay benchmark (issue 6): packets per CPU-second of `itsp relay` against rtpengine
# (userspace, one worker) at the same offered rate, plus memory per session. See --help.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: bench/relay.sh [OPTIONS]

Runs ../shared/bench/rtp_relay_bench.py (NG offer/answer for N calls, then RTP both ways
at a fixed packet rate) against each relay in turn, at the same calls and rate:

  rtpengine  rtpengine --foreground --table=-1 (no kernel module) --num-threads=1
             --interface=127.0.0.1 --listen-ng=127.0.0.1:2224 --port-min 40000 --port-max 49999
  itsp       itsp relay --listen-ng 127.0.0.1:2225 --ports 50000-59999 --public-ip 127.0.0.1
             --listen-ip 127.0.0.1 (one thread; release build of this checkout)

The itsp binary runs under its own process name (itsprelaybench) so that the driver, which
sums the CPU time of every process with the relay's name, counts no other itsp process of
this shared machine.

Figures (Markdown table, ratio itsp/rtpengine):
  offered pps, loss %, relay CPU s, packets per CPU-second (packets received back / relay CPU)
  RSS per 1,000 sessions: resident memory (VmRSS) after --sessions offer/answer pairs minus
  before, scaled to 1,000 (no media flowing; separate relay instance from the packet run)

Options (environment variables in brackets):
  --calls N     calls in the packet run [RELAY_CALLS] (default 100)
  --pps P       offered packets per second, both directions together [RELAY_PPS] (default 50000)
  --secs S      seconds of traffic [RELAY_SECS] (default 10)
  --sessions N  sessions for the memory figure [RELAY_SESSIONS] (default 2000)
  --only PEER   run only `rtpengine` or `itsp`
  --perf        perf record -g on the itsp relay during its run (top symbols printed)
  -h, --help    this text

Needs python3, rtpengine (Debian rtpengine-daemon) and cargo. Every process it starts is
stopped by PID on exit. Example: bench/relay.sh --calls 100 --pps 50000 --secs 10
USAGE
}

calls=${RELAY_CALLS:-100} pps=${RELAY_PPS:-50000} secs=${RELAY_SECS:-10}
sessions=${RELAY_SESSIONS:-2000} peers="rtpengine itsp" perf=0
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) calls=$2; shift 2 ;;
    --pps) pps=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --only) peers=$2; shift 2 ;;
    --perf) perf=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "relay.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
driver="$root/../shared/bench/rtp_relay_bench.py"
[ -f "$driver" ] || { echo "relay.sh: no driver at $driver" >&2; exit 1; }
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && stop "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ " $peers " == *" itsp "* ]]; then
  (cd "$root" && cargo build --release -q -p itsp)
  cp "$root/target/release/itsp" "$tmp/itsprelaybench"
fi

start() { # peer ng-port -> PID on stdout
  case "$1" in
    rtpengine)
      rtpengine --config-file=none --foreground --log-stderr -L 3 --table=-1 --num-threads=1 \
        --interface=127.0.0.1 --listen-ng="127.0.0.1:$2" --port-min=40000 --port-max=49999 \
        >"$tmp/rtpengine.log" 2>&1 &
      echo $! ;;
    itsp)
      "$tmp/itsprelaybench" --log warn relay --listen-ng "127.0.0.1:$2" --ports 50000-59999 \
        --public-ip 127.0.0.1 --listen-ip 127.0.0.1 >"$tmp/itsp.log" 2>&1 &
      echo $! ;;
  esac
}

wait_ng() { # port: wait until the relay answers ping
  python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
for _ in range(50):
    s.sendto(b"1 d7:command4:pinge", ("127.0.0.1", port))
    try:
        if b"pong" in s.recv(1000): sys.exit(0)
    except OSError: time.sleep(0.1)
sys.exit("relay on port %d does not answer ping" % port)
PY
}

stop() { # pid: SIGTERM, then wait until it is gone (it is not our child: started in $(...))
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do [ -d "/proc/$1" ] || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

sessions_rss() { # peer port pid -> kB per 1000 sessions
  local before after
  before=$(rss_kb "$3")
  python3 - "$driver" "$2" "$4" <<'PY'
import importlib.util, os, socket, sys
spec = importlib.util.spec_from_file_location("drv", sys.argv[1]); drv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(drv)
ng = drv.NG("127.0.0.1:" + sys.argv[2]); n = int(sys.argv[3])
for i in range(n):
    cid = "rss-%d-%d" % (os.getpid(), i)
    r = ng.cmd({"command": "offer", "call-id": cid, "from-tag": "a", "sdp": drv.sdp(10000 + 2 * (i % 20000))})
    assert r.get("result") == b"ok", r
    r = ng.cmd({"command": "answer", "call-id": cid, "from-tag": "a", "to-tag": "b", "sdp": drv.sdp(12000)})
    assert r.get("result") == b"ok", r
PY
  sleep 1
  after=$(rss_kb "$3")
  echo $(( (after - before) * 1000 / $4 ))
}

declare -A result rss
for peer in $peers; do
  case "$peer" in rtpengine) port=2224 proc=rtpengine ;; itsp) port=2225 proc=itsprelaybench ;;
    *) echo "relay.sh: unknown peer $peer" >&2; exit 2 ;; esac
  pid=$(start "$peer" "$port"); pids+=("$pid")
  wait_ng "$port"
  if [ "$perf" = 1 ] && [ "$peer" = itsp ]; then
    perf record -g -o "$tmp/perf.data" -p "$pid" >/dev/null 2>&1 & perfpid=$!; pids+=("$perfpid")
  fi
  echo "== $peer: $calls calls, $pps pps, $secs s" >&2
  out=$(python3 "$driver" --ng "127.0.0.1:$port" --proc "$proc" --calls "$calls" --pps "$pps" --secs "$secs")
  echo "$out" >&2
  result[$peer]=$out
  if [ "$perf" = 1 ] && [ "$peer" = itsp ]; then
    kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true
    perf report -i "$tmp/perf.data" --no-children --percent-limit 2 --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 >&2
  fi
  stop "$pid"
  # Memory: a fresh instance, sessions without media.
  pid=$(start "$peer" "$port"); pids+=("$pid")
  wait_ng "$port"
  rss[$peer]=$(sessions_rss "$peer" "$port" "$pid" "$sessions")
  stop "$pid"
done

field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" <<<"${result[$1]}"; }
echo
echo "| relay | offered pps | loss | relay CPU s | packets/CPU-s | RSS per 1,000 sessions |"
echo "|---|---|---|---|---|---|"
for peer in $peers; do
  echo "| $peer | $(field "$peer" offered_pps) | $(field "$peer" loss) | $(field "$peer" relay_cpu_s) | $(field "$peer" pkts_per_cpu_s) | $(( ${rss[$peer]} )) kB |"
done
if [[ " $peers " == *" itsp "* && " $peers " == *" rtpengine "* ]]; then
  python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('\nratio itsp/rtpengine, packets per CPU-second: %.2fx' % (a/b))" \
    "$(field itsp pkts_per_cpu_s)" "$(field rtpengine pkts_per_cpu_s)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
