"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.api.deps import ContainerDep
from hub.api.models import Health, WorkerHealth
from hub.api.openapi import problems
from hub.api.problems import RETRY_AFTER_SECONDS
from hub.api.router_lag import RouterLagDetail
from hub.services.worker import WorkerLoop, WorkerStatus

router = APIRouter(tags=["health"])


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
    """The database answers, its schema is at the latest migration, and no in-process worker
    has stopped; each worker's state and lag.

    503 (with `Retry-After`) when the database does not answer, the schema is behind, or a
    worker stopped for good. A worker that is retrying a transient fault leaves the hub ready,
    its status "degraded": what clients push is stored and acknowledged, and the worker catches
    up by itself once the fault clears. Taking every API process out of rotation for it would
    turn a delay into an outage.

    `router_lag` says how far the router's checkpoint is behind the store (events, and how long
    the oldest waiting one has waited), wherever the router runs: a router that falls behind
    shows here rather than queueing silently. It does not make the hub unready."""
    checks: dict[str, str] = {}
    router_lag: RouterLagDetail | None = None
    try:
        await container.ping_database()
        checks["database"] = "ok"
        up_to_date = await container.schema_up_to_date()
        checks["schema"] = "ok" if up_to_date else "behind: run `hub db upgrade`"
        if up_to_date:
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
        degraded = any(v != "ok" for v in checks.values())
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
    return check == "ok" or check.startswith("retrying")
