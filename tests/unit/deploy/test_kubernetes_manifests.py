"""deploy/kubernetes/: each overlay renders with kustomize, every manifest is valid against the
Kubernetes schemas, and what the pods are given is what the hub needs: real `hub` commands, real
`HUB_*` settings, every secret production requires, probes on the hub's health endpoints, and
the security and resource settings a cluster's admission policies expect (docs/kubernetes.md)."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import secrets
from pathlib import PurePath
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.api.routes.health import router as health_router
from hub.api.worker_listener import listener_app
from hub.auth.webhook_keys import load_webhook_signer
from hub.cli import _parser as cli_parser
from hub.settings import DatabaseSettings, Settings
from tests.unit.deploy.kubernetes_manifests import (
    OVERLAYS,
    ROOT,
    SCHEMAS,
    Manifest,
    named,
    pod_template,
    pod_templates,
    render,
    schema_errors,
)

GUIDE = ROOT / "docs" / "kubernetes.md"
SETTINGS = {f"HUB_{name.upper()}" for name in Settings.model_fields}
#: The roles `hub serve --role` runs in production, each its own Deployment.
ROLES = ("api", "relay", "router", "delivery")


def _ed25519_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


#: A value of the right shape for each setting the manifests take from a Secret, standing in
#: for what an operator puts there (docs/kubernetes.md says how to make each).
SECRET_SAMPLES = {
    "HUB_DATABASE_URL": lambda: "postgresql+asyncpg://hub:pw@db.example.org:5432/hub",
    "HUB_DATABASE_MIGRATION_URL": lambda: "postgresql+asyncpg://hub_owner:pw@db.example.org/hub",
    "HUB_TOKEN_SIGNING_KEY": _ed25519_pem,
    "HUB_AUDIT_SIGNING_KEY": _ed25519_pem,
    "HUB_WEBHOOK_SIGNING_KEY": _ed25519_pem,
    "HUB_DATA_KEK": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "HUB_KAFKA_SASL_PASSWORD": lambda: secrets.token_urlsafe(24),
    "HUB_OIDC_CLIENT_SECRET": lambda: secrets.token_urlsafe(24),
}


def _environment(manifests: list[Manifest], container: Manifest) -> dict[str, str]:
    """The environment the container gets: its ConfigMaps' values as rendered, and a sample
    of the right shape for each value taken from a Secret."""
    config_maps = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ConfigMap"}
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{container['name']}: envFrom {source}"
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"{container['name']} reads a ConfigMap not rendered: {name}"
        environment.update(config_maps[name]["data"])
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            environment[name] = variable["value"]
        else:
            assert set(variable["valueFrom"]) == {"secretKeyRef"}, variable
            assert name in SECRET_SAMPLES, f"add a sample of {name} to SECRET_SAMPLES"
            environment[name] = SECRET_SAMPLES[name]()
    return environment


def _settings(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], container: Manifest | None = None
) -> Settings:
    """The settings the container's command loads from `environment` (`hub db upgrade|check`
    load the database's only: hub.cli.running)."""
    loads = Settings
    if container is not None:
        parsed = cli_parser().parse_args(container["args"][1:])
        loads = DatabaseSettings if getattr(parsed, "database_only", False) else Settings
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("HUB_")]:
            patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        return loads()


def _containers(manifests: list[Manifest]) -> list[tuple[Manifest, Manifest]]:
    return [
        (workload, container)
        for workload, pod in pod_templates(manifests)
        for container in pod.get("initContainers", []) + pod["containers"]
    ]


def _role(container: Manifest) -> str | None:
    args: list[str] = container["args"]
    return args[args.index("--role") + 1] if "--role" in args else None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(overlay: str) -> None:
    manifests = render(overlay)
    assert manifests
    problems = {
        f"{m['kind']} {m['metadata']['name']}": errors
        for m in manifests
        if (errors := schema_errors(m))
    }
    assert problems == {}


