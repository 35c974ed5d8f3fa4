#!/usr/bin/env bash
# Vendor htmx (partial page updates from HTML attributes, no build chain) into the console, for
# the pages that update part of themselves (issue 16), so the hub serves it itself and works on a
# network with no internet. Fetches the pinned version from the npm registry with `npm pack`,
# checks the tarball against the pinned integrity hash, and copies its minified build (which
# defines the global `htmx`) and licence into hub/api/console/static/htmx/. The console's own
# hub/api/console/static/console-htmx.js sits beside it; base.html configures htmx for the
# console's Content-Security-Policy (no eval, no inline scripts or styles).
#
#   deploy/vendor-htmx.sh
set -euo pipefail

PACKAGE=htmx.org@2.0.11
INTEGRITY=sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/hub/api/console/static/htmx

command -v npm >/dev/null || { echo "vendor-htmx.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tarball=$(cd "$WORK" && npm pack --silent "$PACKAGE")
actual="sha512-$(openssl dgst -sha512 -binary "$WORK/$tarball" | base64 -w0)"
[ "$actual" = "$INTEGRITY" ] || {
    echo "vendor-htmx.sh: $PACKAGE has integrity $actual, expected $INTEGRITY" >&2
    exit 1
}
tar -xzf "$WORK/$tarball" -C "$WORK"
rm -rf "$TARGET"
mkdir -p "$TARGET"
[ -f "$WORK/package/dist/htmx.min.js" ] \
    || { echo "vendor-htmx.sh: $PACKAGE has no dist/htmx.min.js" >&2; exit 1; }
cp "$WORK/package/dist/htmx.min.js" "$TARGET/htmx.min.js"
cp "$WORK/package/LICENSE" "$TARGET/LICENSE"
echo "$PACKAGE $INTEGRITY" >"$TARGET/VERSION"
echo "vendored $PACKAGE into ${TARGET#"$ROOT"/}"
