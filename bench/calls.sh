#!/usr/bin/env bash
# Proxy benchmark (issue 4): calls per CPU-second of the server, sipp uac -> server -> sipp uas
# (stateful, record-routing, location lookup), itsp against Kamailio 5.6 in the same run at the
# same call rate, plus the latency each server adds. See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'EOF'
Usage: bench/calls.sh [OPTIONS]

Calls per CPU-second of the server (user+system time of its processes, from /proc/PID/stat)
with sipp bench/peers/uac.xml -> server -> sipp bench/peers/uas.xml (INVITE, 200, ACK
and BYE along the Record-Route set, 200; the UAS contact registered first with reg-uas.xml),
for each server in turn, at the same call rate:

  Kamailio  kamailio-proxy.cfg (tm, rr, usrloc in memory), udp 127.0.0.1:5080
  itsp      itsp serve --listen udp:127.0.0.1:5070 --domain 127.0.0.1 --trusted 127.0.0.1/32
            (stateful proxy, Record-Route, location lookup, dialogs and accounting records
            in SQLite), with --log warn unless --itsp-log says otherwise

and, unless --no-baseline, sipp uac -> uas directly (no server) as the latency baseline.

Figures:
  calls/CPU-s   successful calls / CPU-seconds of the server from the uac's start to --settle
                seconds after its end (so the end of every transaction is counted); the
                server's idle CPU use, measured for 5 s before, is shown beside it
  INVITE->200   sipp's response time 1 (-trace_rtt), INVITE sent to 200 received at the uac,
                in milliseconds (sipp's resolution is 1 ms)
  added         time from a message reaching the server's port to the server sending it on
                (requests INVITE/ACK/BYE and the UAS's 200s), matched by Call-ID, CSeq and
                status in a tcpdump capture of the server's port on lo, in microseconds.
                Needs tcpdump (skipped without it, or with --no-capture).
The uac's own CPU use and achieved call rate are reported: if sipp did not keep the offered
rate, or used most of a core, the figures are those of a saturated load generator. The
offered rate is split over ceil(rate / --per-sipp) uac processes (udp ports 5095-5098),
each with its share of the rate and the count.

Prints Markdown tables with the ratio itsp/Kamailio. Installs nothing; needs sipp, kamailio,
python3 and ss (tcpdump, perf optional). Every process it starts is stopped on exit; all
traffic is on 127.0.0.1 (udp ports 5070, 5080, 5090, 5091, 5095-5098 must be free).

Options (environment variables in brackets):
  --rate R          offered calls per second [CALLS_RATE] (default 500)
  --count N         calls per server [CALLS_COUNT] (default 10000)
  --only PEER       run only `kamailio` or `itsp` (and the baseline)
  --itsp-log LEVEL  itsp's --log filter [ITSP_LOG] (default warn)
  --settle S        seconds after the uac ends still counted as the server's CPU (default 35:
                    UDP transactions linger 32 s, Timers D and J, and are cleaned up then)
  --no-baseline     skip the direct uac -> uas run
  --no-capture      no tcpdump capture (no "added" latency column)
  --perf            perf record -g on itsp during its run (perf.data kept in the temp dir,
                    top symbols printed; inflates itsp's CPU figure, so no ratio is printed)
  --per-sipp R      at most R calls per second per uac process (default 1000)
  --summary FILE    also append one line per server to FILE, fields separated by |:
                    workload|peer|offered rate|count|ok|failed|kept rate|uac CPU %|uacs|
                    server CPU s|  (what bench/run.sh reads)
  --keep            keep the temporary directory (logs, sipp statistics, captures)
  -h, --help        this text

Example: bench/calls.sh --rate 500 --count 10000
EOF
}

rate=${CALLS_RATE:-500} count=${CALLS_COUNT:-10000} itsp_log=${ITSP_LOG:-warn}
peers="kamailio itsp" settle=35 baseline=1 capture=1 perf=0 keep=0 per_sipp=1000 summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --only)
      case "$2" in kamailio | itsp) peers=$2 ;; *) echo "--only kamailio|itsp" >&2; exit 2 ;; esac
      shift 2 ;;
    --itsp-log) itsp_log=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --no-baseline) baseline=0; shift ;;
    --no-capture) capture=0; shift ;;
    --perf) perf=1; shift ;;
    --per-sipp) per_sipp=$2; shift 2 ;;
    --summary) summary=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rate" "$count" "$per_sipp"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive number: $n" >&2; exit 2; }
