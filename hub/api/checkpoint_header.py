"""Every feed response carries the latest signed audit checkpoint (`Pph-Audit-Checkpoint`,
`hub.services.audit_beacon`), the streaming one included: a pure ASGI middleware, so that the
header reaches responses the route returns itself (Server-Sent Events) too."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.domain.audit.held import CHECKPOINT_HEADER

__all__ = ["AuditCheckpointHeader"]

_HEADER = CHECKPOINT_HEADER.lower().encode("ascii")


class AuditCheckpointHeader:
    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...] = ("/v1/feed",)) -> None:
        self._app = app
        self._prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self._prefixes):
            await self._app(scope, receive, send)
            return
        container = getattr(scope["app"].state, "container", None)
        value = await container.audit_beacon.header_value() if container is not None else None
        if value is None:
            await self._app(scope, receive, send)
            return
        header = (_HEADER, value.encode("ascii"))

        async def send_with_checkpoint(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self._app(scope, receive, send_with_checkpoint)
