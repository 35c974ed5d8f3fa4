#!/usr/bin/env bash
# Vendor the Scottish Government Design System's built CSS into the console, so the hub serves it
# itself and works on a network with no internet (issue 16). Fetches the pinned version from the
# npm registry with `npm pack` (which checks the tarball against the registry's integrity hash)
# and copies its built, minified stylesheet and licence into hub/api/console/static/sgds/.
# The design system's scripts are not vendored: the console's pages need none (the MAPPA
# dashboard alone runs a script, its charts', from deploy/vendor-charts.sh).
#
#   deploy/vendor-design-system.sh            # the pinned version
#   SGDS_VERSION=4.3.0 deploy/vendor-design-system.sh   # another (then commit the result)
set -euo pipefail

VERSION=${SGDS_VERSION:-4.2.0}
PACKAGE=@scottish-government/design-system
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/hub/api/console/static/sgds

command -v npm >/dev/null || { echo "vendor-design-system.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tar -xzf "$WORK"/scottish-government-design-system-"$VERSION".tgz -C "$WORK"
[ -f "$WORK/package/dist/css/design-system.min.css" ] \
    || { echo "vendor-design-system.sh: $PACKAGE@$VERSION has no dist/css/design-system.min.css" >&2; exit 1; }
mkdir -p "$TARGET"
# The source map names files that are not vendored; drop its reference.
sed 's|/\*# sourceMappingURL=[^*]*\*/||' "$WORK/package/dist/css/design-system.min.css" >"$TARGET/design-system.min.css"
cp "$WORK/package/LICENSE.txt" "$TARGET/LICENSE.txt"
echo "$PACKAGE@$VERSION" >"$TARGET/VERSION"
echo "vendored $PACKAGE@$VERSION into ${TARGET#"$ROOT"/}"
