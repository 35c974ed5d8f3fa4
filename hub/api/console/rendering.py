"""What every console page shares: its templates, the headers that protect each answer, and
finding the console and the signed-in session of a request."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

SESSION_COOKIE = "pph_console"


def console_of(request: Request) -> Console:
    console: Console | None = getattr(request.app.state, "console", None)
    if console is None:
        raise HTTPException(status_code=404, detail="the console is not configured")
    return console


def protect(response: Response, console: Console, *, scripts: bool = False) -> Response:
    """A strict Content-Security-Policy, no framing, no caching and no Referer on the answer.
    With `scripts`, the page may run the hub's own script files (never an inline script)."""
    # form-action names the provider: sign-out's POST is answered with a redirect there.
    script_src = "script-src 'self'; " if scripts else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; {script_src}style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {console.provider_origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(
    request: Request,
    console: Console,
    template: str,
    status_code: int = 200,
    *,
    scripts: bool = False,
    **context: object,
) -> Response:
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    return protect(response, console, scripts=scripts)


def session_of(request: Request, console: Console) -> ConsoleSession | None:
    return console.sessions.find(request.cookies.get(SESSION_COOKIE))
