#!/usr/bin/env bash
# Build kustomize from the Go module proxy into .cache/tools/kustomize-<version>/ (gitignored),
# for a machine without kubectl (whose `kubectl kustomize` is the same kustomize): the manifest
# tests (tests/unit/deploy/test_kubernetes_manifests.py) use this binary when it is there. About
# two minutes on 2 cores the first time, nothing after.
set -euo pipefail
VERSION=${KUSTOMIZE_VERSION:-v5.5.0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/.cache/tools/kustomize-$VERSION
if [ -x "$BIN/kustomize" ]; then
    echo "kustomize $VERSION already built: $BIN/kustomize"
    exit 0
fi
command -v go >/dev/null || { echo "install-kustomize.sh: go is not installed" >&2; exit 1; }
mkdir -p "$BIN"
GOBIN=$BIN GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION"
echo "built kustomize $VERSION: $BIN/kustomize"
