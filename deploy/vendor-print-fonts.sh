#!/usr/bin/env bash
# Vendor the Roboto font (the Scottish Government Design System's typeface) into the console,
# for the subject access report as PDF (issue 16): WeasyPrint embeds it from the package, so
# the PDF looks the same on every host and rendering fetches nothing. Fetches the pinned
# @fontsource/roboto from the npm registry with `npm pack`, checks the tarball against the pinned
# integrity hash, and copies the regular and bold faces (Latin and Latin Extended, WOFF2) and
# the licence (SIL Open Font License 1.1) into hub/api/console/static/fonts/.
#
#   deploy/vendor-print-fonts.sh
set -euo pipefail

PACKAGE=@fontsource/roboto@5.3.0
INTEGRITY=sha512-BapRJOWYP+LZ21zp+wBQjfpPYKRoxc4LspJ/RLuI+HSMBD5u/X4O+ESDrSvEqDSy0rAl7GwBJ+09mdc16cVQ1Q==
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/hub/api/console/static/fonts

command -v npm >/dev/null || { echo "vendor-print-fonts.sh: npm is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tarball=$(cd "$WORK" && npm pack --silent "$PACKAGE")
actual="sha512-$(openssl dgst -sha512 -binary "$WORK/$tarball" | base64 -w0)"
[ "$actual" = "$INTEGRITY" ] || {
    echo "vendor-print-fonts.sh: $PACKAGE has integrity $actual, expected $INTEGRITY" >&2
    exit 1
}
tar -xzf "$WORK/$tarball" -C "$WORK"
rm -rf "$TARGET"
mkdir -p "$TARGET"
for subset in latin latin-ext; do
    for weight in 400 700; do
        name=roboto-$subset-$weight-normal.woff2
        [ -f "$WORK/package/files/$name" ] \
            || { echo "vendor-print-fonts.sh: $PACKAGE has no files/$name" >&2; exit 1; }
        cp "$WORK/package/files/$name" "$TARGET/$name"
    done
done
cp "$WORK/package/LICENSE" "$TARGET/LICENSE"
echo "$PACKAGE $INTEGRITY" >"$TARGET/VERSION"
echo "vendored $PACKAGE into ${TARGET#"$ROOT"/}"
