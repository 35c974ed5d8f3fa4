#!/usr/bin/env bash
# Vendor Swagger UI (/docs) and ReDoc (/redoc) into the hub, so the API documentation loads from
# the hub itself and works on a network with no internet (issue 16; FastAPI's defaults load them
# from a public CDN). Fetches the pinned versions from the npm registry with `npm pack`, checks
# each tarball against the pinned integrity hash (sha512, as the registry publishes it: a changed
# tarball stops the script), and copies the built bundles and licences into hub/api/docs_static/.
# The bundles' source maps are not vendored (they would double the size); their references are
# dropped.
#
#   deploy/vendor-docs-assets.sh      # the pinned versions (to move on: change both the version
#                                     # and its integrity, from `npm view PKG@VERSION dist.integrity`)
set -euo pipefail

SWAGGER_UI=swagger-ui-dist@5.36.0
SWAGGER_UI_INTEGRITY=sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A==
REDOC=redoc@2.5.4
REDOC_INTEGRITY=sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/hub/api/docs_static

command -v npm >/dev/null || { echo "vendor-docs-assets.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# unpack PACKAGE@VERSION INTEGRITY DIR: the checked tarball's contents in $WORK/DIR/package
unpack() {
    local tarball actual
    tarball=$(cd "$WORK" && npm pack --silent "$1")
    actual="sha512-$(openssl dgst -sha512 -binary "$WORK/$tarball" | base64 -w0)"
    [ "$actual" = "$2" ] || {
        echo "vendor-docs-assets.sh: $1 has integrity $actual, expected $2" >&2
        exit 1
    }
    mkdir -p "$WORK/$3"
    tar -xzf "$WORK/$tarball" -C "$WORK/$3"
}

# copy SOURCE NAME: SOURCE to $TARGET/NAME without the sourceMappingURL comment on its last line
# (only there: the bundles build such comments in strings of their own, which must stay)
copy() {
    [ -f "$1" ] || { echo "vendor-docs-assets.sh: the package has no ${1#"$WORK"/}" >&2; exit 1; }
    sed -e '$ s|^//# sourceMappingURL=[^ ]*$||' -e '$ s|/\*# sourceMappingURL=[^*]*\*/$||' "$1" >"$TARGET/$2"
}

unpack "$SWAGGER_UI" "$SWAGGER_UI_INTEGRITY" swagger
unpack "$REDOC" "$REDOC_INTEGRITY" redoc
rm -rf "$TARGET/swagger-ui" "$TARGET/redoc"
mkdir -p "$TARGET/swagger-ui" "$TARGET/redoc"
copy "$WORK/swagger/package/swagger-ui-bundle.js" swagger-ui/swagger-ui-bundle.js
copy "$WORK/swagger/package/swagger-ui.css" swagger-ui/swagger-ui.css
copy "$WORK/swagger/package/oauth2-redirect.js" swagger-ui/oauth2-redirect.js
cp "$WORK/swagger/package/favicon-32x32.png" "$TARGET/swagger-ui/favicon-32x32.png"
cp "$WORK/swagger/package/LICENSE" "$TARGET/swagger-ui/LICENSE"
cp "$WORK/swagger/package/NOTICE" "$TARGET/swagger-ui/NOTICE"
cp "$WORK/swagger/package/swagger-ui-bundle.js.LICENSE.txt" "$TARGET/swagger-ui/swagger-ui-bundle.js.LICENSE.txt"
echo "$SWAGGER_UI $SWAGGER_UI_INTEGRITY" >"$TARGET/swagger-ui/VERSION"
copy "$WORK/redoc/package/bundles/redoc.standalone.js" redoc/redoc.standalone.js
cp "$WORK/redoc/package/LICENSE" "$TARGET/redoc/LICENSE"
cp "$WORK/redoc/package/bundles/redoc.standalone.js.LICENSE.txt" "$TARGET/redoc/redoc.standalone.js.LICENSE.txt"
echo "$REDOC $REDOC_INTEGRITY" >"$TARGET/redoc/VERSION"
echo "vendored $SWAGGER_UI and $REDOC into ${TARGET#"$ROOT"/}"
