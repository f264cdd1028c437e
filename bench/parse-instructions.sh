#!/usr/bin/env bash
# Instructions per parse + access (top Via, From, To, CSeq, Call-ID) of the benchmark
# INVITE, sip vs rsipstack, counted by callgrind: repeatable where wall-clock times drift.
# Usage: bench/parse-instructions.sh [N]   (default 20000 parses each)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p sip --example parse_instructions
bin=target/release/examples/parse_instructions
count() { # instructions of one run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count none "$n")
sip=$(( ( $(count sip "$n") - base ) / n ))
rs=$(( ( $(count rsipstack "$n") - base ) / n ))
echo "instructions per parse + access, $n runs each (callgrind)"
printf '%-10s %8d\n' sip "$sip" rsipstack "$rs"
awk -v a="$rs" -v b="$sip" 'BEGIN { printf "ratio      %8.2fx fewer instructions for sip\n", a / b }'
