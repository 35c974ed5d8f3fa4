#!/usr/bin/env bash
# Vendor the official AsyncAPI 3.0.0 JSON Schema (the npm package @asyncapi/specs, maintained by
# the AsyncAPI Initiative) so CI validates the hub's AsyncAPI document offline (issue 18).
# Fetches the pinned version with `npm pack` (which checks the tarball against the registry's
# integrity hash), checks the SHA-256 of the tarball and of the schema against the pinned ones,
# and copies the self-contained schema (`3.0.0-without-$id.json`: every $ref within the file)
# and the package's licence into tests/vendor/asyncapi/ (only the tests use it).
#
#   deploy/vendor-asyncapi-schema.sh          # the pinned version
#   ASYNCAPI_SPECS_VERSION=6.12.0 ASYNCAPI_SPECS_TGZ_SHA256=… ASYNCAPI_SCHEMA_SHA256=… \
#       deploy/vendor-asyncapi-schema.sh      # another (then commit the result and the new pins)
set -euo pipefail

VERSION=${ASYNCAPI_SPECS_VERSION:-6.11.1}
TGZ_SHA256=${ASYNCAPI_SPECS_TGZ_SHA256:-01af8744dc33c0c7eb2e908f6a955319ee58b70ecadc9387d1aeb16c0cd28928}
SCHEMA_SHA256=${ASYNCAPI_SCHEMA_SHA256:-abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f}
PACKAGE=@asyncapi/specs
SCHEMA='schemas/3.0.0-without-$id.json'
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/tests/vendor/asyncapi

command -v npm >/dev/null || { echo "vendor-asyncapi-schema.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
TGZ="$WORK/asyncapi-specs-$VERSION.tgz"
echo "$TGZ_SHA256  $TGZ" | sha256sum --check --quiet \
    || { echo "vendor-asyncapi-schema.sh: $PACKAGE@$VERSION's tarball is not the pinned one" >&2; exit 1; }
tar -xzf "$TGZ" -C "$WORK"
[ -f "$WORK/package/$SCHEMA" ] \
    || { echo "vendor-asyncapi-schema.sh: $PACKAGE@$VERSION has no $SCHEMA" >&2; exit 1; }
echo "$SCHEMA_SHA256  $WORK/package/$SCHEMA" | sha256sum --check --quiet \
    || { echo "vendor-asyncapi-schema.sh: $PACKAGE@$VERSION's $SCHEMA is not the pinned one" >&2; exit 1; }
mkdir -p "$TARGET"
cp "$WORK/package/$SCHEMA" "$TARGET/asyncapi-3.0.0.schema.json"
cp "$WORK/package/LICENSE" "$TARGET/LICENSE"
printf '%s@%s\n%s  asyncapi-3.0.0.schema.json\n' "$PACKAGE" "$VERSION" "$SCHEMA_SHA256" >"$TARGET/VERSION"
echo "vendored $PACKAGE@$VERSION ($SCHEMA) into ${TARGET#"$ROOT"/}"
