#!/usr/bin/env bash
# Rebuilds crates/portal/assets/vendor/jssip.min.js, the SIP library of the browser phone
# (/phone): JsSIP from the npm registry bundled with its dependencies into one script
# that defines the global `JsSIP` (esbuild, an IIFE). The file is committed, so neither
# the build nor the tests need npm; run this only to move to another JsSIP version.
#
#   scripts/vendor-jssip.sh            # the version below
#   JSSIP_VERSION=3.13.8 scripts/vendor-jssip.sh
set -euo pipefail
version=${JSSIP_VERSION:-3.13.8}
out="$(cd "$(dirname "$0")/.." && pwd)/crates/portal/assets/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent "jssip@$version" esbuild@0.24
npx esbuild node_modules/jssip/lib/JsSIP.js --bundle --minify --format=iife \
  --global-name=JsSIP --target=es2020 --legal-comments=inline --outfile="$out/jssip.min.js"
{
  echo "JsSIP $version (https://jssip.net), bundled with its dependencies debug, ms, events and sdp-transform"
  echo "by scripts/vendor-jssip.sh. All are under the MIT License; JsSIP's text follows."
  echo
  cat node_modules/jssip/LICENSE.md
} >"$out/jssip.LICENSE"
echo "wrote $out/jssip.min.js (JsSIP $version)"
