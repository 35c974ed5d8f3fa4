"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hub.api.deps import ContainerDep
from hub.api.models import Health
from hub.infra import db

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(container: ContainerDep) -> Health | JSONResponse:
    """The database answers and its schema is at the latest migration."""
    checks: dict[str, str] = {}
    try:
        await db.ping(container.engine)
        checks["database"] = "ok"
        up_to_date = await db.is_up_to_date(container.engine, container.settings)
        checks["schema"] = "ok" if up_to_date else "behind: run `hub db upgrade`"
    except Exception as error:
        checks.setdefault("database", f"unreachable: {type(error).__name__}")
    if all(v == "ok" for v in checks.values()) and len(checks) == 2:
        return Health(status="ok", checks=checks)
    return JSONResponse(Health(status="unavailable", checks=checks).model_dump(), status_code=503)
