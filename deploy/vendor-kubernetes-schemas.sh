#!/usr/bin/env bash
# Vendor the Kubernetes JSON schemas (strict: unknown fields are errors) that CI validates the
# rendered manifests of deploy/kubernetes/ against, offline (issue 17). They come from the PyPI
# package kubernetes-validate, which ships the schemas generated from each Kubernetes release's
# OpenAPI document (the same as kubeconform's "standalone-strict", with $refs into one
# _definitions.json). Fetches the pinned wheel with `pip download --require-hashes`, checks its
# SHA-256, and copies into tests/vendor/kubernetes/ the schema of each kind the manifests use
# (KINDS below) and only the definitions those reach, each byte for byte as in the wheel.
#
#   deploy/vendor-kubernetes-schemas.sh          # the pinned version
#   KUBERNETES_VALIDATE_VERSION=… KUBERNETES_VALIDATE_WHEEL_SHA256=… KUBERNETES_SCHEMA_VERSION=v1.35.0 \
#       deploy/vendor-kubernetes-schemas.sh      # another (then commit the result and the new pins)
set -euo pipefail

VERSION=${KUBERNETES_VALIDATE_VERSION:-1.37.0}
WHEEL_SHA256=${KUBERNETES_VALIDATE_WHEEL_SHA256:-85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9}
# The Kubernetes release whose API the manifests are checked against.
SCHEMA_VERSION=${KUBERNETES_SCHEMA_VERSION:-v1.34.0}
# Every kind deploy/kubernetes/ renders (tests/unit/deploy/test_kubernetes_manifests.py fails
# on a kind that has no schema here).
KINDS="serviceaccount-v1 configmap-v1 secret-v1 service-v1 persistentvolumeclaim-v1
deployment-apps-v1 job-batch-v1 cronjob-batch-v1 poddisruptionbudget-policy-v1 networkpolicy-networking-v1"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/tests/vendor/kubernetes
PYTHON=${PYTHON:-python3}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "kubernetes-validate==$VERSION --hash=sha256:$WHEEL_SHA256" >"$WORK/requirements.txt"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$WORK/requirements.txt" -d "$WORK"
WHEEL="$WORK/kubernetes_validate-$VERSION-py3-none-any.whl"
echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --quiet \
    || { echo "vendor-kubernetes-schemas.sh: kubernetes-validate $VERSION is not the pinned wheel" >&2; exit 1; }
rm -rf "$TARGET"
mkdir -p "$TARGET"
"$PYTHON" - "$WHEEL" "$SCHEMA_VERSION" "$TARGET" $KINDS <<'PY'
import json
import re
import sys
import zipfile
from pathlib import Path

wheel, version, target, *kinds = sys.argv[1:]
folder = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict/"
reference = re.compile(r'"\$ref":\s*"(?:/api/_definitions\.json)?#/\$defs/([^"]+)"')
with zipfile.ZipFile(wheel) as archive:
    definitions = json.loads(archive.read(folder + "_definitions.json"))
    texts = {kind: archive.read(f"{folder}{kind}.json").decode() for kind in kinds}
    licence = archive.read(
        next(n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
    )
wanted: set[str] = set()
pending = [name for text in texts.values() for name in reference.findall(text)]
while pending:
    name = pending.pop()
    if name not in wanted:
        wanted.add(name)
        pending += reference.findall(json.dumps(definitions["$defs"][name]))
pruned = {key: value for key, value in definitions.items() if key != "$defs"}
pruned["$defs"] = {name: definitions["$defs"][name] for name in sorted(wanted)}
out = Path(target)
for kind, text in texts.items():
    (out / f"{kind}.json").write_text(text)
(out / "_definitions.json").write_text(json.dumps(pruned, indent=1, sort_keys=True) + "\n")
(out / "LICENSE").write_bytes(licence)
print(f"{len(texts)} kinds, {len(wanted)} of {len(definitions['$defs'])} definitions")
PY
{
    printf 'kubernetes-validate==%s (wheel sha256 %s)\nKubernetes %s, strict schemas\n' \
        "$VERSION" "$WHEEL_SHA256" "$SCHEMA_VERSION"
    (cd "$TARGET" && sha256sum -- *.json)
} >"$TARGET/VERSION"
echo "vendored the Kubernetes $SCHEMA_VERSION schemas of kubernetes-validate $VERSION into ${TARGET#"$ROOT"/}"
