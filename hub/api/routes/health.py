"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.api.deps import ContainerDep
from hub.api.models import Health, WorkerHealth
from hub.api.openapi import problems
from hub.api.problems import RETRY_AFTER_SECONDS
from hub.api.router_lag import RouterLagDetail
from hub.domain.schema_revisions import SchemaVerdict
from hub.services.worker import WorkerLoop, WorkerStatus

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


class Readiness(Health):
    """`Health` with how far the router is behind intake (when the database answered)."""

    router_lag: RouterLagDetail | None = None


@router.get(
    "/healthz",
    response_model=Health,
    operation_id="checkLiveness",
    responses=problems(authenticated=False, database=False),
)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="checkReadiness",
    responses={
        **problems(authenticated=False, database=False),
        503: {"model": Readiness, "description": "Not ready (with `Retry-After`): checks say why"},
    },
)
async def readyz(request: Request, container: ContainerDep) -> Readiness | JSONResponse:
    """The database answers, its schema is one this code runs on, and no in-process worker
    has stopped; each worker's state and lag.

    The schema fits when it is at this code's latest migration, or at a later one that declares
    it runs with this code (an expand-only migration, docs/migrations.md): running processes
    stay ready while a rolling upgrade migrates the database under them.

    503 (with `Retry-After`) when the database does not answer, the schema is behind the code
    or at a later revision that does not run with it (`checks.schema` names both revisions),
    or a worker stopped for good. A worker that is retrying a transient fault leaves the hub ready,
    its status "degraded": what clients push is stored and acknowledged, and the worker catches
    up by itself once the fault clears. Taking every API process out of rotation for it would
    turn a delay into an outage.

    `router_lag` says how far the router's checkpoint is behind the store (events, and how long
    the oldest waiting one has waited), wherever the router runs: a router that falls behind
    shows here rather than queueing silently. It does not make the hub unready. Scaled out on
    Kafka it is null: the routers' lag is then their consumer group's (the brokers' figure) and
    the relay's (`workers.relay.lag`)."""
    checks: dict[str, str] = {}
    router_lag: RouterLagDetail | None = None
    try:
        await container.ping_database()
        checks["database"] = "ok"
        verdict = await container.schema_verdict()
        checks["schema"] = _schema_check(verdict)
        _log_change(request, verdict)
        if verdict.runnable and not container.scaled_out:
            # Scaled out, the routers consume Kafka and never move this checkpoint (as for the
            # `pph_router_lag_*` gauges, hub.api.role_metrics): it would show every event.
            router_lag = RouterLagDetail.of(await container.router_lag())
    except Exception as error:
        checks.setdefault("database", f"unreachable: {type(error).__name__}")
    loops: dict[str, WorkerLoop] = getattr(request.app.state, "workers", {})
    workers: dict[str, WorkerHealth] = {}
    for name, loop in loops.items():
        if checks.get("database") == "ok":
            await loop.measure_lag()
        status = loop.status()
        checks[name] = _check(status)
        workers[name] = WorkerHealth(
            state=status.state,
            since=status.since,
            failures=status.failures,
            retries=status.retries,
            last_error=status.last_error,
            lag=status.lag,
        )
    if "schema" in checks and all(_ready(v) for v in checks.values()):
        degraded = any(v.startswith("retrying") for v in checks.values())
        return Readiness(
            status="degraded" if degraded else "ok",
            checks=checks,
            workers=workers,
            router_lag=router_lag,
        )
    unavailable = Readiness(
        status="unavailable", checks=checks, workers=workers, router_lag=router_lag
    )
    return JSONResponse(
        unavailable.model_dump(mode="json"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _schema_check(verdict: SchemaVerdict) -> str:
    if verdict.state == "current":
        return "ok"
    return f"{verdict.state}: {verdict.reason}"


def _log_change(request: Request, verdict: SchemaVerdict) -> None:
    """One log line when the schema's verdict changes (not one a probe)."""
    previous: SchemaVerdict | None = getattr(request.app.state, "schema_verdict", None)
    request.app.state.schema_verdict = verdict
    if previous == verdict:
        return
    if verdict.runnable:
        logger.info("schema %s: %s", verdict.state, verdict.reason)
    else:
        logger.warning("not ready: schema %s: %s", verdict.state, verdict.reason)


def _check(status: WorkerStatus) -> str:
    if status.state in ("running", "starting"):
        return "ok"
    if status.state == "retrying":
        return (
            f"retrying since {status.since.isoformat()} after {status.failures} failures: "
            f"{status.last_error}"
        )
    if status.state == "failed":
        return f"failed: {status.last_error}"
    return "stopped"


def _ready(check: str) -> bool:
    return check == "ok" or check.startswith(("retrying", "compatible"))
