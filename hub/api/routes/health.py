"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.api.deps import ContainerDep
from hub.api.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request, container: ContainerDep) -> Health | JSONResponse:
    """The database answers, its schema is at the latest migration, and every in-process
    worker is running."""
    checks: dict[str, str] = {}
    for name, task in getattr(request.app.state, "workers", {}).items():
        if not task.done():
            checks[name] = "ok"
        elif task.cancelled():
            checks[name] = "stopped"
        else:
            error = task.exception()
            checks[name] = f"failed: {type(error).__name__}" if error else "stopped"
    try:
        await container.ping_database()
        checks["database"] = "ok"
        up_to_date = await container.schema_up_to_date()
        checks["schema"] = "ok" if up_to_date else "behind: run `hub db upgrade`"
    except Exception as error:
        checks.setdefault("database", f"unreachable: {type(error).__name__}")
    if all(v == "ok" for v in checks.values()) and "schema" in checks:
        return Health(status="ok", checks=checks)
    return JSONResponse(Health(status="unavailable", checks=checks).model_dump(), status_code=503)
