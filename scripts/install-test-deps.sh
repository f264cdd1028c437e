#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine. Idempotent: installs only
# what is missing. Today the tests need only the Rust toolchain (rustfmt and clippy); the
# peers of later issues (sip-tester, baresip, kamailio, rtpengine, postgresql) are added here
# when their tests land.
set -euo pipefail
need_rustup=()
rustfmt --version >/dev/null 2>&1 || need_rustup+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || need_rustup+=(clippy)
if [ ${#need_rustup[@]} -gt 0 ]; then
  rustup component add "${need_rustup[@]}"
fi
apt_missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || apt_missing+=("$pkg")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_missing[@]}"
fi
echo "test dependencies present"
