#!/usr/bin/env bash
# Vendor the Compose Specification's JSON Schema (`schema/compose-spec.json`) as the reference
# implementation ships it: the Go module github.com/compose-spec/compose-go/v2, which Docker
# Compose itself validates compose files with. `go mod download` fetches the pinned version
# through the Go module proxy and checks the module against the Go checksum database; this
# script also checks the module's h1: sum and the schema's SHA-256 against the pinned ones, and
# copies the schema, the licence and the notice into tests/vendor/compose-spec/ (only the tests
# use it: tests/unit/deploy/test_compose.py).
#
#   deploy/vendor-compose-schema.sh          # the pinned version
#   COMPOSE_GO_VERSION=v2.16.3 COMPOSE_GO_SUM=h1:… COMPOSE_SCHEMA_SHA256=… \
#       deploy/vendor-compose-schema.sh      # another (then commit the result and the new pins)
set -euo pipefail

VERSION=${COMPOSE_GO_VERSION:-v2.16.2}
SUM=${COMPOSE_GO_SUM:-h1:pTp1DqQwJzFd85GzlWsSszKA1ABrV/ySqsClujIcWA8=}
SCHEMA_SHA256=${COMPOSE_SCHEMA_SHA256:-f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff}
MODULE=github.com/compose-spec/compose-go/v2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/tests/vendor/compose-spec

command -v go >/dev/null || { echo "vendor-compose-schema.sh: go is not installed" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
export GOMODCACHE=$WORK/mod GOPATH=$WORK/go GOFLAGS=-modcacherw
INFO=$(go mod download -json "$MODULE@$VERSION")
DIR=$(printf '%s' "$INFO" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
GOT=$(printf '%s' "$INFO" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Sum"])')
[ "$GOT" = "$SUM" ] \
    || { echo "vendor-compose-schema.sh: $MODULE@$VERSION is $GOT, not the pinned $SUM" >&2; exit 1; }
echo "$SCHEMA_SHA256  $DIR/schema/compose-spec.json" | sha256sum --check --quiet \
    || { echo "vendor-compose-schema.sh: $MODULE@$VERSION's schema is not the pinned one" >&2; exit 1; }
mkdir -p "$TARGET"
cp "$DIR/schema/compose-spec.json" "$TARGET/compose-spec.json"
cp "$DIR/LICENSE" "$TARGET/LICENSE"
cp "$DIR/NOTICE" "$TARGET/NOTICE"
printf '%s@%s %s\n%s  compose-spec.json\n' "$MODULE" "$VERSION" "$SUM" "$SCHEMA_SHA256" >"$TARGET/VERSION"
echo "vendored $MODULE@$VERSION (schema/compose-spec.json) into ${TARGET#"$ROOT"/}"
