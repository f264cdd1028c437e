#!/usr/bin/env bash
# Repeats one peer benchmark (itsp and Kamailio back to back, each round) and prints every
# round's ratio with their median: on a shared machine one run's ratio moves by a third.
# See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'TEXT'
Usage: bench/rounds.sh [--rounds N] register|calls [-- SCRIPT-OPTIONS...]

Runs one workload N times (default 5); each round runs Kamailio and itsp back to back, as
the script does alone:

  register  bench/registrar.sh --only noauth   (REGISTERs per CPU-second, no auth)
  calls     bench/calls.sh --no-baseline --no-capture   (calls per CPU-second)

Prints a Markdown table with each round's server CPU seconds and ratio itsp/Kamailio,
then the median, lowest and highest ratio. The CPU time of one process on this kind of
machine moves by a third between runs, the server's and the peer's alike, so a single
round's ratio can land far from the others; the median of five is the figure to quote.
Options after `--` go to the script (e.g. `-- --rate 1000`). Each round's full output is
kept in the temporary directory printed first (--keep: not removed at the end).

Options:
  --rounds N   rounds (default 5)
  --keep       keep the rounds' outputs
  -h, --help   this text
TEXT
}

repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=5 keep=0 workload=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=${2:-}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    register | calls) workload=$1; shift ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $rounds in '' | *[!0-9]* | 0) echo "--rounds: a positive number" >&2; exit 2 ;; esac
case $workload in
  register) script=(bash "$repo/bench/registrar.sh" --only noauth) ;;
  calls) script=(bash "$repo/bench/calls.sh" --no-baseline --no-capture) ;;
  *) echo "which workload: register or calls (see --help)" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/itsp-rounds.XXXXXX)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
echo "rounds of $workload in $work" >&2

# From a script's output: "KAMAILIO_CPU ITSP_CPU RATIO" (CPU seconds of each server and
# the itsp/Kamailio ratio of their figures), read from its Markdown table.
figures() {
  awk -F'|' -v workload="$workload" '
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    /^\| peer \|/ { for (i = 2; i < NF; i++) col[trim($i)] = i; next }
    /^\| (Kamailio|itsp) \|/ && ("server CPU s" in col || "server CPU s (run + 35 s)" in col) {
      c = ("server CPU s" in col) ? col["server CPU s"] : col["server CPU s (run + 35 s)"]
      cpu = trim($c)
      if (cpu !~ /^[0-9.]+$/) next
      peer = trim($2)
      if (peer == "Kamailio") kam = cpu
      if (peer == "itsp") { its = cpu; ratio = trim($(NF - 1)); sub(/x$/, "", ratio) }
    }
    END {
      if (kam == "" || its == "" || ratio == "") exit 1
      print kam, its, ratio
    }'
}

echo "| round | Kamailio CPU s | itsp CPU s | itsp/Kamailio |"
echo "|---:|---:|---:|---:|"
ratios=()
for ((r = 1; r <= rounds; r++)); do
  out=$work/round-$r.txt
  if ! "${script[@]}" "$@" >"$out" 2>&1; then
    echo "round $r: the script failed; its output: $out" >&2
    keep=1; trap - EXIT
    exit 1
  fi
  if ! read -r kam its ratio < <(figures <"$out"); then
    echo "round $r: no figures in the script's output: $out" >&2
    keep=1; trap - EXIT
    exit 1
  fi
  grep -i "warning" "$out" >&2 || true
  echo "| $r | $kam | $its | ${ratio}x |"
  ratios+=("$ratio")
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '
  { v[NR] = $1 }
  END {
    median = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "\nitsp/Kamailio over %d round(s): median %.2fx, lowest %.2fx, highest %.2fx\n", NR, median, v[1], v[NR]
  }'
