#!/usr/bin/env bash
# Instructions per leg per 20 ms tick of the media services, counted by callgrind
# (crates/media/benches/services.rs in its counting mode). See --help.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

usage() {
  cat <<'TEXT'
Usage: bench/media-instructions.sh [OPTIONS] [CASE...]

Runs the media services bench binary (crates/media/benches/services.rs) under valgrind's
callgrind, once per case, with MEDIA_BENCH_TICKS set: the binary sets the case's calls up
(SIP INVITE/ACK through a fake proxy address, two seconds of ticks), then runs the ticks
inside `measured_ticks`, the only function collected (--toggle-collect). A tick is one
G.711 µ-law packet into every leg, ServiceUa::tick, every packet out drained. Prints the
instructions per tick and per leg per tick; these repeat exactly where times on a shared
machine do not.

Cases (default: all): echo/100 echo/1000 announce/1000 voicemail/1000 conference/3
conference/10 conference/50 "conference/50 joined" (conference/N: 150 participants
in rooms of N, once the join tones are over; joined: while they play).

Options:
  --ticks N     ticks counted per case (default 250: five seconds of media, one RTCP
                interval, so each leg's reports are in; "conference/50 joined" counts
                at most 50, the join tones' time)
  --bin PATH    the bench binary (default: built by cargo bench -p media --bench services
                --no-run)
  --keep        keep the callgrind files (for callgrind_annotate) and name their directory
  -h, --help    this text

Needs valgrind.
TEXT
}

repo=$(cd "$(dirname "$0")/.." && pwd)
ticks=250 bin="" keep=0
cases=()
while [ $# -gt 0 ]; do
  case $1 in
    --ticks) ticks=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) cases+=("$1"); shift ;;
  esac
done
case $ticks in '' | *[!0-9]* | 0) echo "--ticks: a positive number" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
if [ ${#cases[@]} -eq 0 ]; then
  cases=(echo/100 echo/1000 announce/1000 voicemail/1000 conference/3 conference/10 conference/50
    "conference/50 joined")
fi
if [ -z "$bin" ]; then
  bin=$(cd "$repo" && cargo bench -p media --bench services --no-run 2>&1 \
    | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
  [ -n "$bin" ] || { echo "could not build the bench binary" >&2; exit 1; }
  case $bin in /*) ;; *) bin=$repo/$bin ;; esac
fi

tmp=$(mktemp -d /tmp/media-instructions.XXXXXX)
cleanup() { if [ "$keep" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

printf '| case | legs | instructions per tick | per leg per tick |\n|---|---:|---:|---:|\n'
for c in "${cases[@]}"; do
  out=$tmp/$(echo "$c" | tr '/ ' '__').callgrind
  MEDIA_BENCH_TICKS=$ticks valgrind --tool=callgrind --dump-instr=no --collect-atstart=no \
    --toggle-collect='*measured_ticks*' --callgrind-out-file="$out" \
    "$bin" "$c" >"$out.stdout" 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
  legs=$(sed -n 's/^.*: \([0-9]*\) legs, .*$/\1/p' "$out.stdout")
  t=$(sed -n 's/^.* legs, \([0-9]*\) ticks counted$/\1/p' "$out.stdout")
  [ -n "$legs" ] || { echo "$c: no such case" >&2; exit 1; }
  ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out" | head -1)
  [ -n "$ir" ] || ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" | head -1)
  awk -v c="$c" -v legs="$legs" -v ir="$ir" -v t="$t" 'BEGIN {
    printf "| %s | %d | %.0f | %.0f |\n", c, legs, ir / t, ir / t / legs }'
done
