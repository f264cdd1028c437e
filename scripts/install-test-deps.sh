#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine. Idempotent: installs only
# what is missing: the Rust toolchain (rustfmt and clippy) and the Debian packages given as
# arguments. .ci/run passes what the tests use: postgresql (the store and server tests start
# a private cluster with its initdb/pg_ctl; no system service is used), sip-tester (sipp,
# the REGISTER-with-digest scenario of ../shared/bench), libgsm-tools (toast, untoast: the
# live GSM 06.10 comparison of crates/rtp/tests/codec_gsm.rs, which prints a "skipped" line
# without it) and baresip (the interop tests of `itsp phone`, crates/itsp/tests/phone_peers.rs,
# which fail without it), rtpengine-daemon (the proxy driving a real rtpengine as its relay
# node, crates/itsp/tests/proxy_rtpengine.rs; the NG client against a real rtpengine,
# crates/relay/tests/rtpengine.rs; bench/relay.sh) and kamailio (its base package ships the
# rtpengine module: crates/itsp/tests/relay_kamailio.rs), sipvicious (svcrack against the
# server's guards, crates/itsp/tests/guard.rs; svwar, the user-enumeration scan of
# crates/itsp/tests/enumeration.rs), fail2ban (fail2ban-regex with
# contrib/fail2ban/filter.d/itsp.conf, crates/itsp/tests/guard.rs, which says "skipped"
# without it), linphone-cli (linphonec registering: crates/itsp/tests/registrar_peers.rs),
# tshark (decodes the SIP capture's pcap files: crates/itsp/tests/trace.rs,
# crates/server/tests/pcap_tshark.rs; installed without asking whether non-root users may
# capture, which the tests do not need), sngrep (a HEP collector reading our export:
# crates/itsp/tests/trace.rs) and chromium with chromium-driver (the portal's
# browser test, crates/portal/tests/browser.rs, drives headless Chromium through
# chromedriver), poppler-utils (pdftotext reads the invoice PDFs of `itsp invoice`:
# crates/itsp/tests/invoices.rs) and python3-aiosmtpd (the SMTP server of
# crates/itsp/tests/mail.rs).
# Always installed: iproute2,
# iptables and conntrack, which the NAT lab of the end-to-end tests
# (crates/itsp/tests/common/netns.rs: network namespaces, veth pairs, MASQUERADE,
# `conntrack -F`) needs; and gcc with libc6-dev, the C compiler that builds the bundled
# SQLite (libsqlite3-sys) and mimalloc (libmimalloc-sys); procps for `kill` (tests end
# process groups with it: the browser tests' chromedriver and Chromium) and util-linux
# for `unshare` (the browser phone's audio test runs in a network namespace of its own).
set -euo pipefail
set -- "$@" iproute2 iptables conntrack gcc libc6-dev procps util-linux
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
  apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi
echo "test dependencies present"