done
[[ "$settle" =~ ^[0-9]+$ ]] || { echo "--settle: whole seconds" >&2; exit 2; }

uacs=$(((rate + per_sipp - 1) / per_sipp))
[ "$uacs" -le 4 ] || uacs=4   # ports 5095-5098
[ -z "$summary" ] || summary=$(realpath -m "$summary")
cd "$(dirname "$0")/.."
repo=$(pwd)
shared=$repo/bench/peers

# --- what must be installed -------------------------------------------------------------
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v kamailio >/dev/null || missing+=(kamailio)
command -v python3 >/dev/null || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: apt-get install ${missing[*]}" >&2
  exit 1
fi
if [ "$capture" = 1 ] && ! command -v tcpdump >/dev/null; then
  echo "note: no tcpdump (apt-get install tcpdump): no \"added\" latency column" >&2
  capture=0
fi
if [ "$perf" = 1 ] && ! command -v perf >/dev/null; then
  echo "--perf: perf is not installed (apt-get install linux-perf)" >&2
  exit 1
fi
for port in 5070 5080 5090 5091 5095 5096 5097 5098; do
  if [ -n "$(ss -Hlun "sport = :$port")" ]; then
    echo "udp port $port is in use on this machine; stop what holds it first" >&2
    exit 1
  fi
done

# --- processes and clean-up -----------------------------------------------------------
tmp=$(mktemp -d /tmp/itsp-bench-calls.XXXXXX)
started=()   # every process this script started

descendants() { # PID: its child processes, recursively
  local c
  for c in $(pgrep -P "$1" || true); do
    echo "$c"
    descendants "$c"
  done
}

