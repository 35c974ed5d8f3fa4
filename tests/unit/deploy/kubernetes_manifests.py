"""For the manifest tests: rendering deploy/kubernetes/'s overlays with kustomize, and validating
what comes out against the vendored Kubernetes JSON schemas (tests/vendor/kubernetes/, made by
deploy/vendor-kubernetes-schemas.sh)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("embedded-for-trial", "production")
SCHEMAS = ROOT / "tests" / "vendor" / "kubernetes"
KUSTOMIZE_VERSION = "v5.5.0"

Manifest = dict[str, Any]


def kustomize_command() -> list[str]:
    """`kustomize build`, as found here: $KUSTOMIZE, a kustomize on the PATH, the one
    deploy/install-kustomize.sh builds, or kubectl's own (`kubectl kustomize`, kustomize v5)."""
    if configured := os.environ.get("KUSTOMIZE"):
        return [configured, "build"]
    if found := shutil.which("kustomize"):
        return [found, "build"]
    built = ROOT / ".cache" / "tools" / f"kustomize-{KUSTOMIZE_VERSION}" / "kustomize"
    if built.is_file():
        return [str(built), "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    raise AssertionError(
        "no kustomize: install kubectl (Debian's `kubectl`) or run deploy/install-kustomize.sh"
    )


def render_directory(directory: Path) -> list[Manifest]:
    """Every manifest `kustomize build directory` renders."""
    finished = subprocess.run(
        [*kustomize_command(), str(directory)], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, f"kustomize build {directory}: {finished.stderr}"
    return [m for m in yaml.safe_load_all(finished.stdout) if m is not None]


@functools.cache
def _rendered(overlay: str) -> str:
    return json.dumps(render_directory(KUBERNETES / "overlays" / overlay))


def render(overlay: str) -> list[Manifest]:
    """The overlay's manifests (rendered once per test run; a fresh copy each call)."""
    manifests: list[Manifest] = json.loads(_rendered(overlay))
    return manifests


def schema_file(manifest: Manifest) -> Path:
    """The vendored schema of the manifest's kind, e.g. `deployment-apps-v1.json`."""
    group, _, version = str(manifest.get("apiVersion", "")).rpartition("/")
    name = f"{manifest.get('kind', '')}".lower()
    return SCHEMAS / (
        f"{name}-{group.split('.')[0]}-{version}.json" if group else f"{name}-{version}.json"
    )


@functools.cache
def _registry() -> Registry[Any]:
    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return registry


def schema_errors(manifest: Manifest) -> list[str]:
    """What the Kubernetes schema of its kind finds wrong with the manifest (strict: an unknown
    field is an error), each as `path: message`; a kind with no vendored schema is one."""
    path = schema_file(manifest)
    if not path.is_file():
        return [
            f"no vendored schema {path.name} for {manifest.get('apiVersion')} "
            f"{manifest.get('kind')}: add it to deploy/vendor-kubernetes-schemas.sh's KINDS"
        ]
    validator = Draft202012Validator(json.loads(path.read_text()), registry=_registry())
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


def pod_templates(manifests: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, its pod spec) for every Deployment, Job and CronJob."""
    for manifest in manifests:
        if manifest["kind"] in ("Deployment", "Job", "CronJob"):
            yield manifest, pod_template(manifest)["spec"]


def pod_template(workload: Manifest) -> Manifest:
    """The pod template of a Deployment or Job, or of the Jobs a CronJob starts."""
    if workload["kind"] == "CronJob":
        template: Manifest = workload["spec"]["jobTemplate"]["spec"]["template"]
        return template
    template = workload["spec"]["template"]
    return template


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """The one manifest of `kind` called `name`, or `name` and kustomize's hash suffix."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind
        and re.fullmatch(re.escape(name) + r"(-[a-z0-9]{10})?", m["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one {kind} {name}: {[m['metadata']['name'] for m in found]}"
    return found[0]
