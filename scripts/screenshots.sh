#!/usr/bin/env bash
# Makes the portal screenshots of the README: runs the Chromium tests
# (crates/portal/tests/browser.rs and the browser phone's crates/itsp/tests/browser_phone.rs,
# a 1100x900 window at scale 1), which save a PNG of each
# page it visits under $CARGO_TARGET_DIR/tmp/portal-screenshots/, then copies a chosen few
# into docs/screenshots/, made smaller with pngquant and optipng when they are installed.
# Needs Debian's chromium and chromium-driver (scripts/install-test-deps.sh chromium
# chromium-driver); pngquant and optipng are optional.
#
#   scripts/screenshots.sh            # run the test, copy the pictures
#   scripts/screenshots.sh --no-test  # copy what the last run saved
set -euo pipefail

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
from="$target/tmp/portal-screenshots"
to="docs/screenshots"
# The pages the README shows, and a few more worth a look.
pages=(login dashboard calls voicemail settings admin-subscribers admin-subscriber
       admin-live-calls admin-rates admin-audit phone-incoming)

if [[ "${1:-}" != "--no-test" ]]; then
    rm -rf "$from"
    cargo test -p portal --test browser -- a_subscriber_logs_in_and_sees_his_phone_in_chromium
    cargo test -p itsp --test browser_phone
fi

mkdir -p "$to"
for page in "${pages[@]}"; do
    src="$from/$page.png"
    if [[ ! -f "$src" ]]; then
        echo "screenshots: $src is missing (did the browser test run?)" >&2
        exit 1
    fi
    cp "$src" "$to/$page.png"
    if command -v pngquant >/dev/null; then
        pngquant --force --skip-if-larger --quality 70-95 --strip --output "$to/$page.png" \
            -- "$to/$page.png" || true
    fi
    if command -v optipng >/dev/null; then
        optipng -quiet -o2 -strip all "$to/$page.png"
    fi
    size=$(stat -c %s "$to/$page.png")
    echo "$to/$page.png: $((size / 1024)) KiB"
    if ((size > 200 * 1024)); then
        echo "screenshots: $to/$page.png is over 200 KiB" >&2
        exit 1
    fi
done