stop() { # PID [SIGNAL]: signal it (TERM) and its descendants, wait up to 10 s, then SIGKILL
  local pid=$1 sig=${2:-TERM} i
  local -a all
  mapfile -t all < <(echo "$pid"; descendants "$pid")
  kill "-$sig" "$pid" 2>/dev/null || true
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
    kill -0 "$2" 2>/dev/null || { echo "the process (pid $2) exited at start" >&2; return 1; }
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
children_cpu() { # user+system seconds of this shell's reaped children so far (bash `times`,
  # run in this shell: a command substitution would be a fresh process)
  times >"$tmp/times"
  awk 'NR == 2 {
    split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' \
    "$tmp/times"
}

# --- helpers in Python: percentiles of sipp's RTT file, server latency from a capture -------
cat >"$tmp/rtt.py" <<'EOF'
import sys
# sipp -trace_rtt file: Date_ms;response_time_ms;rtd_no. Prints "n p50 p99 max" in ms.
v = []
for path in sys.argv[1:]:
    with open(path) as f:
        next(f, None)
        for line in f:
            p = line.strip().split(";")
            if len(p) >= 3 and p[2] == "1":
                v.append(float(p[1]))
v.sort()
pct = lambda q: v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
print(len(v), "%g" % pct(0.50), "%g" % pct(0.99), "%g" % (v[-1] if v else float("nan")))
EOF
cat >"$tmp/added.py" <<'EOF'
import re, struct, sys
# A pcap of udp port PORT on lo: for every message that reaches PORT and leaves it again
# (requests from the uac forwarded to the uas, responses from the uas forwarded to the uac),
# the time between its first arrival and the first copy the server sent. Matched by Call-ID,
# CSeq and, for responses, the status code; and per call, the time from the INVITE reaching
# PORT to the 200 leaving PORT (through the server and the UAS; at the UAS's own port, the
# UAS alone). Prints "n p50 p99 max n_inv p50 p99 n_rt p50 p99 max" in µs.
path, port = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
if magic in (0xA1B2C3D4, 0xA1B23C4D):
    en = "<"
else:
    en = ">"
    magic = struct.unpack(">I", data[:4])[0]
scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
link = struct.unpack(en + "I", data[20:24])[0]
l2 = {1: 14, 113: 16, 0: 4}[link]
first_in, first_out = {}, {}
callid = re.compile(rb"^(?:Call-ID|i)\s*:\s*(\S+)", re.I | re.M)
cseq = re.compile(rb"^CSeq\s*:\s*(\d+)\s+(\S+)", re.I | re.M)
off = 24
while off + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack(en + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    t = sec + frac * scale
    ip = pkt[l2:]
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    sip = ip[ihl + 8:]
    head = sip.split(b"\r\n\r\n", 1)[0]
    c, q = callid.search(head), cseq.search(head)
    if not c or not q:
        continue
    start = head.split(b"\r\n", 1)[0]
    kind = start.split(b" ")[1] if start.startswith(b"SIP/2.0") else b"req"
    key = (c.group(1), q.group(1), q.group(2), kind)
    if dport == port and sport != port:
        first_in.setdefault(key, t)
    elif sport == port and dport != port:
        first_out.setdefault(key, t)
allv, inv = [], []
for key, t0 in first_in.items():
    t1 = first_out.get(key)
    if t1 is None or t1 < t0:
        continue
    d = (t1 - t0) * 1e6
    allv.append(d)
    if key[2] == b"INVITE" and key[3] == b"req":
        inv.append(d)
rt = []
for key, t0 in first_in.items():
    if key[2] == b"INVITE" and key[3] == b"req":
        t1 = first_out.get((key[0], key[1], b"INVITE", b"200"))
        if t1 is not None and t1 >= t0:
            rt.append((t1 - t0) * 1e6)
def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")
allv.sort()
inv.sort()
rt.sort()
print(len(allv), "%.0f" % pct(allv, .5), "%.0f" % pct(allv, .99),
      "%.0f" % (allv[-1] if allv else float("nan")),
      len(inv), "%.0f" % pct(inv, .5), "%.0f" % pct(inv, .99),
      len(rt), "%.0f" % pct(rt, .5), "%.0f" % pct(rt, .99), "%.0f" % (rt[-1] if rt else float("nan")))
EOF

# --- build ------------------------------------------------------------------------------
echo "building itsp (release) ..."
cargo build --release -q -p itsp
itsp=$repo/target/release/itsp

# --- the UAS side ---------------------------------------------------------------------------
start_uas() { # NAME SERVER|"": register uas -> 127.0.0.1:5090 at SERVER, start the UAS; sets $uas
  local name=$1 server=$2
  if [ -n "$server" ]; then
    if ! timeout -k 5 20 sipp -sf "$shared/reg-uas.xml" -s uas "$server" -i 127.0.0.1 -p 5091 \
      -m 1 -nostdin -timeout 15s -trace_err -error_file "$tmp/$name.reg.errors" \
      >"$tmp/$name.reg.out" 2>&1; then
      echo "registering the UAS at $server failed (see $tmp/$name.reg.*; --keep)" >&2
      return 1
    fi
  fi
  sipp -sf "$shared/uas.xml" -i 127.0.0.1 -p 5090 -nostdin -buff_size 4194304 \
    -trace_err -error_file "$tmp/$name.uas.errors" >"$tmp/$name.uas.out" 2>&1 &
  uas=$!
  started+=("$uas")
  wait_udp 5090 "$uas"
}

# --- one measured uac run through one server ------------------------------------------------
results=()   # lines: peer|ok|failed|retrans|wall|achieved|uac_cpu|cpu|idle|rtt|added
measure() { # PEER NAME MAIN_PID|"" TARGET: run the uac through TARGET, record the figures
  local peer=$1 name=$2 main=$3 target=$4
  local before=0 after=0 rc=0 limit=$((count / rate + 60)) port=${target##*:}
  local -a pids=()
  [ -n "$main" ] && mapfile -t pids < <(echo "$main"; descendants "$main")
  local cap="" perf_pid=""
  if [ "$capture" = 1 ]; then
    tcpdump -i lo -n -s 2048 -B 32768 --time-stamp-precision=nano -w "$tmp/$name.pcap" \
      "udp and port $port" >"$tmp/$name.tcpdump.out" 2>&1 &
    cap=$!
    started+=("$cap")
    sleep 1
  fi
  if [ "$perf" = 1 ] && [ "$peer" = itsp ]; then
    perf record -F 999 -g -p "$main" -o "$tmp/perf.data" >"$tmp/perf.out" 2>&1 &
    perf_pid=$!
    started+=("$perf_pid")
    sleep 1
  fi
  local idle=""
  if [ ${#pids[@]} -gt 0 ]; then
    local i0 i1
    i0=$(cpu_ticks "${pids[@]}")
    sleep 5
    i1=$(cpu_ticks "${pids[@]}")
    idle=$(awk -v a="$i0" -v b="$i1" -v hz="$clk_tck" 'BEGIN { printf "%.0f", 1000 * (b - a) / hz / 5 }')
    before=$(cpu_ticks "${pids[@]}")
  fi
  local uac_before uac_after
  children_cpu >"$tmp/cpu.before"
  uac_before=$(<"$tmp/cpu.before")
  # In the background and waited for, so that a signal to this script stops it at once. In
  # $tmp/$name, where sipp writes its -trace_rtt file. Uac I of N: its share of the rate and
  # count (the first takes the remainders), udp port 5095 + I.
  mkdir -p "$tmp/$name"
  local -a jobs=()
  local i job
  for ((i = 0; i < uacs; i++)); do
    local ri=$((rate / uacs)) ni=$((count / uacs))
    [ "$i" = 0 ] && ri=$((ri + rate % uacs)) ni=$((ni + count % uacs))
    (
      cd "$tmp/$name"
      exec timeout -k 5 $((limit + 30)) sipp -sf "$shared/uac.xml" -set domain 127.0.0.1 \
        -s uas "$target" -i 127.0.0.1 -p $((5095 + i)) -r "$ri" -rp 1000 -m "$ni" \
        -timeout "${limit}s" -buff_size 4194304 -nostdin \
        -trace_stat -stf "$tmp/$name.$i.csv" -trace_err -error_file "$tmp/$name.$i.errors" \
        -trace_rtt -rtt_freq 1
    ) >"$tmp/$name.$i.sipp.out" 2>&1 &
    jobs+=("$!")
    started+=("$!")
  done
  for job in "${jobs[@]}"; do
    local one=0
    wait "$job" || one=$?
    [ "$one" -le "$rc" ] || rc=$one
  done
  children_cpu >"$tmp/cpu.after"
  uac_after=$(<"$tmp/cpu.after")
  sleep "$settle"
  [ ${#pids[@]} -gt 0 ] && after=$(cpu_ticks "${pids[@]}")
  [ -n "$perf_pid" ] && stop "$perf_pid" INT
  [ -n "$cap" ] && stop "$cap"
  if [ -n "$main" ] && ! kill -0 "$main" 2>/dev/null; then
    echo "warning: $peer exited during the run" >&2
  fi
  case $rc in
    0 | 1) ;;   # 1: some calls failed, counted below
    *) echo "warning: sipp exited with status $rc through $peer (see --keep)" >&2 ;;
  esac
  local last ok=0 failed=0 retrans=0 wall=0 out=0 achieved=0
  for ((i = 0; i < uacs; i++)); do
    [ -s "$tmp/$name.$i.csv" ] || continue
    last=$(tail -n 1 "$tmp/$name.$i.csv")
    # Fields: 5 ElapsedTime(C), 12 OutgoingCall(C), 16 SuccessfulCall(C), 18 FailedCall(C),
    # 58 Retransmissions(C)
    IFS=';' read -r -a f <<<"$last"
    out=$((out + f[11])) ok=$((ok + f[15])) failed=$((failed + f[17])) retrans=$((retrans + f[57]))
    # Calls started per second over the time the uac needed to start them all (the last
    # call starts about one call duration before the end), summed over the uacs.
    # Wall time from StartTime and CurrentTime ("date<TAB>time<TAB>epoch"; ElapsedTime is
    # in whole seconds); the rate kept: field 8, CallRate(C).
    read -r wall achieved < <(awk -v t0="${f[0]}" -v t1="${f[2]}" -v cr="${f[7]}" -v w="$wall" \
      -v k="$achieved" 'BEGIN {
      n0 = split(t0, a, "\t"); n1 = split(t1, b, "\t"); e = b[n1] - a[n0]
      if (e > w) w = e; k += cr; printf "%.1f %.0f\n", w, k }')
  done
  local cpu uac_cpu rtt added="" drops=""
  cpu=$(awk -v a="$before" -v b="$after" -v hz="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / hz }')
  # Per uac process, on average.
  uac_cpu=$(awk -v a="$uac_before" -v b="$uac_after" -v w="$wall" -v p="$uacs" \
    'BEGIN { if (w > 0) printf "%.0f", 100 * (b - a) / w / p; else print 0 }')
  rtt=$(python3 "$tmp/rtt.py" "$tmp/$name"/*_rtt.csv 2>/dev/null || echo "0 nan nan nan")
  if [ -n "$cap" ]; then
    added=$(python3 "$tmp/added.py" "$tmp/$name.pcap" "$port" || echo "0 nan nan nan 0 nan nan 0 nan nan nan")
    drops=$(grep -o '[0-9]* packets dropped by kernel' "$tmp/$name.tcpdump.out" || true)
    [ -n "$drops" ] && [ "${drops%% *}" != 0 ] && echo "  note: tcpdump: $drops" >&2
  fi
  results+=("$peer|$ok|$failed|$retrans|$wall|$achieved|$uac_cpu|$cpu|$idle|$rtt|$added")
  printf '  %-8s ok %s failed %s retransmissions %s, %s s (%s calls/s started by %s uac(s)), uac CPU %s%% each, server CPU %s s\n' \
    "$peer" "$ok" "$failed" "$retrans" "$wall" "$achieved" "$uacs" "$uac_cpu" "$cpu"
  if [ -n "$summary" ] && [ "$peer" != direct ]; then
    echo "sip|$peer|$rate|$count|$ok|$failed|$achieved|$uac_cpu|$uacs|$cpu|" >>"$summary"
  fi
  if [ "$out" -gt 0 ] && [ "$achieved" -lt $((rate * 95 / 100)) ]; then
    echo "  warning: the uac started $achieved calls/s of $rate offered: load generator or server saturated" >&2
  fi
  if [ "$uac_cpu" -ge 85 ]; then
    echo "  warning: the sipp uac used $uac_cpu% of a core: it saturates at this rate" >&2
  fi
  if [ "$failed" != 0 ] && [ -s "$tmp/$name.0.errors" ]; then
    echo "  first errors of the uac ($tmp/$name.0.errors):" >&2
    grep -v '^\s*$' "$tmp/$name.0.errors" | head -n 5 | sed 's/^/    /' >&2
  fi
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(kamailio -v | head -n 1), $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -n 1)"
echo "uac.xml -> server -> uas.xml, -r $rate -m $count; working in $tmp"

if [ "$baseline" = 1 ]; then
  start_uas direct ""
  measure "direct" direct "" 127.0.0.1:5090
  stop "$uas"
fi

if [[ " $peers " == *" kamailio "* ]]; then
  kamailio -DD -E -f "$shared/kamailio-proxy.cfg" -P "$tmp/kam.pid" -w "$tmp" -m 1024 \
    >"$tmp/kamailio.log" 2>&1 &
  kam=$!
  started+=("$kam")
  wait_udp 5080 "$kam"
  start_uas kamailio 127.0.0.1:5080
  measure Kamailio kamailio "$kam" 127.0.0.1:5080
  stop "$uas"
  stop "$kam"
fi

if [[ " $peers " == *" itsp "* ]]; then
  # The UAS registers a user that is no subscriber, from a trusted address.
  printf '[registrar]\ntrusted_may_register_anyone = true\n' >"$tmp/itsp.toml"
  "$itsp" --log "$itsp_log" serve --config "$tmp/itsp.toml" --listen udp:127.0.0.1:5070 \
    --domain 127.0.0.1 --trusted 127.0.0.1/32 --data-dir "$tmp/itsp-data" >"$tmp/itsp.log" 2>&1 &
  its=$!
  started+=("$its")
  wait_udp 5070 "$its"
  start_uas itsp 127.0.0.1:5070
  measure itsp itsp "$its" 127.0.0.1:5070
  stop "$uas"
  stop "$its"
  if [ -s "$tmp/itsp.log" ]; then
    echo "  itsp logged $(wc -l <"$tmp/itsp.log") lines at $itsp_log; the first:"
    head -n 5 "$tmp/itsp.log" | sed 's/^/    /'
  fi
  if [ "$perf" = 1 ]; then
    echo "  perf: $tmp/perf.data; top symbols (children excluded):"
    perf report -i "$tmp/perf.data" --no-children --stdio -g none --sort comm,dso,symbol 2>/dev/null \
      | grep -E '^ +[0-9]' | head -n 25 | cut -c1-150 | sed 's/^/    /' || true
  fi
fi

# --- the tables ----------------------------------------------------------------------------
echo
echo "| peer | calls ok | failed | retransmissions | offered calls/s | started calls/s | uac CPU % | server CPU s (run + ${settle} s) | server idle CPU ms/s | calls per CPU-second | itsp/Kamailio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
kam_per=""
for line in "${results[@]}"; do
  IFS='|' read -r peer ok failed retrans _ achieved uac_cpu cpu idle _ _ <<<"$line"
  [ "$peer" = direct ] && continue
  per=$(awk -v ok="$ok" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", ok / c; else print "n/a" }')
  ratio=""
  if [ "$peer" = Kamailio ]; then
    kam_per=$per
  elif [ -n "$kam_per" ] && [ "$perf" = 0 ]; then
    ratio=$(awk -v a="$per" -v b="$kam_per" 'BEGIN { if (b > 0 && a > 0) printf "%.2fx", a / b; else print "n/a" }')
  fi
  echo "| $peer | $ok | $failed | $retrans | $rate | $achieved | $uac_cpu | $cpu | $idle | $per | $ratio |"
done
echo
echo "| path | INVITE->200 at the uac (sipp, ms, coarse): p50 / p99 / max | INVITE->200 at the server's port, µs: p50 / p99 / max | added by the server per forwarded message, µs: p50 / p99 / max (n) | added, INVITE only, µs: p50 / p99 |"
echo "|---|---:|---:|---:|---:|"
for line in "${results[@]}"; do
  IFS='|' read -r peer _ _ _ _ _ _ _ _ rtt added <<<"$line"
  read -r _ r50 r99 rmax <<<"$rtt"
  a="" i="" t=""
  if [ -n "$added" ]; then
    read -r an a50 a99 amax in i50 i99 _ t50 t99 tmax <<<"$added"
    a="$a50 / $a99 / $amax ($an)" i="$i50 / $i99 ($in)" t="$t50 / $t99 / $tmax"
  fi
  [ "$peer" = direct ] && peer="direct uac -> uas (no server; at the UAS's port)" a="" i=""
  echo "| $peer | $r50 / $r99 / $rmax | $t | $a | $i |"
done
