"""FastAPI dependencies, as `Annotated` aliases routes can declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hub.api.security import Caller, require_scopes
from hub.bootstrap import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
Publisher = Annotated[Caller, Depends(require_scopes("events:publish"))]
EventReader = Annotated[Caller, Depends(require_scopes("events:read"))]
#: An agency reading what was disclosed to it (its feed, its disclosures, acknowledgements).
FeedReader = Annotated[Caller, Depends(require_scopes("feed:read"))]