def test_the_schema_check_finds_a_wrong_field_a_wrong_type_and_an_unknown_kind() -> None:
    deployment = named(render("production"), "Deployment", "pph-hub-api")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    unknown = {"apiVersion": "apps/v1", "kind": "StatefulSett", "metadata": {"name": "x"}}

    assert any("imagePullPolicyy" in e for e in schema_errors(misspelt))
    assert any(e.startswith("spec.replicas:") for e in schema_errors(wrong_type))
    assert any("no vendored schema" in e for e in schema_errors(unknown))
    assert schema_errors(deployment) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_hub_variable_the_manifests_set_is_a_real_setting(overlay: str) -> None:
    manifests = render(overlay)
    named_variables = {
        name for m in manifests if m["kind"] == "ConfigMap" for name in m["data"]
    } | {variable["name"] for _, c in _containers(manifests) for variable in c.get("env", [])}
    assert named_variables
    assert {n for n in named_variables if n.startswith("HUB_")} <= SETTINGS
    assert {n for n in named_variables if not n.startswith("HUB_")} == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_real_hub_command(overlay: str) -> None:
    for workload, container in _containers(render(overlay)):
        args = container["args"]
        assert args[0] == "hub", workload["metadata"]["name"]
        parsed = cli_parser().parse_args(args[1:])
        assert hasattr(parsed, "run"), f"{args} is not a command"


