"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.api.deps import ContainerDep
from hub.api.models import Health, WorkerHealth
from hub.api.problems import RETRY_AFTER_SECONDS
from hub.services.worker import WorkerLoop, WorkerStatus

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request, container: ContainerDep) -> Health | JSONResponse:
    """The database answers, its schema is at the latest migration, and no in-process worker
    has stopped; each worker's state and lag.

    503 (with `Retry-After`) when the database does not answer, the schema is behind, or a
    worker stopped for good. A worker that is retrying a transient fault leaves the hub ready,
    its status "degraded": what clients push is stored and acknowledged, and the worker catches
    up by itself once the fault clears. Taking every API process out of rotation for it would
    turn a delay into an outage."""
    checks: dict[str, str] = {}
    try:
        await container.ping_database()
        checks["database"] = "ok"
        up_to_date = await container.schema_up_to_date()
        checks["schema"] = "ok" if up_to_date else "behind: run `hub db upgrade`"
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
        return Health(status="degraded" if degraded else "ok", checks=checks, workers=workers)
    unavailable = Health(status="unavailable", checks=checks, workers=workers)
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
