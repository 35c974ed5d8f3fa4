"""The Kubernetes trial pod's container, run here as its rendered manifest says (its command,
its ConfigMap's environment): it answers the probes the manifest gives it, and stops cleanly on
SIGTERM within the pod's grace period (deploy/kubernetes/overlays/embedded-for-trial)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import HUB, free_port
from tests.unit.deploy.kubernetes_manifests import named, render


def test_the_trial_pod_answers_its_probes_and_stops_within_its_grace_period(
    tmp_path: Path,
) -> None:
    manifests = render("embedded-for-trial")
    pod = named(manifests, "Deployment", "pph-hub-api")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (config_map,) = (m for m in manifests if m["kind"] == "ConfigMap")
    assert [source["configMapRef"]["name"] for source in container["envFrom"]] == [
        config_map["metadata"]["name"]
    ]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(config_map["data"])
    # Here, not in a pod: the data volume is a temporary folder, and the hub listens on this
    # machine's loopback on a free port rather than on every address on port 8000.
    env.update({"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_HOST": "127.0.0.1"})
    env["HUB_PORT"] = str(port)
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe")}
    probes["livenessProbe"] = container["livenessProbe"]["httpGet"]
    assert container["args"][0] == "hub"
    log = tmp_path / "hub.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*HUB, *container["args"][1:]], env=env, stdout=output, stderr=output
        )
    try:
        url = f"http://127.0.0.1:{port}"
        startup = container["startupProbe"]
        budget = startup["periodSeconds"] * startup["failureThreshold"]
        deadline = time.monotonic() + max(budget, 120)  # a loaded machine imports slowly
        answers: dict[str, int] = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answers = {
                    kind: httpx.get(url + probe["path"], timeout=5).status_code
                    for kind, probe in probes.items()
                }
            except httpx.TransportError:
                answers = {}
            if answers and all(code == 200 for code in answers.values()):
                break
            time.sleep(0.2)
        assert answers == dict.fromkeys(probes, 200), log.read_text()
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=pod["terminationGracePeriodSeconds"])
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    # uvicorn shuts the app down, then ends by the signal it was given (as the kubelet sees a
    # container that stopped on SIGTERM): what counts is that the shutdown completed.
    assert code in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()