def test_production_runs_each_role_in_its_own_deployment_and_migrates_in_a_job() -> None:
    manifests = render("production")
    deployments = {
        _role(pod["containers"][0]): workload
        for workload, pod in pod_templates(manifests)
        if workload["kind"] == "Deployment"
    }
    assert set(deployments) == set(ROLES)
    assert deployments["router"]["spec"]["replicas"] > 1
    assert deployments["relay"]["spec"]["replicas"] == 1
    job = named(manifests, "Job", "pph-hub-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["hub", "db", "upgrade"]


def test_production_gives_every_process_the_settings_production_requires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render("production")
    for workload, container in _containers(manifests):
        name = workload["metadata"]["name"]
        settings = _settings(monkeypatch, _environment(manifests, container), container)
        assert settings.environment == "production", name
        assert not settings.is_embedded, name
        if workload["kind"] == "Deployment":
            # Every role loads the webhook signer at start (`hub.bootstrap.running`).
            assert load_webhook_signer(settings).keys, name
            assert settings.kafka_bootstrap is not None, name


def test_only_the_migration_job_holds_the_owner_roles_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render("production")
    holders = {
        workload["metadata"]["name"]
        for workload, container in _containers(manifests)
        if _settings(
            monkeypatch, _environment(manifests, container), container
        ).database_migration_url
    }
    assert holders == {"pph-hub-migrate"}


def test_the_migration_job_holds_no_key() -> None:
    # It needs the database's URLs only (hub.settings.DatabaseSettings): a key it is given is a
    # key one more pod can leak.
    job = named(render("production"), "Job", "pph-hub-migrate")
    [container] = job["spec"]["template"]["spec"]["containers"]
    given = {entry["name"] for entry in container.get("env", [])}
    assert given == {"HUB_DATABASE_MIGRATION_URL", "HUB_DATABASE_URL"}


def test_a_production_setting_left_out_stops_the_role(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check above would catch a missing secret: the settings refuse production without it.
    manifests = render("production")
    api = named(manifests, "Deployment", "pph-hub-api")["spec"]["template"]["spec"]
    environment = _environment(manifests, api["containers"][0])
    del environment["HUB_DATA_KEK"]
    with pytest.raises(ValueError, match="HUB_DATA_KEK"):
        _settings(monkeypatch, environment)


def test_the_trial_runs_every_role_in_one_pod_on_its_embedded_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render("embedded-for-trial")
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["pph-hub-api"]
    (deployment,) = deployments
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert _role(pod["containers"][0]) == "all"
    settings = _settings(monkeypatch, _environment(manifests, pod["containers"][0]))
    assert settings.is_embedded
    data = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "data")
    assert data["mountPath"] == str(settings.data_dir)
    volume = next(v for v in pod["volumes"] if v["name"] == "data")
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert named(manifests, "PersistentVolumeClaim", claim)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_is_probed_on_the_hubs_health_endpoints(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(overlay)
    paths = {getattr(route, "path", None) for route in health_router.routes}
    api = named(manifests, "Deployment", "pph-hub-api")["spec"]["template"]["spec"]
    (container,) = api["containers"]
    settings = _settings(monkeypatch, _environment(manifests, container))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    scheme = "HTTPS" if settings.tls_cert_file is not None else "HTTP"
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    for probe in probes.values():
        assert probe["path"] in paths
        assert ports[probe["port"]] == settings.port
        assert probe.get("scheme", "HTTP") == scheme
    if settings.tls_cert_file is not None:
        # The kubelet's probes carry no client certificate.
        assert settings.tls_client_certificates != "required"
    service = named(manifests, "Service", "pph-hub-api")
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_probe_points_at_a_port_the_container_declares(overlay: str) -> None:
    manifests = render(overlay)
    for workload, pod in pod_templates(manifests):
        for container in pod["containers"]:
            declared = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if kind in container:
                    port = container[kind]["httpGet"]["port"]
                    assert port in declared or port in declared.values(), (
                        f"{workload['metadata']['name']}: {kind} on {port}, not declared"
                    )


def test_every_worker_role_is_probed_on_its_metrics_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render("production")
    paths = {getattr(route, "path", None) for route in listener_app(cast(Any, None), {}).routes}
    for role in ROLES[1:]:
        pod = named(manifests, "Deployment", f"pph-hub-{role}")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        settings = _settings(monkeypatch, _environment(manifests, container))
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert settings.metrics_port is not None, role
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", role
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", role
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = container[kind]["httpGet"]
            assert probe["path"] in paths, role
            assert ports[probe["port"]] == settings.metrics_port, role
            assert probe.get("scheme", "HTTP") == "HTTP", role  # the listener has no TLS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_locked_down_with_resources_and_a_pinned_image(overlay: str) -> None:
    manifests = render(overlay)
    for workload, pod in pod_templates(manifests):
        name = workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, name
            image = container["image"]
            # The overlay's `images:` named the registry and pinned a tag or digest.
            assert image.startswith("registry.example.org/pph-hub"), image
            assert ":" in image.rpartition("/")[2], image
            assert not image.endswith(":latest"), image
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_cover_the_scaled_roles(overlay: str) -> None:
    manifests = render(overlay)
    labels = [
        workload["spec"]["template"]["metadata"]["labels"]
        for workload, _ in pod_templates(manifests)
        if workload["kind"] == "Deployment" and workload["spec"]["replicas"] > 1
    ]
    budgets = [
        m["spec"]["selector"]["matchLabels"]
        for m in manifests
        if m["kind"] == "PodDisruptionBudget"
    ]
    for template in labels:
        assert any(_selects(budget, template) for budget in budgets), template


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_admit_only_the_api(overlay: str) -> None:
    manifests = render(overlay)
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    for workload, pod in pod_templates(manifests):
        template = pod_template(workload)["metadata"]["labels"]
        applying = [p for p in policies if _selects(p["spec"]["podSelector"], template)]
        assert any(
            set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
            for p in applying
        ), f"{workload['metadata']['name']}: no default deny"
        admitted = [p for p in applying if p["spec"].get("ingress")]
        if template["app.kubernetes.io/component"] == "api":
            assert admitted
            continue
        # A worker role takes no connection but Prometheus's, from a namespace it names, on
        # the port of its metrics listener.
        metrics_ports = {
            port["containerPort"]
            for container in pod["containers"]
            for port in container.get("ports", [])
            if port["name"] == "metrics"
        }
        for policy in admitted:
            for rule in policy["spec"]["ingress"]:
                assert [set(peer) for peer in rule["from"]] == [{"namespaceSelector"}], policy
                assert {port["port"] for port in rule["ports"]} <= metrics_ports, policy


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    matched = all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        matched = matched and labels.get(expression["key"]) in expression["values"]
    return matched


def test_the_operators_guide_lists_every_secret_the_manifests_reference() -> None:
    manifests = render("production")
    referenced: set[tuple[str, str | None]] = set()
    for _, pod in pod_templates(manifests):
        for container in pod["containers"]:
            for variable in container.get("env", []):
                if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
                    referenced.add((ref["name"], ref["key"]))
        for volume in pod.get("volumes", []):
            if secret := volume.get("secret"):
                items = secret.get("items") or [{"key": None}]
                referenced |= {(secret["secretName"], item["key"]) for item in items}
    rows = [line for line in GUIDE.read_text().splitlines() if line.startswith("| `pph-hub-")]
    assert len(referenced) > 5
    for secret, key in referenced:
        assert any(f"`{secret}`" in row and (key is None or f"`{key}`" in row) for row in rows), (
            f"docs/kubernetes.md's table of Secrets lacks {secret} {key}"
        )


def test_the_vendored_schemas_are_the_pinned_ones() -> None:
    pinned = {
        name: digest
        for digest, name in (
            line.split() for line in (SCHEMAS / "VERSION").read_text().splitlines()[2:]
        )
    }
    actual = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in SCHEMAS.glob("*.json")
    }
    assert actual == pinned, "re-run deploy/vendor-kubernetes-schemas.sh rather than editing them"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_file_a_role_is_pointed_at_is_mounted_there(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(overlay)
    for workload, pod in pod_templates(manifests):
        if workload["kind"] != "Deployment":
            continue  # the migration Job reads no file but the database's
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        environment = _environment(manifests, container)
        settings = _settings(monkeypatch, environment)
        given = {
            name: getattr(settings, name)
            for name in Settings.model_fields
            if f"HUB_{name.upper()}" in environment
            and isinstance(getattr(settings, name), PurePath)
        }
        assert given or overlay != "production"
        for name, path in given.items():
            mounts = [
                m
                for m in container["volumeMounts"]
                if path == PurePath(m["mountPath"]) or PurePath(m["mountPath"]) in path.parents
            ]
            assert mounts, f"{workload['metadata']['name']}: HUB_{name.upper()}={path} not mounted"
            (mount,) = mounts
            items = volumes[mount["name"]].get("secret", {}).get("items")
            if items:
                relative = str(path.relative_to(mount["mountPath"]))
                assert relative in {item["path"] for item in items}, (name, path)


def test_production_verifies_the_audit_log_every_hour_against_the_published_checkpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The console's audit status page shows the latest recorded run and never verifies on the
    # request path: this CronJob keeps that run fresh (the page calls one a day old stale).
    manifests = render("production")
    cronjob = named(manifests, "CronJob", "pph-hub-audit-verify")
    minute, hour, *_ = cronjob["spec"]["schedule"].split()
    assert minute.isdigit()
    assert hour == "*", "hourly"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = pod_template(cronjob)["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["hub", "audit", "verify"]
    settings = _settings(monkeypatch, _environment(manifests, container), container)
    assert settings.environment == "production"
    api = named(manifests, "Deployment", "pph-hub-api")
    api_settings = _settings(
        monkeypatch, _environment(manifests, pod_template(api)["spec"]["containers"][0])
    )
    checkpoints = settings.resolved_audit_checkpoint_dir
    assert checkpoints == api_settings.resolved_audit_checkpoint_dir
    [mount] = [m for m in container["volumeMounts"] if PurePath(m["mountPath"]) == checkpoints]
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == "pph-hub-audit-checkpoints"
    assert "HUB_DATABASE_MIGRATION_URL" not in {e["name"] for e in container["env"]}
