#!/usr/bin/env bash
# Vendor the dashboard's third-party browser assets (uPlot, Leaflet) into static/vendor/.
#
# Why: the live page must never load code from a CDN (CSP is 'self' only, and the
# centre may run air-gapped). npm installs the pinned versions from package.json into a
# throw-away build folder; only the minified dist files and their licence are copied.
#
# Usage: dashboard/build_assets.sh        (needs node + npm; idempotent)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${IOC_ASSETS_BUILD_DIR:-$(mktemp -d)}"
trap 'rm -rf "$build"' EXIT
cp "$here/package.json" "$build/"
(cd "$build" && npm install --no-audit --no-fund --ignore-scripts --omit=dev --silent)
dest="$here/static/vendor"
mkdir -p "$dest"
src="$build/node_modules/uplot"
cp "$src/dist/uPlot.iife.min.js" "$dest/uPlot.iife.min.js"
cp "$src/dist/uPlot.min.css" "$dest/uPlot.min.css"
cp "$src/LICENSE" "$dest/uPlot.LICENSE"
version="$(node -p "require('$src/package.json').version")"
leaflet="$build/node_modules/leaflet"
cp "$leaflet/dist/leaflet.js" "$dest/leaflet.js"
cp "$leaflet/dist/leaflet.css" "$dest/leaflet.css"
cp "$leaflet/LICENSE" "$dest/leaflet.LICENSE"
lversion="$(node -p "require('$leaflet/package.json').version")"
printf 'uPlot %s\nLeaflet %s\n' "$version" "$lversion" > "$dest/VERSIONS"
echo "vendored uPlot $version and Leaflet $lversion into $dest"
