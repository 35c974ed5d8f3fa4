#!/usr/bin/env bash
# Vendor uPlot (a small, maintained chart library: one script, one stylesheet, no dependencies)
# into the console, for the MAPPA dashboard's charts (issue 16), so the hub serves it itself and
# works on a network with no internet. Fetches the pinned version from the npm registry with
# `npm pack`, checks the tarball against the pinned integrity hash, and copies its built script
# (the IIFE build, which defines the global `uPlot`), stylesheet and licence into
# hub/api/console/static/uplot/. The charts are drawn by hub/api/console/static/mappa-charts.js.
#
#   deploy/vendor-charts.sh
set -euo pipefail

PACKAGE=uplot@1.6.32
INTEGRITY=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/hub/api/console/static/uplot

command -v npm >/dev/null || { echo "vendor-charts.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tarball=$(cd "$WORK" && npm pack --silent "$PACKAGE")
actual="sha512-$(openssl dgst -sha512 -binary "$WORK/$tarball" | base64 -w0)"
[ "$actual" = "$INTEGRITY" ] || {
    echo "vendor-charts.sh: $PACKAGE has integrity $actual, expected $INTEGRITY" >&2
    exit 1
}
tar -xzf "$WORK/$tarball" -C "$WORK"
rm -rf "$TARGET"
mkdir -p "$TARGET"
for name in uPlot.iife.min.js uPlot.min.css; do
    [ -f "$WORK/package/dist/$name" ] \
        || { echo "vendor-charts.sh: $PACKAGE has no dist/$name" >&2; exit 1; }
    cp "$WORK/package/dist/$name" "$TARGET/$name"
done
cp "$WORK/package/LICENSE" "$TARGET/LICENSE"
echo "$PACKAGE $INTEGRITY" >"$TARGET/VERSION"
echo "vendored $PACKAGE into ${TARGET#"$ROOT"/}"
